"""Accuracy, macro-F1 and per-class precision/recall/F1 as an `evaluate` metric.

`evaluate.load("accuracy")` downloads its script from the Hub, which fails offline. evaluate also
loads a metric from a local folder holding a script of the same name, so the project ships this one
and loads it by path (pipeline.metrics.load_metric).
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

_DESCRIPTION = "Accuracy, macro-averaged F1, and precision, recall, F1 and support for each class."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): true label ids.
    labels (list of int, optional): the label ids to report; defaults to those seen in either list.
Returns:
    accuracy, macro_f1, macro_precision, macro_recall (floats) and per_class: lists aligned with `labels`.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ClassificationReport(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, labels=None):
        if labels is None:
            labels = sorted(set(predictions) | set(references))
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=labels, average=None, zero_division=0
        )
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            "macro_f1": float(f1.mean()),
            "macro_precision": float(precision.mean()),
            "macro_recall": float(recall.mean()),
            "per_class": {
                "labels": list(labels),
                "precision": precision.tolist(),
                "recall": recall.tolist(),
                "f1": f1.tolist(),
                "support": support.tolist(),
            },
        }
