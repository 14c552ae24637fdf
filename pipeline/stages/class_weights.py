"""What `train.class_weights: balanced` does to the training loss.

The loss is a mean over rows, so a label with three times the rows of another pulls three times as hard on
the weights they share. In the language-ID config the 37 languages that get wordfreq's drawn words have
3,700 training rows each and the 22 without have 700. Balanced weights give each label's rows the same
share of the loss, as scikit-learn's class_weight="balanced" does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from transformers.modeling_outputs import SequenceClassifierOutput


def balanced_weights(label_ids: np.ndarray, labels: list[str]) -> torch.Tensor:
    """rows / (labels x rows of the label), per label id: 1 everywhere when the labels are balanced.

    Raises ValueError for a label with no training row, whose weight would be infinite (prepare takes the
    label list from the train split, so this means the caller passed another split or label list).
    """
    counts = np.bincount(label_ids, minlength=len(labels))
    if (counts == 0).any():
        missing = [labels[i] for i in np.flatnonzero(counts == 0)]
        raise ValueError(f"train.class_weights=balanced: no training rows for label(s) {', '.join(missing)}")
    return torch.tensor(len(label_ids) / (len(labels) * counts), dtype=torch.float32)


def weighted_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, rows: torch.Tensor | int | None = None
) -> torch.Tensor:
    """Each row's loss times its label's weight, summed, over `rows` (default: the rows given).

    Dividing by rows, not by the batch's total weight as F.cross_entropy(weight=...) does, keeps a row's
    weight the same in every batch.
    """
    per_row = F.cross_entropy(logits, labels, weight=weights.to(logits.device), reduction="none")
    return per_row.sum() / (labels.numel() if rows is None else rows)


def trainer_loss(
    weights: torch.Tensor,
) -> Callable[[SequenceClassifierOutput, torch.Tensor, torch.Tensor | int | None], torch.Tensor]:
    """weighted_cross_entropy as the Trainer's compute_loss_func.

    The Trainer's num_items_in_batch counts the rows of the whole step, across processes and gradient
    accumulation, and the Trainer then scales the loss for the processes, so each process divides by it.
    """

    def loss(
        outputs: SequenceClassifierOutput, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        return weighted_cross_entropy(outputs.logits, labels, weights, num_items_in_batch)

    return loss
