"""A BERT classifier that averages the last hidden state over the real tokens, the way E5 was trained.

`BertForSequenceClassification` classifies from the pooler: a dense layer over [CLS] that E5 (and other
sentence encoders) never trained and do not ship, so fine-tuning starts from a random pooler. Mean pooling
starts from the sentence embedding the encoder was trained to produce, which is what makes a frozen
encoder with a linear head (train.strategy=head_only) work at all.

Importing this module registers model_type "bert_mean_pooling" with the Auto classes, so a saved model
loads with AutoModelForSequenceClassification like any other, and exports through torch.onnx (optimum
does not know the type) with the same input and output names as every other export.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import AutoConfig, AutoModelForSequenceClassification, BertConfig, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class MeanPoolingBertConfig(BertConfig):
    model_type = "bert_mean_pooling"


class BertMeanPoolingForSequenceClassification(BertPreTrainedModel):
    """encoder -> mean over attention_mask -> dropout -> linear head."""

    config_class = MeanPoolingBertConfig
    # The loss is a per-batch mean; without this the Trainer would see **kwargs and skip its own scaling.
    accepts_loss_kwargs = False

    def __init__(self, config: MeanPoolingBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def sentence_embedding(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """The mean of the last hidden state over real tokens: the input of the head (and of head_only training)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        **kwargs: Any,  # token_type_ids and the Trainer's extras: E5 uses token type 0 throughout
    ) -> SequenceClassifierOutput:
        logits = self.classifier(self.dropout(self.sentence_embedding(input_ids, attention_mask)))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def register() -> None:
    """Make model_type "bert_mean_pooling" known to the Auto classes; safe to call any number of times."""
    AutoConfig.register(MeanPoolingBertConfig.model_type, MeanPoolingBertConfig, exist_ok=True)
    AutoModelForSequenceClassification.register(
        MeanPoolingBertConfig, BertMeanPoolingForSequenceClassification, exist_ok=True
    )


register()


def from_encoder(path: str, **config_overrides: Any) -> BertMeanPoolingForSequenceClassification:
    """A mean-pooling classifier around a pretrained BERT-family encoder folder (or Hub id), with a fresh head."""
    encoder_config = AutoConfig.from_pretrained(path)
    if encoder_config.model_type not in ("bert", MeanPoolingBertConfig.model_type):
        raise ValueError(
            f"model.pooling=mean needs a BERT encoder; {path} is a {encoder_config.model_type!r} model. "
            "Use model.pooling=cls for other architectures."
        )
    fields = {k: v for k, v in encoder_config.to_dict().items() if k not in ("model_type", "architectures")}
    config = MeanPoolingBertConfig(**(fields | config_overrides))
    return BertMeanPoolingForSequenceClassification.from_pretrained(path, config=config)
