"""Scores per group (language), shared by evaluation and the export parity gate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.metrics import classification_scores

ALL = "all"


def groups_of(frame: pd.DataFrame) -> pd.Series:
    """The language of each row, or one group for all rows when the data has no language column."""
    if "language" in frame and frame["language"].notna().any():
        return frame["language"].fillna("unknown").astype(str)
    return pd.Series([ALL] * len(frame), index=frame.index)


def per_group(references: Sequence[int], predictions: Sequence[int], groups: pd.Series) -> dict[str, dict[str, float]]:
    refs, preds = np.asarray(references), np.asarray(predictions)
    scores = {}
    for name in sorted(set(groups)):
        mask = (groups == name).to_numpy()
        # Macro-F1 over the labels this language's rows carry: for topic data that is every topic, and for
        # language ID it is the language's own label, not a mean dragged down by each label it was confused with.
        result = classification_scores(preds[mask], refs[mask], labels=sorted(set(refs[mask].tolist())))
        scores[name] = {"n": int(mask.sum()), "accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}
    return scores
