"""The Hugging Face wrapper: one PreTrainedModel class whose encoder is chosen by config.kind.

Being a PreTrainedModel is what lets the pipeline's Trainer, save_pretrained/from_pretrained
(safetensors) and AutoModelForSequenceClassification treat these models like the BERT it already trains.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from pipeline.models.course.bigru import BiGRUEncoder
from pipeline.models.course.char_ngram import CharNgramEncoder
from pipeline.models.course.config import CourseConfig
from pipeline.models.course.ngram_mlp import NgramMLPEncoder
from pipeline.models.course.textcnn import TextCNNEncoder
from pipeline.models.course.transformer import TransformerEncoder

ENCODERS: dict[str, type[nn.Module]] = {
    "transformer": TransformerEncoder,
    "ngram_mlp": NgramMLPEncoder,
    "textcnn": TextCNNEncoder,
    "bigru": BiGRUEncoder,
    "char_ngram": CharNgramEncoder,
}


class CourseForSequenceClassification(PreTrainedModel):
    """encoder(input_ids, attention_mask) -> dropout -> linear head over the labels."""

    config_class = CourseConfig
    base_model_prefix = "encoder"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    _no_split_modules = ["TransformerBlock"]
    # The loss is a per-batch mean, so the Trainer must keep dividing it by gradient accumulation steps;
    # without this it would see **kwargs in forward() and assume the model normalises by num_items_in_batch.
    accepts_loss_kwargs = False

    def __init__(self, config: CourseConfig) -> None:
        super().__init__(config)
        self.encoder = ENCODERS[config.kind](config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(self.encoder.output_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """PyTorch's own default init, re-applied because post_init and from_pretrained (for missing
        weights) call this hook.

        Transformers' generic N(0, 0.02) would make token embeddings 50 times smaller than the
        unit-amplitude sinusoidal positions; PyTorch's N(0, 1) embeddings match them, and its linear,
        convolution and GRU inits scale with each layer's fan-in instead of one fixed width. Draws come
        from torch's global generator, so torch.manual_seed makes the init reproducible.
        """
        if isinstance(module, (nn.Linear, nn.Embedding, nn.Conv1d, nn.GRU, nn.LayerNorm)):
            module.reset_parameters()

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool = False,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        """Logits [batch, num_labels]; cross-entropy loss when labels are given; attention weights per
        layer [batch, heads, seq, seq] when output_attentions is set and the kind is transformer (None otherwise).

        **kwargs swallows what BERT-style tokenizers and the Trainer pass along (token_type_ids,
        return_dict, ...), none of which these models use. Without attention_mask, pad_token_id marks the
        padding, so padded batches still pool correctly.
        """
        if attention_mask is None:
            attention_mask = (input_ids != self.config.pad_token_id).long()
        if isinstance(self.encoder, TransformerEncoder):
            features, attentions = self.encoder(input_ids, attention_mask, output_attentions=output_attentions)
        else:
            features, attentions = self.encoder(input_ids, attention_mask), None
        logits = self.classifier(self.dropout(features))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, attentions=attentions)
