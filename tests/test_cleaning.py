"""Every data fault the cleaning step must catch, count or refuse."""

import pandas as pd
import pytest

from pipeline.config import DataConfig
from pipeline.data.cleaning import clean
from pipeline.data.sources import RawData
from pipeline.errors import DataError


def frame(rows):
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def many(label, n, prefix=None):
    return [(f"{prefix or label} sentence number {i}", label, None) for i in range(n)]


def test_strip_empty_and_duplicates_are_counted():
    rows = many("a", 20) + many("b", 20) + [("   ", "a", None), ("", "b", None), ("  a sentence number 1 ", "a", None)]
    rows.append(("A  SENTENCE number 2", "b", None))  # same text after folding, other label
    data = clean(RawData({"train": frame(rows)}, "test"), DataConfig())
    assert data.dropped["train: empty text"] == 2
    assert data.dropped["train: duplicate text"] == 2
    assert data.dropped["train: same text under different labels (first kept)"] == 1
    assert sum(len(s) for s in data.splits.values()) == 40
    assert all(not t.startswith(" ") for s in data.splits.values() for t in s["text"])


def test_stratified_split_keeps_every_label_in_every_split():
    rows = many("a", 60) + many("b", 30) + many("c", 10)
    data = clean(RawData({"train": frame(rows)}, "test"), DataConfig(validation_size=0.2, test_size=0.2, seed=1))
    for split in ("train", "validation", "test"):
        assert set(data.splits[split]["label"]) == {"a", "b", "c"}, split
    assert len(data.splits["test"]) == 20 and len(data.splits["validation"]) == 20
    assert data.labels == ["a", "b", "c"]


def test_too_few_rows_to_stratify_is_refused():
    with pytest.raises(DataError, match="label\\(s\\) rare have fewer than 3 rows"):
        clean(RawData({"train": frame(many("a", 20) + many("rare", 2))}, "test"), DataConfig())


def test_leakage_between_splits_is_removed_and_counted():
    train = frame(many("a", 10) + many("b", 10))
    test = frame([("a sentence number 3", "a", None), ("fresh b text", "b", None), ("Fresh  B text", "b", None)])
    validation = frame([("fresh b text", "b", None), ("new a text", "a", None)])
    data = clean(RawData({"train": train, "validation": validation, "test": test}, "test"), DataConfig())
    assert data.dropped["test: text also in an earlier split (leakage)"] == 1
    assert data.dropped["test: duplicate text"] == 1
    assert data.dropped["validation: text also in an earlier split (leakage)"] == 1
    assert data.splits["test"]["text"].tolist() == ["fresh b text"]
    assert data.splits["validation"]["text"].tolist() == ["new a text"]


def test_labels_train_lacks_are_refused_or_dropped():
    train = frame(many("a", 10) + many("b", 10))
    test = frame([("x text", "a", None), ("y text", "zz", None)])
    validation = frame([("v text", "b", None)])
    raw = RawData({"train": train, "validation": validation, "test": test}, "test")
    with pytest.raises(DataError, match="test has label\\(s\\) that train lacks: zz"):
        clean(raw, DataConfig())
    data = clean(raw, DataConfig(drop_unseen_labels=True))
    assert data.dropped["test: label not in train"] == 1
    assert data.splits["test"]["label"].tolist() == ["a"]


def test_excluded_labels_and_caps_are_counted():
    rows = many("a", 50) + many("b", 50) + many("lo", 10)
    cfg = DataConfig(exclude_labels=["lo"], max_train_per_label=5, max_eval_per_label=3)
    data = clean(RawData({"train": frame(rows)}, "test"), cfg)
    assert data.dropped["train: label excluded by data.exclude_labels"] == 10
    assert data.splits["train"]["label"].value_counts().to_dict() == {"a": 5, "b": 5}
    assert data.splits["test"]["label"].value_counts().max() == 3
    assert data.dropped["train: over the per-label cap (5)"] > 0


def test_single_word_languages_are_flagged():
    rows = [(f"w{i}", "lo", "lo") for i in range(20)] + [(f"a long enough sentence {i}", "en", "en") for i in range(20)]
    data = clean(RawData({"train": frame(rows)}, "test"), DataConfig())
    assert len(data.warnings) == 1 and data.warnings[0].startswith("lo:")


def test_nothing_left_is_an_error():
    with pytest.raises(DataError, match="no training rows left"):
        clean(RawData({"train": frame([("  ", "a", None)])}, "origin"), DataConfig())


def test_train_languages_keep_every_language_in_test_only():
    def rows(lang: str, split_label: str) -> list:
        return [(f"{lang} {split_label} sentence {i} {label}", label, lang) for label in "ab" for i in range(10)]

    raw = RawData(
        {split: frame(rows("eng_Latn", split) + rows("yor_Latn", split)) for split in ("train", "validation", "test")},
        "sib",
    )
    data = clean(raw, DataConfig(languages=["eng_Latn", "yor_Latn"], train_languages=["eng_Latn"]))
    assert set(data.splits["train"]["language"]) == {"eng_Latn"}
    assert set(data.splits["validation"]["language"]) == {"eng_Latn"}
    assert set(data.splits["test"]["language"]) == {"eng_Latn", "yor_Latn"}
    assert data.dropped["train: language not in data.train_languages (scored zero-shot on test)"] == 20


def test_train_languages_outside_languages_is_refused():
    with pytest.raises(ValueError, match="data.train_languages has fra_Latn, which data.languages lacks"):
        DataConfig(languages=["eng_Latn"], train_languages=["fra_Latn"])
