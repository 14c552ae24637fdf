"""Turn raw splits into clean, leak-free, stratified train/validation/test splits, counting every drop.

Every row removed is counted under a reason, because a user who loses 3% of a language to
deduplication should read that in the report rather than discover it in the scores.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
from sklearn.model_selection import train_test_split

from pipeline.config import DataConfig
from pipeline.data.length_buckets import SPANS, cut_span
from pipeline.data.sources import RawData
from pipeline.errors import DataError

SPLITS = ("train", "validation", "test")
SHORT_TEXT_CHARS = 10


@dataclass
class CleanData:
    splits: dict[str, pd.DataFrame]
    labels: list[str]
    dropped: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


def _normalized(text: pd.Series) -> pd.Series:
    """Leakage is judged on case- and whitespace-folded text: 'Hello  world' and 'hello world' are one sentence."""
    return text.str.casefold().str.split().str.join(" ")


def _strip_and_drop_empty(frame: pd.DataFrame, split: str, dropped: Counter) -> pd.DataFrame:
    frame = frame.copy()
    frame["text"] = frame["text"].fillna("").astype(str).str.strip()
    empty = frame["text"] == ""
    dropped[f"{split}: empty text"] += int(empty.sum())
    return frame[~empty]


def _dedupe(frame: pd.DataFrame, split: str, dropped: Counter) -> pd.DataFrame:
    key = _normalized(frame["text"])
    conflicting = frame.assign(_k=key).groupby("_k")["label"].nunique()
    dropped[f"{split}: same text under different labels (first kept)"] += int((conflicting > 1).sum())
    duplicate = key.duplicated()
    dropped[f"{split}: duplicate text"] += int(duplicate.sum())
    return frame[~duplicate]


def _stratified_split(frame: pd.DataFrame, size: float, seed: int, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    counts = frame["label"].value_counts()
    too_small = counts[counts < 3]
    if len(too_small):
        raise DataError(
            f"cannot split a {name} set stratified by label: label(s) {', '.join(map(str, too_small.index[:10]))} "
            f"have fewer than 3 rows. Add rows, provide the split as a file, or list them in data.exclude_labels."
        )
    rest, held = train_test_split(frame, test_size=size, stratify=frame["label"], random_state=seed)
    return rest, held


def _cap_per_label(frame: pd.DataFrame, cap: int | None, seed: int, split: str, dropped: Counter) -> pd.DataFrame:
    if cap is None:
        return frame
    capped = frame.sample(frac=1, random_state=seed).groupby("label").head(cap)
    dropped[f"{split}: over the per-label cap ({cap})"] += len(frame) - len(capped)
    return capped


def clean(raw: RawData, cfg: DataConfig) -> CleanData:
    dropped: Counter = Counter(raw.dropped)
    splits: dict[str, pd.DataFrame] = {}
    for split, frame in raw.splits.items():
        frame = _strip_and_drop_empty(frame, split, dropped)
        excluded = frame["label"].isin(cfg.exclude_labels)
        dropped[f"{split}: label excluded by data.exclude_labels"] += int(excluded.sum())
        splits[split] = _dedupe(frame[~excluded], split, dropped)
    if splits["train"].empty:
        raise DataError(f"{raw.origin}: no training rows left after cleaning")

    # Stratified hold-outs for the splits the source does not provide.
    train = splits["train"]
    if "test" not in splits:
        train, splits["test"] = _stratified_split(train, cfg.test_size, cfg.seed, "test")
    if "validation" not in splits:
        size = cfg.validation_size / (1 - cfg.test_size) if "test" not in raw.splits else cfg.validation_size
        train, splits["validation"] = _stratified_split(train, size, cfg.seed, "validation")
    splits["train"] = train
    if cfg.train_languages:
        for split in ("train", "validation"):
            frame = splits[split]
            if "language" not in frame:
                raise DataError(f"{raw.origin}: data.train_languages is set but the {split} rows have no language")
            other = ~frame["language"].isin(cfg.train_languages)
            dropped[f"{split}: language not in data.train_languages (scored zero-shot on test)"] += int(other.sum())
            splits[split] = frame[~other]
        if splits["train"].empty:
            raise DataError(f"{raw.origin}: no training rows in data.train_languages={cfg.train_languages}")

    # Leakage: a text may live in one split only; train wins, then test.
    seen = set(_normalized(splits["train"]["text"]))
    for split in ("test", "validation"):
        frame = splits[split]
        leaked = _normalized(frame["text"]).isin(seen)
        dropped[f"{split}: text also in an earlier split (leakage)"] += int(leaked.sum())
        splits[split] = frame[~leaked]
        seen |= set(_normalized(splits[split]["text"]))

    labels = sorted(map(str, splits["train"]["label"].unique()))
    for split in ("validation", "test"):
        frame = splits[split]
        unseen = ~frame["label"].isin(labels)
        if unseen.any():
            names = sorted(set(frame.loc[unseen, "label"]))
            if not cfg.drop_unseen_labels:
                raise DataError(
                    f"{split} has label(s) that train lacks: {', '.join(names[:10])} ({int(unseen.sum())} rows). "
                    "Add them to train, or set data.drop_unseen_labels=true to drop those rows."
                )
            dropped[f"{split}: label not in train"] += int(unseen.sum())
            splits[split] = frame[~unseen]

    splits["train"] = _cap_per_label(splits["train"], cfg.max_train_per_label, cfg.seed, "train", dropped)
    if raw.extra_train is not None:
        splits["train"] = _with_extra(splits, raw.extra_train, labels, dropped)
    if cfg.short_spans:
        splits["train"] = _with_short_spans(splits, cfg.short_spans, cfg.seed, dropped)
    for split in ("validation", "test"):
        splits[split] = _cap_per_label(splits[split], cfg.max_eval_per_label, cfg.seed, split, dropped)

    ordered = {s: splits[s].sample(frac=1, random_state=cfg.seed).reset_index(drop=True) for s in SPLITS}
    return CleanData(ordered, labels, Counter({k: v for k, v in dropped.items() if v}), _short_text_warnings(ordered))


def _with_extra(splits: dict[str, pd.DataFrame], extra: pd.DataFrame, labels: list[str], dropped: Counter) -> pd.DataFrame:
    """Train plus the data.extra_train rows that may join it. They come after the per-label cap, so
    max_train_per_label bounds the source's own rows and these add to them; they never reach validation or
    test, and a text that is there (or already in train) is dropped, so the scores stay comparable."""
    split = "extra train"
    extra = _strip_and_drop_empty(extra, split, dropped)
    held_out = set(_normalized(splits["validation"]["text"])) | set(_normalized(splits["test"]["text"]))
    leaked = _normalized(extra["text"]).isin(held_out)
    dropped[f"{split}: text also in validation or test (leakage)"] += int(leaked.sum())
    extra = extra[~leaked]
    in_train = _normalized(extra["text"]).isin(set(_normalized(splits["train"]["text"])))
    dropped[f"{split}: text already in train"] += int(in_train.sum())
    extra = _dedupe(extra[~in_train], split, dropped)
    unknown = ~extra["label"].isin(labels)
    dropped[f"{split}: label not in train"] += int(unknown.sum())
    return pd.concat([splits["train"], extra[~unknown]], ignore_index=True)


def _with_short_spans(splits: dict[str, pd.DataFrame], per_row: int, seed: int, dropped: Counter) -> pd.DataFrame:
    """Train plus `per_row` short spans of each of its rows (1 word, 2 words, 3-5 words in turn), labelled as the
    row. A span whose text is in validation or test is dropped and counted; repeats stay, since a word that
    many sentences share is a word users send often."""
    rng = random.Random(seed)
    train = splits["train"]
    buckets = list(SPANS)
    spans = train.loc[train.index.repeat(per_row)].copy()
    spans["text"] = [cut_span(text, buckets[i % len(buckets)], rng) for i, text in enumerate(spans["text"])]
    held_out = set(_normalized(splits["validation"]["text"])) | set(_normalized(splits["test"]["text"]))
    leaked = _normalized(spans["text"]).isin(held_out)
    dropped["short spans: text also in validation or test (leakage)"] += int(leaked.sum())
    return pd.concat([train, spans[~leaked]], ignore_index=True)


def _short_text_warnings(splits: dict[str, pd.DataFrame]) -> list[str]:
    """Flag groups whose texts are mostly single words: their scores say little about sentences."""
    frame = pd.concat(splits.values())
    group = frame["language"].fillna(frame["label"])
    median = frame["text"].str.len().groupby(group).median()
    return [
        f"{name}: median text is {m:.0f} characters; scores for it measure words, not sentences"
        for name, m in median.items()
        if m < SHORT_TEXT_CHARS
    ]
