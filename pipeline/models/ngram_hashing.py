"""Hashed n-grams of token ids, computed inside the model, and the masked mean of their embeddings.

Shared by ngram_mlp (n-grams of subword ids) and char_ngram (n-grams of character ids). Hashing with int64
multiply, add and remainder only means the exported ONNX graph holds the feature extraction: it takes the
same input_ids as every other kind, and serving has nothing to reimplement.

With a power-of-two bucket count the remainder is a bitwise AND with buckets - 1: the same rows for the
non-negative values hashed here, and in the exported graph onnxruntime's int64 Mod (a division per element)
took about a tenth of the model's time at 2**18 buckets (`make profile`).
"""

from __future__ import annotations

import torch
from torch import Tensor

# Multiplier of the polynomial rolling hash. Prime, so consecutive ids spread over the buckets; small enough
# that bucket * multiplier + id stays far below 2**63 for any bucket count a model could afford.
HASH_MULTIPLIER = 1_000_003


def ngram_rows(
    input_ids: Tensor, attention_mask: Tensor, orders: tuple[int, ...], buckets: int, token_rows: int
) -> tuple[Tensor, Tensor]:
    """Embedding rows [batch, len(orders) * seq] of the n-grams starting at each position, and which are real.

    Order-1 n-grams are the tokens themselves and use rows 0..token_rows-1 (pass the vocabulary size when
    1 is in orders); longer ones hash into the `buckets` rows after those. The hash of (t1, ..., tn) is
    h = n, then h = (h * HASH_MULTIPLIER + t) % buckets for each t: the order seeds it, or the trigram
    (0, a, b) would always land in the bigram (a, b)'s row.

    An n-gram is real when all its tokens are: one that runs into padding (or past the end) is dropped,
    so appending padding changes nothing.
    """
    length = input_ids.shape[1]
    # room for n-grams starting near the end to read past it (cat rather than F.pad, whose export
    # reverses the pad list with a Slice the exporter cannot constant-fold)
    tail = input_ids.new_zeros(input_ids.shape[0], max(orders) - 1)
    ids = torch.cat((input_ids, tail), dim=1)
    real = torch.cat((attention_mask.bool(), tail.bool()), dim=1)
    rows, valid = [], []
    power_of_two = buckets & (buckets - 1) == 0
    for order in orders:
        if order == 1:
            rows.append(input_ids)
            valid.append(attention_mask.bool())
            continue
        hashed = torch.full_like(input_ids, order)
        all_real = torch.ones_like(input_ids, dtype=torch.bool)
        for offset in range(order):
            hashed = hashed * HASH_MULTIPLIER + ids[:, offset : offset + length]
            hashed = hashed & (buckets - 1) if power_of_two else hashed % buckets
            all_real = all_real & real[:, offset : offset + length]
        rows.append(token_rows + hashed)
        valid.append(all_real)
    return torch.cat(rows, dim=1), torch.cat(valid, dim=1)


def masked_mean(vectors: Tensor, valid: Tensor) -> Tensor:
    """Mean over dim 1 of vectors [batch, n, dim] where valid [batch, n] is True; zeros for a row with none.

    The masked sum is one batched matrix product, [batch, 1, n] @ [batch, n, dim]: multiplying by the mask
    and then summing wrote a second [batch, n, dim] tensor first, and in the exported char_ngram those two
    steps took half of onnxruntime's time (its profiler, 32 SIB-200 sentences per call).
    """
    weights = valid.to(vectors.dtype)
    total = torch.matmul(weights.unsqueeze(1), vectors).squeeze(1)
    return total / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
