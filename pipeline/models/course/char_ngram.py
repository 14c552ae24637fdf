"""The fastText language-ID recipe (Joulin et al. 2017) over characters: the mean embedding of a text's
hashed character n-grams, read by a linear layer (or one GELU layer first).

The character tokenizer (pipeline/data/tokenization.py, tokenizer.kind=char) keeps spaces as tokens and
brackets each text with [CLS] and [SEP], so n-grams that hold a space or a bracket mark the start and
end of words and of the text, as fastText's < and > mark words.
"""

from __future__ import annotations

from torch import Tensor, nn

from pipeline.models.course.config import CourseConfig
from pipeline.models.course.ngram_hashing import masked_mean, ngram_rows


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
        if config.ngram_head == "mlp":
            self.head: nn.Module = nn.Sequential(nn.Linear(config.hidden_size, config.intermediate_size), nn.GELU())
            self.output_size = config.intermediate_size
        else:
            self.head = nn.Identity()
            self.output_size = config.hidden_size

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """[batch, output_size]: the mean over the text's real n-grams, padding excluded, through the head."""
        rows, valid = ngram_rows(input_ids, attention_mask, self.orders, self.buckets, self.token_rows)
        return self.head(masked_mean(self.embeddings(rows), valid))
