"""Batch inference with the PyTorch model, the reference that evaluation reports and export must match."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase


def torch_outputs(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    batch_size: int,
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    width: int,
) -> np.ndarray:
    """`forward(batch)` rows in input order, from length-sorted batches padded to their own longest text."""
    model.eval()
    out = np.zeros((len(texts), width), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in index], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            out[index] = forward(batch).float().numpy()
    return out


def torch_logits(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int, batch_size: int
) -> np.ndarray:
    return torch_outputs(
        model, tokenizer, texts, max_length, batch_size, lambda batch: model(**batch).logits, model.config.num_labels
    )
