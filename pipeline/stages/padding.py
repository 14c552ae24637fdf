"""Training batches padded in numpy: the same tensors as transformers' DataCollatorWithPadding, in less time.

DataCollatorWithPadding pads through tokenizer.pad, which builds nested Python lists and turns them into a
tensor number by number. For the char n-gram default, with a token per character, that was a third of the
training time in a py-spy profile (docs/experiments/short-texts.md). Here each row is copied into one array
made for the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase


class PaddingCollator:
    """Pads input_ids, attention_mask and token_type_ids to the longest row of the batch, on the tokenizer's
    padding side and with its padding values, and stacks the labels. A batch with any other column, or a
    tokenizer without a padding token, goes to DataCollatorWithPadding itself."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.fallback = DataCollatorWithPadding(tokenizer)
        self.pad_values = {"input_ids": tokenizer.pad_token_id, "attention_mask": 0,
                           "token_type_ids": tokenizer.pad_token_type_id}
        self.left = tokenizer.padding_side == "left"

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        keys = set(features[0])
        if not keys <= {*self.pad_values, "labels"} or "input_ids" not in keys or self.pad_values["input_ids"] is None:
            return dict(self.fallback(list(features)))
        lengths = [len(f["input_ids"]) for f in features]
        width = max(lengths)
        batch: dict[str, torch.Tensor] = {}
        for key in keys - {"labels"}:
            array = np.full((len(features), width), self.pad_values[key], dtype=np.int64)
            for row, (feature, length) in enumerate(zip(features, lengths, strict=True)):
                if self.left:
                    array[row, width - length :] = feature[key]
                else:
                    array[row, :length] = feature[key]
            batch[key] = torch.from_numpy(array)
        if "labels" in keys:
            batch["labels"] = torch.tensor([f["labels"] for f in features])
        return batch
