"""Readers of what the prepare stage wrote in data/processed/<run>/: the splits and the label list.

Every later stage, the tools and the notebooks read prepared data through these, so a missing file gets the
same message everywhere: which file, and the command that makes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.errors import MissingOutputError


def read_split(data_dir: Path, split: str) -> pd.DataFrame:
    """One split (train, validation or test) with its text, label and language columns as strings."""
    path = data_dir / f"{split}.jsonl"
    if not path.is_file():
        raise MissingOutputError(f"{path} is missing: run `make prepare` (or `pipeline prepare`) first")
    return pd.read_json(path, lines=True, dtype={"text": str, "label": str, "language": str})


def read_labels(data_dir: Path) -> list[str]:
    """The labels in id order: labels.json is the single source of id2label for every later stage."""
    path = data_dir / "labels.json"
    if not path.is_file():
        raise MissingOutputError(f"{path} is missing: run `make prepare` (or `pipeline prepare`) first")
    return json.loads(path.read_text(encoding="utf-8"))["labels"]
