"""The fastText language-ID recipe (Joulin et al. 2017) over characters: the mean embedding of a text's
hashed character n-grams, read by a linear layer (or one GELU layer first).

With ngram_layers > 0 it becomes a transformer over character n-grams: the n-grams' embeddings are
averaged over windows of ngram_window characters (strided pooling, as Charformer and the Funnel-Transformer
shorten their sequences), the windows get positions and go through ngram_layers pre-LN transformer blocks,
and the mean over the windows is what the head reads. Windows keep attention short: a 130-character
sentence is 17 windows of 8 instead of 130 positions. Measured for language ID (README, "A transformer over
the same n-grams"), one block still halved serving speed and did not beat the plain mean's accuracy.

The character tokenizer (pipeline/data/tokenization.py, tokenizer.kind=char) keeps spaces as tokens and
brackets each text with [CLS] and [SEP], so n-grams that hold a space or a bracket mark the start and
end of words and of the text, as fastText's < and > mark words.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pipeline.models.course.config import CourseConfig
from pipeline.models.course.ngram_hashing import masked_mean, ngram_rows
from pipeline.models.course.positional import positional_encoding
from pipeline.models.course.transformer import TransformerBlock


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

    def __init__(self, config: CourseConfig) -> None:
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
