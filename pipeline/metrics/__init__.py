"""Metrics through the `evaluate` library, loaded from scripts shipped in this package (works offline)."""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np

METRIC_DIR = Path(__file__).parent / "classification_report"


def load_metric() -> evaluate.EvaluationModule:
    return evaluate.load(str(METRIC_DIR))


def classification_scores(
    predictions: np.ndarray | list[int], references: np.ndarray | list[int], labels: list[int] | None = None
) -> dict:
    """Scores over `labels`, or over the labels present in either list, as scikit-learn does by default.

    By default a class that is predicted but absent from the references still counts (F1 0), so a
    model that sprays a wrong label is not excused by the macro average.
    """
    return load_metric().compute(
        predictions=list(map(int, predictions)), references=list(map(int, references)), labels=labels
    )
