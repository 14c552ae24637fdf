"""Optional extra training sentences for eld's language ID, from corpora that ../shared/data holds.

SIB-200 (Flores-200 sentences, one folder per language) and Tatoeba (short everyday sentences, the LASER
test pairs) are read for eld's language codes through pipeline/data/language_codes.py and labelled by them.
Nothing here is ever required: a config names the folders in data.extra_train, and a missing folder is an
error that says the data is optional. Only SIB-200's train.tsv is read, never dev or test: the language-ID
benchmark (`make langid-bench`) scores SIB-200's test sentences, and a model trained on them would be graded
on what it memorised. Cleaning (cleaning.py) decides which of these rows reach the training split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.config import ExtraTrainConfig
from pipeline.data.language_codes import SIB_FOLDERS, TATOEBA_CODES
from pipeline.errors import DataError
from pipeline.runtime.tables import read_table

COLUMNS = ["text", "label", "language"]
CODES = {"sib200": SIB_FOLDERS, "tatoeba": TATOEBA_CODES}


@dataclass
class ExtraRows:
    """The rows read (text, label, language; label = language = eld's code), and what was not read."""

    rows: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)  # language -> why it has no rows
    over_cap: int = 0  # rows left out by max_per_language


def file_for(source: str, root: Path, code: str) -> Path:
    """The one file read for a language: SIB-200's train split, or Tatoeba's non-English side."""
    if source == "sib200":
        return root / code / "train.tsv"
    return root / f"tatoeba.{code}-eng.{code}"


def read_extra(cfg: ExtraTrainConfig, languages: list[str], seed: int = 42) -> ExtraRows:
    """Rows of `cfg.source` for eld's `languages` (every language the source maps when empty), each language
    capped at cfg.max_per_language by a seeded sample. A language the source has no file for is skipped."""
    root = Path(cfg.path)
    if not root.is_dir():
        raise DataError(
            f"data.extra_train ({cfg.source}): folder not found: {root} (resolved to {root.resolve()}). This "
            "training data is optional (from ../shared/data): fix the path or remove the data.extra_train entry."
        )
    codes = CODES[cfg.source]
    frames, skipped, over_cap = [], {}, 0
    for lang in languages or sorted(codes):
        if lang not in codes:
            skipped[lang] = f"{cfg.source} has no file for it (see pipeline/data/language_codes.py)"
            continue
        path = file_for(cfg.source, root, codes[lang])
        if not path.is_file():
            skipped[lang] = f"no file {path}"
            continue
        texts = _texts(cfg.source, path)
        if cfg.max_per_language is not None and len(texts) > cfg.max_per_language:
            over_cap += len(texts) - cfg.max_per_language
            texts = texts.sample(n=cfg.max_per_language, random_state=seed)
        frames.append(pd.DataFrame({"text": texts.to_numpy(), "label": lang, "language": lang}))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return ExtraRows(rows, skipped, over_cap)


def _texts(source: str, path: Path) -> pd.Series:
    if source == "sib200":
        frame = read_table(path)
        if "text" not in frame.columns:
            raise DataError(f"{path}: no text column; it has {', '.join(map(str, frame.columns))}")
        return frame["text"]
    return pd.Series(path.read_text(encoding="utf-8").splitlines(), dtype=str)
