"""The production language-ID model: the fastText language-ID recipe (Joulin et al. 2017) over characters, the
mean embedding of a text's hashed character n-grams read by a linear layer (or one GELU layer first).

With ngram_layers > 0 it becomes a transformer over character n-grams: the n-grams' embeddings are
averaged over windows of ngram_window characters (strided pooling, as Charformer and the Funnel-Transformer
shorten their sequences), the windows get positions and go through ngram_layers pre-LN transformer blocks
(the course's own, pipeline/models/course/transformer.py), and the mean over the windows is what the head
reads. Windows keep attention short: a 130-character sentence is 17 windows of 8 instead of 130 positions.
docs/experiments/char-ngram-variants.md has what it measured for language ID.

The character tokenizer (pipeline/data/tokenization.py, tokenizer.kind=char) keeps spaces as tokens and
brackets each text with [CLS] and [SEP], so n-grams that hold a space or a bracket mark the start and
end of words and of the text, as fastText's < and > mark words.

Its own model_type, char_ngram, is registered with the Auto classes on import. Models trained before it left the
course models were saved as model_type "course" with kind "char_ngram"; `legacy_config` reads those.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from transformers import AutoConfig, AutoModelForSequenceClassification

from pipeline.config import CharNgramModel
from pipeline.models.course.config import POSITIONALS
from pipeline.models.course.positional import positional_encoding
from pipeline.models.course.transformer import TransformerBlock
from pipeline.models.encoder_classifier import (
    EncoderClassifier,
    EncoderClassifierConfig,
    check_choice,
    check_dropout,
    check_heads,
    check_orders,
    check_sizes,
)
from pipeline.models.ngram_hashing import masked_mean, ngram_rows

NGRAM_HEADS = ("linear", "mlp")


class CharNgramConfig(EncoderClassifierConfig):
    """Sizes of the char n-gram model, as the config's model section (pipeline.config.CharNgramModel) gives them.

    num_heads, intermediate_size and positional are read only with ngram_layers > 0 (intermediate_size also
    by the mlp head).
    """

    model_type = "char_ngram"

    def __init__(
        self,
        vocab_size: int = 8000,
        pad_token_id: int = 0,
        hidden_size: int = 128,
        max_length: int = 256,
        dropout: float = 0.1,
        ngram_orders: Sequence[int] = (1, 2, 3, 4, 5),
        ngram_buckets: int = 2**18,
        ngram_head: str = "linear",
        ngram_layers: int = 0,
        ngram_window: int = 8,
        intermediate_size: int = 256,
        num_heads: int = 4,
        positional: str = "sinusoidal",
        **kwargs: Any,
    ) -> None:
        check_sizes(vocab_size=vocab_size, hidden_size=hidden_size, max_length=max_length, ngram_buckets=ngram_buckets,
                    ngram_window=ngram_window, intermediate_size=intermediate_size, num_heads=num_heads)
        check_orders(ngram_orders)
        check_choice("ngram_head", ngram_head, NGRAM_HEADS)
        check_choice("positional", positional, POSITIONALS)
        if ngram_layers < 0:
            raise ValueError(f"ngram_layers must be at least 0, got {ngram_layers}")
        if ngram_layers:
            check_heads(hidden_size, num_heads)
        check_dropout(dropout)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.ngram_orders = list(ngram_orders)
        self.ngram_buckets = ngram_buckets
        self.ngram_head = ngram_head
        self.ngram_layers = ngram_layers
        self.ngram_window = ngram_window
        self.intermediate_size = intermediate_size
        self.num_heads = num_heads
        self.positional = positional
        super().__init__(pad_token_id=pad_token_id, max_length=max_length, **kwargs)


class NgramTable(nn.Embedding):
    """An embedding table initialised as fastText initialises it: uniform in [-1/dim, 1/dim].

    Most hashed rows are hit by few training n-grams, and some by none but by n-grams met only at test
    time. Near-zero rows add almost nothing to the mean; rows left at PyTorch's N(0, 1) would add noise as
    large as what training learned.
    """

    def reset_parameters(self) -> None:
        bound = 1.0 / self.embedding_dim
        nn.init.uniform_(self.weight, -bound, bound)


class CharNgramEncoder(nn.Module):
    """Characters (order 1) get their own rows; n-grams of 2 or more characters share ngram_buckets rows.

    ngram_head=linear returns the mean embedding itself, so the model's label layer reads it directly
    (fastText); mlp adds one GELU layer of intermediate_size.
    """

    def __init__(self, config: CharNgramConfig) -> None:
        super().__init__()
        self.orders = tuple(config.ngram_orders)
        self.buckets = config.ngram_buckets
        self.token_rows = config.vocab_size if 1 in self.orders else 0
        self.embeddings = NgramTable(self.token_rows + self.buckets, config.hidden_size)
        self.window = config.ngram_window
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.ngram_layers))
        if self.blocks:
            windows = math.ceil(config.max_length / config.ngram_window)
            self.positional = positional_encoding(config.positional, config.hidden_size, windows)
            self.final_norm = nn.LayerNorm(config.hidden_size)
        if config.ngram_head == "mlp":
            self.head: nn.Module = nn.Sequential(nn.Linear(config.hidden_size, config.intermediate_size), nn.GELU())
            self.output_size = config.intermediate_size
        else:
            self.head = nn.Identity()
            self.output_size = config.hidden_size

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """[batch, output_size]: the mean over the text's real n-grams, padding excluded (with blocks: the mean
        over its windows after them), through the head."""
        rows, valid = ngram_rows(input_ids, attention_mask, self.orders, self.buckets, self.token_rows)
        vectors = self.embeddings(rows)
        if not self.blocks:
            return self.head(masked_mean(vectors, valid))
        batch, length = input_ids.shape
        x, real = window_means(vectors, valid, batch, length, self.window)
        x = self.positional(x, (length + self.window - 1) // self.window)
        for block in self.blocks:
            x, _ = block(x, ~real)
        return self.head(masked_mean(self.final_norm(x), real))


def window_means(vectors: Tensor, valid: Tensor, batch: int, length: int, window: int) -> tuple[Tensor, Tensor]:
    """Mean embedding [batch, windows, dim] of the real n-grams starting in each window of `window`
    positions, and which windows hold any [batch, windows].

    vectors [batch, orders * seq, dim] and valid [batch, orders * seq] are ngram_rows' layout: order by
    order, each `length` positions long. Zeros pad it to whole windows.

    batch and length must be the input's own shape: the ONNX tracer follows arithmetic on an input's shape
    but records an intermediate tensor's size as the constant it was while tracing, and the export would
    then fit only the traced batch and read only the traced length's windows.
    """
    weights = valid.to(vectors.dtype).unflatten(1, (-1, length))  # [batch, orders, seq]
    per_position = (vectors.unflatten(1, (-1, length)) * weights.unsqueeze(-1)).sum(dim=1)  # [batch, seq, dim]
    counts = weights.sum(dim=1)  # [batch, seq]
    covered = (length + window - 1) // window * window
    per_position = torch.cat((per_position, per_position.new_zeros(batch, window - 1, vectors.shape[2])), 1)
    counts = torch.cat((counts, counts.new_zeros(batch, window - 1)), 1)
    sums = per_position[:, :covered].unflatten(1, (-1, window)).sum(dim=2)
    totals = counts[:, :covered].unflatten(1, (-1, window)).sum(dim=2)
    return sums / totals.clamp(min=1.0).unsqueeze(-1), totals > 0


class CharNgramForSequenceClassification(EncoderClassifier):
    """The char n-gram encoder, dropout and the label layer."""

    config_class = CharNgramConfig
    _no_split_modules = ["TransformerBlock"]

    def __init__(self, config: CharNgramConfig) -> None:
        super().__init__(config, CharNgramEncoder(config))


def build_char_ngram(
    model: CharNgramModel, vocab_size: int, pad_token_id: int, id2label: dict[int, str], label2id: dict[str, int]
) -> CharNgramForSequenceClassification:
    """A freshly initialised model from its config section (seed torch first for a reproducible init)."""
    sizes = model.model_dump(exclude={"kind", "tokenizer", "text_prefix"})
    config = CharNgramConfig(
        **sizes, vocab_size=vocab_size, pad_token_id=pad_token_id, num_labels=len(id2label), id2label=id2label,
        label2id=label2id,
    )
    return CharNgramForSequenceClassification(config)


def legacy_config(saved: dict[str, Any]) -> CharNgramConfig | None:
    """The CharNgramConfig of a model saved as the course kind char_ngram (before this model had its own
    model_type), else None. Its weights have the same names, so they load into CharNgramForSequenceClassification."""
    if saved.get("model_type") != "course" or saved.get("kind") != "char_ngram":
        return None
    keep = {k: v for k, v in saved.items() if k not in ("model_type", "kind", "architectures", "num_layers",
                                                        "cnn_kernel_sizes", "cnn_channels", "transformers_version")}
    return CharNgramConfig(**keep)


def register() -> None:
    """Make model_type "char_ngram" known to the Auto classes; safe to call any number of times."""
    AutoConfig.register(CharNgramConfig.model_type, CharNgramConfig, exist_ok=True)
    AutoModelForSequenceClassification.register(CharNgramConfig, CharNgramForSequenceClassification, exist_ok=True)


register()
