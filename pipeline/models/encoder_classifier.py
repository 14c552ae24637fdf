"""The Hugging Face wrapper shared by the models written here in plain PyTorch: an encoder, dropout, a label layer.

Being a PreTrainedModel is what lets the pipeline's Trainer, save_pretrained/from_pretrained (safetensors) and
AutoModelForSequenceClassification treat these models like the BERT it also trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class EncoderClassifierConfig(PretrainedConfig):
    """Base of the Hugging Face configs of the models written here (char n-gram, course): max_length is the
    tokenizer's truncation length, and the checks their sizes share are the functions below."""

    def __init__(self, pad_token_id: int, max_length: int, **kwargs: Any) -> None:
        # PretrainedConfig treats max_length as a (deprecated) generation setting and would reset it to 20.
        super().__init__(pad_token_id=pad_token_id, max_length=max_length, **kwargs)

    def _get_non_default_generation_parameters(self) -> dict[str, Any]:
        """None: these models never generate, and max_length here is the tokenizer's truncation length.

        Without this, every save (each Trainer checkpoint included) warns that max_length belongs in a
        GenerationConfig.
        """
        return {}


def check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


def check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def check_dropout(dropout: float) -> None:
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def check_heads(hidden_size: int, num_heads: int) -> None:
    if hidden_size % num_heads:
        raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")


def check_orders(ngram_orders: Sequence[int]) -> None:
    if not ngram_orders or min(ngram_orders) < 1 or len(set(ngram_orders)) != len(ngram_orders):
        raise ValueError(f"ngram_orders must be distinct positive integers, got {list(ngram_orders)}")


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
