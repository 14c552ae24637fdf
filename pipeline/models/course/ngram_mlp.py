"""fastText (Joulin et al. 2017) over token ids: an averaged bag of token and hashed n-gram embeddings, then an MLP."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.models.course.config import CourseConfig

# Multiplier of the polynomial rolling hash. Prime, so consecutive ids spread over the buckets; small enough
# that bucket * multiplier + id stays far below 2**63 for any bucket count a model could afford.
_HASH_MULTIPLIER = 1_000_003


class NgramMLPEncoder(nn.Module):
    """Order-1 n-grams are tokens and get their own rows; longer orders share ngram_buckets hashed rows.

    Hashing happens inside the model with int64 multiply/add/remainder only, so the exported ONNX graph
    takes the same input_ids as the other kinds and no feature extraction has to be reimplemented at
    serving time.
    """

    def __init__(self, config: CourseConfig) -> None:
        super().__init__()
        self.orders = tuple(config.ngram_orders)
        self.buckets = config.ngram_buckets
        self.token_rows = config.vocab_size if 1 in self.orders else 0
        self.embeddings = nn.Embedding(self.token_rows + self.buckets, config.hidden_size)
        self.hidden = nn.Sequential(nn.Linear(config.hidden_size, config.intermediate_size), nn.GELU())
        self.output_size = config.intermediate_size

    def ngram_rows(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Embedding rows [batch, len(orders) * seq] of the n-grams starting at each position, and which are real.

        An n-gram is real when all its tokens are: one that runs into padding (or past the end) is
        dropped, so appending padding changes nothing. The order seeds the hash: unseeded, the trigram
        (0, a, b) would always land in the bigram (a, b)'s row.
        """
        length = input_ids.shape[1]
        # room for n-grams starting near the end to read past it (cat rather than F.pad, whose export
        # reverses the pad list with a Slice the exporter cannot constant-fold)
        tail = input_ids.new_zeros(input_ids.shape[0], max(self.orders) - 1)
        ids = torch.cat((input_ids, tail), dim=1)
        real = torch.cat((attention_mask.bool(), tail.bool()), dim=1)
        rows, valid = [], []
        for order in self.orders:
            if order == 1:
                rows.append(input_ids)
                valid.append(attention_mask.bool())
                continue
            hashed = torch.full_like(input_ids, order)
            all_real = torch.ones_like(input_ids, dtype=torch.bool)
            for offset in range(order):
                hashed = (hashed * _HASH_MULTIPLIER + ids[:, offset : offset + length]) % self.buckets
                all_real = all_real & real[:, offset : offset + length]
            rows.append(self.token_rows + hashed)
            valid.append(all_real)
        return torch.cat(rows, dim=1), torch.cat(valid, dim=1)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Mean of the real n-grams' embeddings through one GELU layer: [batch, intermediate_size]."""
        rows, valid = self.ngram_rows(input_ids, attention_mask)
        weights = valid.unsqueeze(-1).to(self.embeddings.weight.dtype)
        bag = (self.embeddings(rows) * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return self.hidden(bag)
