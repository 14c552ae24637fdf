"""Hashed n-grams of token ids, computed inside the model, and the masked mean of their embeddings.

Shared by ngram_mlp (n-grams of subword ids) and char_ngram (n-grams of character ids). Hashing with integer
multiply, add and remainder only means the exported ONNX graph holds the feature extraction: it takes the
same input_ids as every other kind, and serving has nothing to reimplement.

With a power-of-two bucket count the remainder is a bitwise AND with buckets - 1: the same rows for the
non-negative values hashed here, and in the exported graph onnxruntime's int64 Mod (a division per element)
took about a tenth of the model's time at 2**18 buckets (`make profile`).

A power-of-two count also lets the hash run in int32: the products overflow and wrap modulo 2**32, which
2**k divides, so the AND keeps the same low bits as int64 arithmetic would, and the rows are the same. Half
the bytes per element, and int32 indices for the Gather that reads the table, take less of onnxruntime's time
per sentence (docs/benchmarks.md). Other bucket counts need the true remainder and stay in int64.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Multiplier of the polynomial rolling hash. Prime, so consecutive ids spread over the buckets; small enough
# that (2 * buckets + vocabulary) * multiplier stays far below 2**63 for any table a model could afford.
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
    power_of_two = buckets & (buckets - 1) == 0
    if power_of_two and token_rows + buckets <= 2**31:
        input_ids = input_ids.to(torch.int32)
    # room for n-grams starting near the end to read past it (cat rather than F.pad, whose export
    # reverses the pad list with a Slice the exporter cannot constant-fold)
    tail = input_ids.new_zeros(input_ids.shape[0], max(orders) - 1)
    ids = torch.cat((input_ids, tail), dim=1)
    real = torch.cat((attention_mask.bool(), tail.bool()), dim=1)
    reduce = (lambda h: h & (buckets - 1)) if power_of_two else (lambda h: h % buckets)
    rows, valid = {1: input_ids}, {1: attention_mask.bool()}
    # Order n's hash from order n-1's at the same start, which holds the same first n-1 tokens: expanding the
    # docstring's loop, h_n = n * M**n + sum of t_k * M**(n-1-k), so h_n = ((h_{n-1} + M**(n-1)) * M + t_{n-1}) mod
    # buckets, the same rows with 4 elementwise operators per order instead of 3 per token of each order: fewer
    # passes over the batch in the exported graph (docs/benchmarks.md). h_1 = M + t_0.
    hashed = ids[:, :length] + HASH_MULTIPLIER % buckets
    all_real = real[:, :length]
    for order in range(2, max(orders) + 1):
        shifted = ids[:, order - 1 : order - 1 + length]
        hashed = reduce((hashed + pow(HASH_MULTIPLIER, order - 1, buckets)) * HASH_MULTIPLIER + shifted)
        all_real = all_real & real[:, order - 1 : order - 1 + length]
        if order in orders:
            rows[order], valid[order] = token_rows + hashed, all_real
    return torch.cat([rows[n] for n in orders], dim=1), torch.cat([valid[n] for n in orders], dim=1)


def masked_mean(vectors: Tensor, valid: Tensor) -> Tensor:
    """Mean over dim 1 of vectors [batch, n, dim] where valid [batch, n] is True; zeros for a row with none.

    The masked sum is one batched matrix product, [batch, 1, n] @ [batch, n, dim]: multiplying by the mask
    and then summing wrote a second [batch, n, dim] tensor first, and in the exported char_ngram those two
    steps took half of onnxruntime's time (its profiler, 32 SIB-200 sentences per call).
    """
    weights = valid.to(vectors.dtype)
    total = torch.matmul(weights.unsqueeze(1), vectors).squeeze(1)
    return total / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
