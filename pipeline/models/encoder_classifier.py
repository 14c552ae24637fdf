"""The Hugging Face wrapper shared by the models written here in plain PyTorch: an encoder, dropout, a label layer.

Being a PreTrainedModel is what lets the pipeline's Trainer, save_pretrained/from_pretrained (safetensors) and
AutoModelForSequenceClassification treat these models like the BERT it also trains.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class EncoderClassifier(PreTrainedModel):
    """encoder(input_ids, attention_mask) -> dropout -> linear head over the labels.

    The encoder is any module with an `output_size` whose forward takes (input_ids, attention_mask) and returns
    [batch, output_size]; a subclass whose encoder also returns attention weights overrides `features`.
    """

    base_model_prefix = "encoder"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    # The loss is a per-batch mean, so the Trainer must keep dividing it by gradient accumulation steps;
    # without this it would see **kwargs in forward() and assume the model normalises by num_items_in_batch.
    accepts_loss_kwargs = False

    def __init__(self, config: PretrainedConfig, encoder: nn.Module) -> None:
        super().__init__(config)
        self.encoder = encoder
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(encoder.output_size, config.num_labels)
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

    def features(
        self, input_ids: Tensor, attention_mask: Tensor, output_attentions: bool
    ) -> tuple[Tensor, tuple[Tensor, ...] | None]:
        """What the label layer reads [batch, output_size], and attention weights where the encoder has them."""
        return self.encoder(input_ids, attention_mask), None

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool = False,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        """Logits [batch, num_labels]; cross-entropy loss when labels are given; attention weights per
        layer [batch, heads, seq, seq] when output_attentions is set and the encoder has attention (None otherwise).

        **kwargs swallows what BERT-style tokenizers and the Trainer pass along (token_type_ids,
        return_dict, ...), none of which these models use. Without attention_mask, pad_token_id marks the
        padding, so padded batches still pool correctly.
        """
        if attention_mask is None:
            attention_mask = (input_ids != self.config.pad_token_id).long()
        features, attentions = self.features(input_ids, attention_mask, output_attentions)
        logits = self.classifier(self.dropout(features))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, attentions=attentions)
