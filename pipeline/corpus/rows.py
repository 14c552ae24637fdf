"""What happens to one chunk of rows: its texts checked, classified, the answers added, kept or rejected.

Only texts cross to a worker process and only compact answers come back (Predicted); the rows with their
other columns stay with the process that writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from pipeline.corpus.formats import Chunk, Layout
from pipeline.errors import DataError
from pipeline.runtime.predictor import Predictor

# label, score, truncated, and the top k (None when one label was asked for)
Predicted = tuple[str, float, bool, list[dict[str, Any]] | None]


@dataclass
class Summary:
    """Counts of one run, or of one shard of it."""

    rows: int = 0  # classified
    kept: int = 0
    rejected: int = 0
    empty: int = 0  # empty texts left out (--on-empty skip)
    shards: int = 0  # shards classified now
    complete: int = 0  # shards skipped because their output was already complete

    def add(self, other: Summary) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def line(self, seconds: float, filters: bool) -> str:
        text = f"classified {self.rows} texts in {seconds:.1f} s ({self.rows / max(seconds, 1e-9):.0f} rows/s)"
        if filters:
            text += f"; kept {self.kept}, rejected {self.rejected}"
        if self.empty:
            text += f"; {self.empty} empty texts left out"
        if self.shards or self.complete:
            text += f"; {self.shards} shards classified, {self.complete} already complete"
        return text


@dataclass(frozen=True)
class Selection:
    """--keep LABELS and --min-score P: a row is kept when its label is one of LABELS (any label without --keep)
    and its score is at least P."""

    labels: frozenset[str] | None = None
    min_score: float = 0.0

    def accepts(self, label: str, score: float) -> bool:
        return (self.labels is None or label in self.labels) and score >= self.min_score


@dataclass
class Texts:
    """The rows of a chunk that will be classified, their texts and row numbers, and how many were empty."""

    rows: list[dict[str, Any]]
    texts: list[str]
    numbers: list[int]
    empty: int


def texts_of(chunk: Chunk, layout: Layout, skip_empty: bool, source: str) -> Texts:
    """Each row's text, or an error naming the row: the column missing, not text, empty (unless skipped), or the
    row already holding a column the run adds."""
    added = set(layout.added())
    out = Texts([], [], [], 0)
    for row, number in zip(chunk.rows, chunk.numbers, strict=True):
        text = row.get(layout.text)
        if text is None and layout.text not in row:
            raise DataError(f"{source}: row {number}: no column {layout.text!r}; it has {', '.join(row)}. Use --column.")
        if not added.isdisjoint(row):
            taken = ", ".join(sorted(added.intersection(row)))
            raise DataError(f"{source}: row {number}: already has the column(s) {taken} that the output adds; rename them or use --prefix")
        if text is not None and not isinstance(text, str):
            raise DataError(f"{source}: row {number}: column {layout.text!r} holds a {type(text).__name__}, not text")
        if not text or not text.strip():
            if not skip_empty:
                raise DataError(f"{source}: row {number}: the text is empty (--on-empty skip leaves such rows out)")
            out.empty += 1
            continue
        out.rows.append(row)
        out.texts.append(text)
        out.numbers.append(number)
    return out


def classify(predictor: Predictor, texts: Sequence[str], top_k: int, batch_size: int) -> list[Predicted]:
    return [
        (p.label, p.score, p.truncated, p.top_k if top_k > 1 else None)
        for p in predictor.predict(texts, top_k=top_k, batch_size=batch_size)
    ]


@dataclass
class Sorted:
    kept: list[dict[str, Any]]
    kept_numbers: list[int]
    rejected: list[dict[str, Any]]
    rejected_numbers: list[int]


def annotate(batch: Texts, predicted: list[Predicted], layout: Layout, selection: Selection) -> Sorted:
    """Add each answer to its row and sort the rows into kept and rejected."""
    out = Sorted([], [], [], [])
    ranked = layout.ranked
    for row, number, (label, score, truncated, top) in zip(batch.rows, batch.numbers, predicted, strict=True):
        row[layout.label] = label
        row[layout.score] = score
        if ranked:
            row[ranked] = top
        row[layout.truncated] = truncated
        if selection.accepts(label, score):
            out.kept.append(row)
            out.kept_numbers.append(number)
        else:
            out.rejected.append(row)
            out.rejected_numbers.append(number)
    return out
