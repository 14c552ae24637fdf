"""Metrics through the `evaluate` library, loaded from scripts shipped in this package (works offline)."""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

import evaluate
import numpy as np

METRIC_DIR = Path(__file__).parent / "classification_report"
_COMPUTING = threading.Lock()


@cache
def load_metric() -> evaluate.EvaluationModule:
    """The metric, loaded once per process and shared. An evaluate module holds state only from `add_batch` to
    `compute`; `compute(predictions=..., references=...)` fills and clears it in one call, so calls in turn are
    independent. Use it through `classification_scores`, which also keeps two threads out of that state."""
    return evaluate.load(str(METRIC_DIR))


def classification_scores(
    predictions: np.ndarray | list[int], references: np.ndarray | list[int], labels: list[int] | None = None
) -> dict:
    """Scores over `labels`, or over the labels present in either list, as scikit-learn does by default.

    By default a class that is predicted but absent from the references still counts (F1 0), so a
    model that sprays a wrong label is not excused by the macro average.
    """
    metric = load_metric()
    with _COMPUTING:
        return metric.compute(
            predictions=list(map(int, predictions)), references=list(map(int, references)), labels=labels
        )
