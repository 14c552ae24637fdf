"""Attention written out in torch primitives, so every number an attention heatmap shows is one we computed.

torch's fused kernels (F.scaled_dot_product_attention, nn.MultiheadAttention) are faster but do not hand
back per-head weights in every code path; the tests use them only as references.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    key_padding_mask: Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(d)) v over the last two dims; leading dims are batch (then heads, if any).

    q: [batch, ..., q_len, d], k: [batch, ..., k_len, d], v: [batch, ..., k_len, d_v].
    key_padding_mask: bool [batch, k_len], True marks a padded key (nn.MultiheadAttention's convention).

    Padded keys get the dtype's most negative value rather than -inf: a row whose keys are all padding
    (an all-padding sequence) then gets uniform weights instead of NaN, while in every other row exp()
    of it underflows to exactly 0, so padding carries no weight.

    Returns (output [batch, ..., q_len, d_v], weights [batch, ..., q_len, k_len]); the weights are taken
    before dropout because that is what a heatmap should show.
    """
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if key_padding_mask is not None:
        mask = key_padding_mask.bool()
        for _ in range(scores.dim() - 2):  # [batch, k_len] -> [batch, 1, ..., 1, k_len]
            mask = mask.unsqueeze(1)
        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    return torch.matmul(F.dropout(weights, dropout_p, training=dropout_p > 0), v), weights


class MultiHeadAttention(nn.Module):
    """Self-attention with num_heads heads of size embed_dim // num_heads.

    q, k and v come from one packed projection laid out like nn.MultiheadAttention.in_proj_weight
    (rows: q, then k, then v), so weights copy across either way and one matmul serves all three.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.in_proj = nn.Linear(embed_dim, 3 * embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x: [batch, seq, embed_dim] -> (output [batch, seq, embed_dim], weights [batch, heads, seq, seq])."""
        q, k, v = (
            part.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
            for part in self.in_proj(x).chunk(3, dim=-1)
        )
        heads, weights = scaled_dot_product_attention(
            q, k, v, key_padding_mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(heads.transpose(1, 2).flatten(2)), weights
