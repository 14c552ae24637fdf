"""train.strategy=head_only: encode every text once with the frozen encoder, then train only the linear head.

On 2 CPU cores a 117M-parameter encoder trains at about 10 samples/s, but encodes about 4x faster with no
gradients, and a linear head over cached sentence embeddings trains in seconds per epoch. The result is
the same model class with a trained head, so evaluation, export, the parity gate and serving treat it like
any fine-tuned model.

The head is trained on standardised features (zero mean, unit variance per dimension: a far better
conditioned problem) and the standardisation is then folded into the head's weights, so the saved model
takes the raw mean-pooled embedding exactly as the encoder produces it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase

from pipeline.config import TrainConfig
from pipeline.metrics import classification_scores
from pipeline.models.mean_pooling import BertMeanPoolingForSequenceClassification
from pipeline.models.torch_inference import torch_outputs
from pipeline.stages.class_weights import balanced_weights, weighted_cross_entropy

log = logging.getLogger(__name__)


def encode(
    model: BertMeanPoolingForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    batch_size: int,
) -> np.ndarray:
    """Mean-pooled sentence embeddings in input order: what the head reads."""
    return torch_outputs(
        model, tokenizer, texts, max_length, batch_size,
        lambda batch: model.sentence_embedding(batch["input_ids"], batch["attention_mask"]), model.config.hidden_size,
    )


def cached_features(
    cache_dir: Path, key: dict, compute: Callable[[], np.ndarray]
) -> tuple[np.ndarray, bool]:
    """Features stored under the hash of what they depend on (data, encoder, tokenizer, length); computed once."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = cache_dir / f"{digest}.npy"
    if path.is_file():
        try:
            return np.load(path), True
        except (OSError, ValueError):
            log.warning("feature cache %s is unreadable; encoding again", path)
    features = compute()
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, features)
    partial.replace(path)  # atomic: a killed run never leaves a half-written cache that looks complete
    return features, False


def train_head(
    model: BertMeanPoolingForSequenceClassification,
    train_x: np.ndarray,
    train_y: np.ndarray,
    eval_x: np.ndarray,
    eval_y: np.ndarray,
    cfg: TrainConfig,
    on_epoch: Callable[[int, dict[str, float]], None],
) -> tuple[int, int, dict[str, float], float]:
    """Train model.classifier on features; keep the epoch with the best validation macro-F1 (early stopping).

    Returns (epochs run, best epoch, best validation metrics, seconds).
    """
    torch.manual_seed(cfg.seed)
    mean = train_x.mean(0)
    std = train_x.std(0) + 1e-6
    xt = torch.from_numpy((train_x - mean) / std)
    xv = torch.from_numpy((eval_x - mean) / std)
    yt = torch.from_numpy(train_y).long()
    head = torch.nn.Linear(xt.shape[1], model.config.num_labels)
    dropout = model.dropout.p
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    weights = balanced_weights(train_y, labels) if cfg.class_weights == "balanced" else None
    epochs = max(1, int(round(cfg.epochs)))
    generator = torch.Generator().manual_seed(cfg.seed)
    best: tuple[float, int, dict[str, float], dict[str, torch.Tensor]] | None = None
    waited = 0
    started = time.perf_counter()
    epoch = 0
    for epoch in range(1, epochs + 1):
        head.train()
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for start in range(0, len(order), cfg.batch_size):
            index = order[start : start + cfg.batch_size]
            logits = head(F.dropout(xt[index], dropout, training=True))
            loss = (
                F.cross_entropy(logits, yt[index]) if weights is None else weighted_cross_entropy(logits, yt[index], weights)
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
        head.eval()
        with torch.no_grad():
            predicted = head(xv).argmax(-1).numpy()
        scores = classification_scores(predicted, eval_y)
        metrics = {"loss": total / len(xt), "eval_accuracy": scores["accuracy"], "eval_macro_f1": scores["macro_f1"]}
        on_epoch(epoch, metrics)
        if best is None or scores["macro_f1"] > best[0]:
            state = {k: v.detach().clone() for k, v in head.state_dict().items()}
            best = (scores["macro_f1"], epoch, {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}, state)
            waited = 0
        else:
            waited += 1
            if waited >= cfg.early_stopping_patience:
                break
    seconds = time.perf_counter() - started
    assert best is not None
    _, best_epoch, best_metrics, state = best
    # Fold the standardisation into the head: W (x - m) / s + b == (W / s) x + (b - W (m / s)).
    weight = state["weight"] / torch.from_numpy(std)
    bias = state["bias"] - weight @ torch.from_numpy(mean)
    with torch.no_grad():
        model.classifier.weight.copy_(weight)
        model.classifier.bias.copy_(bias)
    return epoch, best_epoch, best_metrics, seconds
