"""The course models' Hugging Face class: one EncoderClassifier whose encoder is chosen by config.kind."""

from __future__ import annotations

from torch import Tensor, nn

from pipeline.models.course.bigru import BiGRUEncoder
from pipeline.models.course.config import CourseConfig
from pipeline.models.course.ngram_mlp import NgramMLPEncoder
from pipeline.models.course.textcnn import TextCNNEncoder
from pipeline.models.course.transformer import TransformerEncoder
from pipeline.models.encoder_classifier import EncoderClassifier

ENCODERS: dict[str, type[nn.Module]] = {
    "transformer": TransformerEncoder,
    "ngram_mlp": NgramMLPEncoder,
    "textcnn": TextCNNEncoder,
    "bigru": BiGRUEncoder,
}


class CourseForSequenceClassification(EncoderClassifier):
    """encoder(input_ids, attention_mask) -> dropout -> linear head over the labels; the transformer's encoder
    also returns its attention weights, which `pipeline explain` draws."""

    config_class = CourseConfig
    _no_split_modules = ["TransformerBlock"]

    def __init__(self, config: CourseConfig) -> None:
        super().__init__(config, ENCODERS[config.kind](config))

    def features(
        self, input_ids: Tensor, attention_mask: Tensor, output_attentions: bool
    ) -> tuple[Tensor, tuple[Tensor, ...] | None]:
        if isinstance(self.encoder, TransformerEncoder):
            return self.encoder(input_ids, attention_mask, output_attentions=output_attentions)
        return super().features(input_ids, attention_mask, output_attentions)
