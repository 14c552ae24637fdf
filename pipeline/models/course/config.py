"""The one Hugging Face config behind every course model; `kind` picks the encoder.

One class (rather than one per kind) keeps a single model_type to register with the Auto classes, so
config.json alone tells from_pretrained which encoder to rebuild. Fields a kind does not use are still
saved; they cost a few bytes and keep every config.json the same shape for the comparison reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.config import COURSE_KINDS as KINDS
from pipeline.models.encoder_classifier import (
    EncoderClassifierConfig,
    check_choice,
    check_dropout,
    check_heads,
    check_orders,
    check_sizes,
)

POSITIONALS = ("sinusoidal", "learned", "none")


class CourseConfig(EncoderClassifierConfig):
    """Sizes of a course model.

    Which fields each kind reads:
      transformer: hidden_size, num_layers, num_heads, intermediate_size, dropout, max_length, positional
      ngram_mlp:   hidden_size (n-gram embedding), intermediate_size (MLP width), dropout, ngram_*
      textcnn:     hidden_size (token embedding), cnn_kernel_sizes, cnn_channels, dropout
      bigru:       hidden_size (embedding and each direction's state), num_layers, dropout

    The pipeline builds it from the config's model section (pipeline.config.TransformerModel and its siblings):
    the keys a kind's section has are the ones its encoder reads, and the rest keep these defaults.
    """

    model_type = "course"

    def __init__(
        self,
        kind: str = "transformer",
        vocab_size: int = 8000,
        pad_token_id: int = 0,
        hidden_size: int = 128,
        num_layers: int = 2,
        num_heads: int = 4,
        intermediate_size: int = 256,
        dropout: float = 0.1,
        max_length: int = 64,
        positional: str = "sinusoidal",
        ngram_buckets: int = 65536,
        ngram_orders: Sequence[int] = (1, 2, 3),
        cnn_kernel_sizes: Sequence[int] = (2, 3, 4),
        cnn_channels: int = 128,
        **kwargs: Any,
    ) -> None:
        check_choice("kind", kind, KINDS)
        check_choice("positional", positional, POSITIONALS)
        check_sizes(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            num_heads=num_heads,
            intermediate_size=intermediate_size,
            max_length=max_length,
            ngram_buckets=ngram_buckets,
            cnn_channels=cnn_channels,
        )
        if kind == "transformer":
            check_heads(hidden_size, num_heads)
        check_dropout(dropout)
        check_orders(ngram_orders)
        if not cnn_kernel_sizes or min(cnn_kernel_sizes) < 1:
            raise ValueError(f"cnn_kernel_sizes must be positive integers, got {list(cnn_kernel_sizes)}")
        self.kind = kind
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.dropout = dropout
        self.positional = positional
        self.ngram_buckets = ngram_buckets
        self.ngram_orders = list(ngram_orders)
        self.cnn_kernel_sizes = list(cnn_kernel_sizes)
        self.cnn_channels = cnn_channels
        super().__init__(pad_token_id=pad_token_id, max_length=max_length, **kwargs)
