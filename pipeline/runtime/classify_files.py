"""Batch inference from files or stdin with the exported model: the same Predictor the service uses."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tqdm import tqdm

from pipeline.errors import DataError
from pipeline.runtime.predictor import Predictor
from pipeline.runtime.tables import read_table


def read_texts(source: Path | None, column: str) -> list[str]:
    """Texts from a .txt (one per line), .csv/.tsv/.jsonl/.parquet column, or stdin (one per line)."""
    if source is None:
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if source.suffix.lower() in (".txt", ""):
        if not source.is_file():
            raise DataError(f"input file not found: {source}")
        return [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    frame = read_table(source)
    if column not in frame.columns:
        raise DataError(f"{source}: no column {column!r}; it has {', '.join(map(str, frame.columns))}. Use --column.")
    return frame[column].fillna("").astype(str).tolist()


def predictions(predictor: Predictor, texts: list[str], top_k: int, batch_size: int) -> Iterator[dict]:
    """Yield one row per text, in order; a progress bar appears when there is more than one batch."""
    with tqdm(total=len(texts), unit="text", disable=len(texts) <= batch_size, file=sys.stderr) as bar:
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            empty = [i for i, t in enumerate(chunk) if not t.strip()]
            if empty:
                raise DataError(f"input row {start + empty[0] + 1} is empty")
            for text, p in zip(chunk, predictor.predict(chunk, top_k=top_k, batch_size=batch_size), strict=True):
                yield {"text": text, **p.to_dict()}
            bar.update(len(chunk))


def write(rows: Iterator[dict], out: IO[str], fmt: str) -> int:
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.writer(out)
    writer.writerow(["text", "label", "score", "truncated", "top_k"])
    for row in rows:
        top = ";".join(f"{t['label']}:{t['score']:.4f}" for t in row["top_k"])
        writer.writerow([row["text"], row["label"], f"{row['score']:.6f}", row["truncated"], top])
        count += 1
    return count


def predict_file(
    export_dir: Path, source: Path | None, output: Path | None, column: str = "text", fmt: str = "jsonl",
    top_k: int = 1, batch_size: int = 32, quantized: bool | None = None, abstain_below: float | None = None,
    unseen_scripts_unknown: bool = True,
) -> int:
    predictor = Predictor(export_dir, quantized=quantized, abstain_below=abstain_below, unseen_scripts_unknown=unseen_scripts_unknown)
    predictor.check_top_k(top_k)
    texts = read_texts(source, column)
    rows = predictions(predictor, texts, top_k, batch_size)
    if output is None:
        return write(rows, sys.stdout, fmt)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        count = write(rows, out, fmt)
    partial.replace(output)  # an interrupted run never leaves a half-written output under the real name
    return count
