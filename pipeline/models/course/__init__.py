"""The "course" models: five classic text classifiers as Hugging Face models.

Importing this package registers them with AutoConfig and AutoModelForSequenceClassification, so a
saved course model loads with AutoModelForSequenceClassification.from_pretrained like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from pipeline.models.course.config import KINDS, CourseConfig
from pipeline.models.course.modeling import CourseForSequenceClassification

__all__ = ["KINDS", "CourseConfig", "CourseForSequenceClassification", "build_course_model", "register"]


def register() -> None:
    """Make model_type "course" known to the Auto classes; safe to call any number of times."""
    AutoConfig.register(CourseConfig.model_type, CourseConfig, exist_ok=True)
    AutoModelForSequenceClassification.register(CourseConfig, CourseForSequenceClassification, exist_ok=True)


register()


def build_course_model(
    kind: str,
    vocab_size: int,
    pad_token_id: int,
    num_labels: int,
    id2label: dict[int, str],
    label2id: dict[str, int],
    max_length: int,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    intermediate_size: int,
    dropout: float,
    positional: str = "sinusoidal",
    ngram_orders: Sequence[int] | None = None,
    ngram_buckets: int | None = None,
    ngram_head: str = "linear",
    ngram_layers: int = 0,
    ngram_window: int = 8,
) -> PreTrainedModel:
    """A freshly initialised course model of the given kind (seed torch first for a reproducible init).

    n-gram settings left as None take the kind's defaults; the CNN settings keep CourseConfig's defaults
    (build a CourseConfig directly to change them).
    """
    if len(id2label) != num_labels or len(label2id) != num_labels:
        raise ValueError(f"num_labels is {num_labels} but id2label has {len(id2label)} and label2id {len(label2id)}")
    config = CourseConfig(
        kind=kind,
        vocab_size=vocab_size,
        pad_token_id=pad_token_id,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        intermediate_size=intermediate_size,
        dropout=dropout,
        max_length=max_length,
        positional=positional,
        ngram_orders=ngram_orders,
        ngram_buckets=ngram_buckets,
        ngram_head=ngram_head,
        ngram_layers=ngram_layers,
        ngram_window=ngram_window,
        num_labels=num_labels,
        id2label=id2label,
        label2id=label2id,
    )
    return CourseForSequenceClassification(config)
