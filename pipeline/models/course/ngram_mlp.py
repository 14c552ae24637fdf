"""fastText (Joulin et al. 2017) over token ids: an averaged bag of token and hashed n-gram embeddings, then an MLP."""

from __future__ import annotations

from torch import Tensor, nn

from pipeline.models.course.config import CourseConfig
from pipeline.models.ngram_hashing import masked_mean, ngram_rows


class NgramMLPEncoder(nn.Module):
    """Order-1 n-grams are tokens and get their own rows; longer orders share ngram_buckets hashed rows.

    The hashing happens inside the model (see ngram_hashing), so the exported graph takes the same
    input_ids as the other kinds.
    """

    def __init__(self, config: CourseConfig) -> None:
        super().__init__()
        self.orders = tuple(config.ngram_orders)
        self.buckets = config.ngram_buckets
        self.token_rows = config.vocab_size if 1 in self.orders else 0
        self.embeddings = nn.Embedding(self.token_rows + self.buckets, config.hidden_size)
        self.hidden = nn.Sequential(nn.Linear(config.hidden_size, config.intermediate_size), nn.GELU())
        self.output_size = config.intermediate_size

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Mean of the real n-grams' embeddings through one GELU layer: [batch, intermediate_size]."""
        rows, valid = ngram_rows(input_ids, attention_mask, self.orders, self.buckets, self.token_rows)
        return self.hidden(masked_mean(self.embeddings(rows), valid))
