"""The "course" models: four classic text classifiers as Hugging Face models, teaching material for the notebooks.

Importing this package registers them with AutoConfig and AutoModelForSequenceClassification, so a
saved course model loads with AutoModelForSequenceClassification.from_pretrained like any other.
"""

from __future__ import annotations

from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from pipeline.config import BiGruModel, NgramMlpModel, TextCnnModel, TransformerModel
from pipeline.models.course.config import KINDS, CourseConfig
from pipeline.models.course.modeling import CourseForSequenceClassification

__all__ = ["KINDS", "CourseConfig", "CourseForSequenceClassification", "build_course_model", "register"]


def register() -> None:
    """Make model_type "course" known to the Auto classes; safe to call any number of times."""
    AutoConfig.register(CourseConfig.model_type, CourseConfig, exist_ok=True)
    AutoModelForSequenceClassification.register(CourseConfig, CourseForSequenceClassification, exist_ok=True)


register()


def build_course_model(
    model: TransformerModel | NgramMlpModel | TextCnnModel | BiGruModel,
    vocab_size: int,
    pad_token_id: int,
    id2label: dict[int, str],
    label2id: dict[str, int],
) -> PreTrainedModel:
    """A freshly initialised course model from its config section (seed torch first for a reproducible init).

    The section's keys are the sizes its kind reads; the others (the CNN's kernels and channels) keep
    CourseConfig's defaults (build a CourseConfig directly to change them).
    """
    sizes = model.model_dump(exclude={"tokenizer", "text_prefix"})
    return CourseForSequenceClassification(
        CourseConfig(
            **sizes,
            vocab_size=vocab_size,
            pad_token_id=pad_token_id,
            num_labels=len(id2label),
            id2label=id2label,
            label2id=label2id,
        )
    )
