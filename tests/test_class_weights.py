"""train.class_weights=balanced: the weights, the loss they weight, and the Trainer minimising that loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import Trainer, TrainingArguments

from pipeline.models.char_ngram import CharNgramConfig, CharNgramForSequenceClassification
from pipeline.models.onnx_export import right_padded_batch
from pipeline.stages.class_weights import balanced_weights, trainer_loss, weighted_cross_entropy

LABELS = ["da", "no", "ku"]


def test_every_label_gets_the_same_share_of_the_loss() -> None:
    label_ids = np.array([0] * 6 + [1] * 3 + [2] * 1)
    weights = balanced_weights(label_ids, LABELS)
    torch.testing.assert_close(weights, torch.tensor([10 / 18, 10 / 9, 10 / 3]))
    shares = [float(weights[i]) * int((label_ids == i).sum()) for i in range(len(LABELS))]
    assert shares == pytest.approx([10 / 3] * 3)  # each label's rows add up to the same weight
    assert float((weights[label_ids]).mean()) == pytest.approx(1.0)  # a row weighs 1 on average
    torch.testing.assert_close(balanced_weights(np.array([0, 1, 2, 2, 1, 0]), LABELS), torch.ones(3))


def test_a_label_without_training_rows_is_named() -> None:
    with pytest.raises(ValueError, match="no training rows for label\\(s\\) ku"):
        balanced_weights(np.array([0, 1, 1]), LABELS)


def test_the_weighted_loss_divides_by_rows_not_by_weight() -> None:
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 0, 1, 2, 2])
    torch.testing.assert_close(weighted_cross_entropy(logits, labels, torch.ones(3)), F.cross_entropy(logits, labels))
    weights = torch.tensor([0.5, 1.0, 4.0])
    per_row = F.cross_entropy(logits, labels, reduction="none")
    expected = (per_row * weights[labels]).sum()
    torch.testing.assert_close(weighted_cross_entropy(logits, labels, weights), expected / 5)
    torch.testing.assert_close(weighted_cross_entropy(logits, labels, weights, rows=10), expected / 10)


def test_the_trainer_computes_the_weighted_loss(tmp_path: Path) -> None:
    """The contract trainer_loss relies on: the Trainer pops the labels, runs the model without them and hands
    the outputs, the labels and num_items_in_batch to compute_loss_func."""
    torch.manual_seed(0)
    model = CharNgramForSequenceClassification(
        CharNgramConfig(vocab_size=40, hidden_size=8, ngram_buckets=64, num_labels=3,
                        id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)})
    ).eval()
    weights = torch.tensor([0.5, 1.0, 4.0])
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, compute_loss_func=trainer_loss(weights))
    input_ids, attention_mask = right_padded_batch(40, 0, [7, 5, 3, 2])
    labels = torch.tensor([0, 1, 2, 2])
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        loss = trainer.compute_loss(
            model, {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}, num_items_in_batch=8
        )
    torch.testing.assert_close(loss, weighted_cross_entropy(logits, labels, weights, rows=8))
    assert not torch.allclose(loss, F.cross_entropy(logits, labels) / 2)  # the weights changed it
