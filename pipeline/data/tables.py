"""Reading a table file by its suffix: the data stage's inputs, whole (`pipeline predict` streams its own: pipeline/corpus/formats.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from pipeline.errors import DataError


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix == ".tsv":
            return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
        if suffix in (".jsonl", ".json"):
            return pd.read_json(path, lines=suffix == ".jsonl", dtype=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (ValueError, pd.errors.ParserError, OSError) as err:
        raise DataError(f"{path}: could not be read as {suffix[1:]}: {err}") from err
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv, .jsonl or .parquet")
