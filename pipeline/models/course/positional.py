"""Token order for the transformer: attention alone is permutation-equivariant and cannot see it."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SinusoidalPositionalEncoding(nn.Module):
    """Vaswani et al. (2017): position p, channel pair i gets sin/cos(p / 10000^(2i/d)).

    Computed on the fly from the input's length instead of stored as a buffer: nothing goes into the
    checkpoint and no sequence length is too long.
    Unit amplitude, which is why token embeddings keep PyTorch's N(0, 1) init (see modeling.py).
    """

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size

    def forward(self, x: Tensor, length: int | None = None) -> Tensor:
        """x: [batch, seq, hidden] -> x plus the encoding of positions 0..seq-1.

        length, when given, is seq computed from the model's input shape. The ONNX tracer follows
        arithmetic on input shapes but freezes the shape of an intermediate tensor (char_ngram's windows)
        at its traced value, and the export would add those few positions to every input.
        """
        seq = x.shape[1] if length is None else length
        positions = torch.arange(seq, device=x.device, dtype=x.dtype).unsqueeze(1)
        channels = torch.arange(0, self.hidden_size, 2, device=x.device, dtype=x.dtype)
        angles = positions * torch.exp(channels * (-math.log(10000.0) / self.hidden_size))
        # interleave sin and cos (sin at even channels); the slice drops the spare cos of an odd width
        table = torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2)[:, : self.hidden_size]
        return x + table


class LearnedPositionalEncoding(nn.Module):
    """One trained vector per position (BERT's choice); inputs are limited to max_length tokens."""

    def __init__(self, max_length: int, hidden_size: int) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(max_length, hidden_size)

    def forward(self, x: Tensor, length: int | None = None) -> Tensor:
        """x: [batch, seq <= max_length, hidden] -> x plus the learned vectors of positions 0..seq-1
        (length: as for the sinusoidal encoding)."""
        return x + self.embeddings(torch.arange(x.shape[1] if length is None else length, device=x.device))


class NoPositionalEncoding(nn.Module):
    """No order information, to show what it buys; takes the same arguments as the encodings."""

    def forward(self, x: Tensor, length: int | None = None) -> Tensor:
        return x


def positional_encoding(kind: str, hidden_size: int, max_length: int) -> nn.Module:
    """The module for config.positional."""
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(hidden_size)
    if kind == "learned":
        return LearnedPositionalEncoding(max_length, hidden_size)
    if kind == "none":
        return NoPositionalEncoding()
    raise ValueError(f"positional must be sinusoidal, learned or none; got {kind!r}")
