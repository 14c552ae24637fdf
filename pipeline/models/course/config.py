"""The one Hugging Face config behind every course model; `kind` picks the encoder.

One class (rather than one per kind) keeps a single model_type to register with the Auto classes, so
config.json alone tells from_pretrained which encoder to rebuild. Fields a kind does not use are still
saved; they cost a few bytes and keep every config.json the same shape for the comparison reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transformers import PretrainedConfig

from pipeline.config import COURSE_KINDS as KINDS

POSITIONALS = ("sinusoidal", "learned", "none")


class CourseConfig(PretrainedConfig):
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
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        if positional not in POSITIONALS:
            raise ValueError(f"positional must be one of {', '.join(POSITIONALS)}; got {positional!r}")
        for name, value in (
            ("vocab_size", vocab_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("intermediate_size", intermediate_size),
            ("max_length", max_length),
            ("ngram_buckets", ngram_buckets),
            ("cnn_channels", cnn_channels),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if kind == "transformer" and hidden_size % num_heads:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not ngram_orders or min(ngram_orders) < 1 or len(set(ngram_orders)) != len(ngram_orders):
            raise ValueError(f"ngram_orders must be distinct positive integers, got {list(ngram_orders)}")
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
        # PretrainedConfig treats max_length as a (deprecated) generation setting and would reset it to 20.
        super().__init__(pad_token_id=pad_token_id, max_length=max_length, **kwargs)

    def _get_non_default_generation_parameters(self) -> dict[str, Any]:
        """None: these models never generate, and max_length here is the tokenizer's truncation length.

        Without this, every save (each Trainer checkpoint included) warns that max_length belongs in a
        GenerationConfig.
        """
        return {}
