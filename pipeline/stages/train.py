"""Stage 2: fine-tune (or train from scratch) with the Hugging Face Trainer, keeping the best epoch.

The Trainer's own MLflow integration is switched off (report_to="none"): it would open its own run and
log hundreds of TrainingArguments. A small callback logs the loss curve and validation metrics into the
pipeline's nested train run instead.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from transformers import (
    AutoTokenizer,
    EarlyStoppingCallback,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from pipeline.config import Config
from pipeline.data.prepared import read_labels, read_split
from pipeline.metrics import classification_scores
from pipeline.metrics.calibration import CALIBRATION_FILE, Calibration, calibrate
from pipeline.models.modeling import build_model, count_parameters, label_maps
from pipeline.runtime.char_encoder import CharEncoder
from pipeline.stages import class_weights, distributed, fingerprint, head_training, tracking
from pipeline.stages.padding import PaddingCollator

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model_dir: Path
    best_metrics: dict[str, float]
    train_seconds: float
    parameters: int


class MlflowLogCallback(TrainerCallback):
    """Send the Trainer's logs (loss, learning rate, validation scores) to one MLflow run, by step."""

    def __init__(self, run_id: str) -> None:
        self.client = mlflow.tracking.MlflowClient()
        self.run_id = run_id

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:  # noqa: ANN001, ANN003 - Trainer's signature
        if not state.is_world_process_zero or not logs:
            return
        now = int(time.time() * 1000)
        metrics = [
            mlflow.entities.Metric(key, float(value), now, state.global_step)
            for key, value in logs.items()
            if isinstance(value, (int, float))
        ]
        self.client.log_batch(self.run_id, metrics=metrics)


def encode(frame: pd.DataFrame, tokenizer: PreTrainedTokenizerBase, labels: list[str], max_length: int) -> Dataset:
    """input_ids, attention_mask and labels of every row, unpadded (the collator pads each batch)."""
    _, label2id = label_maps(labels)
    dataset = Dataset.from_dict({"text": frame["text"].tolist(), "labels": [label2id[x] for x in frame["label"]]})
    return dataset.map(_tokenize(tokenizer, max_length), batched=True, remove_columns=["text"])


def _tokenize(tokenizer: PreTrainedTokenizerBase, max_length: int) -> Callable[[dict[str, list]], dict[str, list]]:
    """The tokenizer as a batched map function. A character tokenizer is run by the runtime's numpy encoder,
    which gives its ids (tests/test_char_encoder.py) in a fraction of the time: the char n-gram default has
    four training rows per sentence with its short spans, and tokenizing them was most of the train stage's
    start (docs/experiments/short-texts.md). A batch holding a special token's spelling goes to the tokenizer,
    as in the Predictor."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str()) if tokenizer.is_fast else {}
    encoder = CharEncoder.of_spec(spec, tokenizer.pad_token_id, max_length) if tokenizer.pad_token_id is not None else None

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        texts = batch["text"]
        if encoder is None or encoder.any_special(texts):
            return tokenizer(texts, truncation=True, max_length=max_length)
        feed, _ = encoder(texts)
        lengths = feed["attention_mask"].sum(axis=1).tolist()
        ids = [row[:length] for row, length in zip(feed["input_ids"].tolist(), lengths, strict=True)]
        return {"input_ids": ids, "attention_mask": [[1] * length for length in lengths]}

    return tokenize


def _compute_metrics(eval_pred) -> dict[str, float]:  # noqa: ANN001 - transformers EvalPrediction
    scores = classification_scores(np.argmax(eval_pred.predictions, axis=-1), eval_pred.label_ids)
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}


def last_complete_checkpoint(checkpoints: Path) -> Path | None:
    """The newest checkpoint the Trainer finished writing; newer, partial ones are deleted.

    The Trainer writes a checkpoint in place and its trainer_state.json last, so a process killed while
    saving leaves a checkpoint-N folder without a readable state. transformers' get_last_checkpoint
    would pick it by number and the resume would fail on it; the previous checkpoint is complete.
    """
    found = sorted(
        (p for p in checkpoints.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
        reverse=True,
    )
    for checkpoint in found:
        try:
            json.loads((checkpoint / "trainer_state.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            log.warning("deleting %s: it was not finished (killed while saving?)", checkpoint)
            shutil.rmtree(checkpoint)
            continue
        return checkpoint
    return None


def _save_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, cfg: Config, calibration: Calibration) -> None:
    """Write the model, with its labels and calibration, into a staging folder and swap it in whole.

    Saving in place would leave a folder that looks finished when the process dies half-way (or mixes
    a new config with old weights when retraining); evaluate and export would take it as the model.
    """
    paths = cfg.paths
    staging = paths.artifacts / "model.staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    shutil.copy(paths.data / "labels.json", staging / "labels.json")
    (staging / CALIBRATION_FILE).write_text(json.dumps(calibration.to_dict(), indent=2))
    shutil.rmtree(paths.model, ignore_errors=True)
    staging.rename(paths.model)


@fingerprint.stamped("train")
def train(cfg: Config) -> TrainResult:
    """Train on prepare's output (the runner runs prepare first when it is stale; a direct call needs it there).
    Launched in several processes (torchrun, accelerate launch) it trains data-parallel; the runner refuses
    train.strategy=head_only there before anything starts."""
    processes = distributed.world_size()
    paths = cfg.paths
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    labels = read_labels(paths.data)
    tokenizer = AutoTokenizer.from_pretrained(paths.data / "tokenizer")
    data_fingerprint = json.loads((paths.data / "fingerprint.json").read_text())["fingerprint"]

    set_seed(cfg.train.seed)
    model = build_model(cfg.model, labels, tokenizer)
    if cfg.train.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
    if cfg.train.optimizer == "adagrad":  # the config allows it only for the kinds whose encoder has an n-gram table
        model.encoder.embeddings.sparse = True

    if not distributed.is_main():  # trains its share of each batch; the main process saves and logs
        model, best, details, _ = _fit_full(cfg, model, tokenizer, labels, data_fingerprint, None)
        return TrainResult(paths.model, best, details["train_seconds"], count_parameters(model))

    with tracking.stage_run(cfg, "train") as run:
        params = cfg.flat() | {
            "data_fingerprint": data_fingerprint,
            "parameters": count_parameters(model),
            "train.processes": processes,
            "train.effective_batch_size": cfg.train.batch_size * processes,
        }
        tracking.log_params_once(params, tracking.parent_run_id())
        tracking.log_params_once(params, run.info.run_id)
        fit = _fit_head if cfg.train.strategy == "head_only" else _fit_full
        model, best, details, validation_logits = fit(cfg, model, tokenizer, labels, data_fingerprint, run.info.run_id)
        _, label2id = label_maps(labels)
        truth = np.array([label2id[x] for x in read_split(paths.data, "validation")["label"]])
        calibration = calibrate(validation_logits, truth)
        _save_model(model, tokenizer, cfg, calibration)

        summary = {
            "strategy": cfg.train.strategy,
            "processes": processes,
            "validation": best,
            "calibration": calibration.to_dict(),
            **details,
            "parameters": count_parameters(model),
            "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "data_fingerprint": data_fingerprint,
        }
        paths.reports.mkdir(parents=True, exist_ok=True)
        (paths.reports / "train.json").write_text(json.dumps(summary, indent=2))
        mlflow.log_metrics({
            "best_validation_macro_f1": best["macro_f1"], "train_seconds": details["train_seconds"],
            "temperature": calibration.temperature, "validation_ece_before_calibration": calibration.validation_ece_before,
            "validation_ece_after_calibration": calibration.validation_ece_after,
        })
        mlflow.log_artifact(str(paths.reports / "train.json"), artifact_path="reports")
    log.info("trained %s in %.0fs: validation macro-F1 %.4f", paths.model, details["train_seconds"], best["macro_f1"])
    return TrainResult(paths.model, best, details["train_seconds"], summary["parameters"])


def _resume_point(cfg: Config) -> Path | None:
    """The checkpoint to resume from; without one, stale checkpoints of an earlier training are removed."""
    checkpoints = cfg.paths.checkpoints
    resume_from = last_complete_checkpoint(checkpoints) if cfg.train.resume and checkpoints.is_dir() else None
    if cfg.train.resume and resume_from is None:
        log.warning("train.resume=true but %s holds no checkpoint; starting from scratch", checkpoints)
    if resume_from is None and checkpoints.exists():
        shutil.rmtree(checkpoints)
    return resume_from


def _fit_full(
    cfg: Config, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, labels: list[str], data_fingerprint: str,
    run_id: str | None,
) -> tuple[PreTrainedModel, dict[str, float], dict, np.ndarray]:
    """The Hugging Face Trainer over every trainable weight, with per-epoch checkpoints, resume and early stopping.

    run_id is None in the processes other than the main one of a multi-process training: they log nothing.
    """
    paths = cfg.paths
    train_set = encode(read_split(paths.data, "train"), tokenizer, labels, cfg.model.max_length)
    eval_set = encode(read_split(paths.data, "validation"), tokenizer, labels, cfg.model.max_length)
    with distributed.main_first():  # the others then find the folder as the main process left it
        resume_from = _resume_point(cfg)

    args = TrainingArguments(
        output_dir=str(paths.checkpoints),
        num_train_epochs=cfg.train.epochs,
        per_device_train_batch_size=cfg.train.batch_size,
        per_device_eval_batch_size=cfg.evaluate.batch_size,
        learning_rate=cfg.train.learning_rate,
        weight_decay=cfg.train.weight_decay,
        **({"optim": "adagrad", "max_grad_norm": 0.0} if cfg.train.optimizer == "adagrad" else {}),
        warmup_ratio=cfg.train.warmup_ratio,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_steps=cfg.train.logging_steps,
        seed=cfg.train.seed,
        data_seed=cfg.train.seed,
        report_to="none",
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        disable_tqdm=False,
        use_cpu=distributed.cpu_only(),
    )
    loss_func = None
    if cfg.train.class_weights == "balanced":
        weights = class_weights.balanced_weights(np.asarray(train_set["labels"]), labels)
        log.info("class weights (balanced): %.3f to %.3f", weights.min(), weights.max())
        loss_func = class_weights.trainer_loss(weights)
    trainer = Trainer(
        model=model,
        args=args,
        compute_loss_func=loss_func,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
        data_collator=PaddingCollator(tokenizer),
        compute_metrics=_compute_metrics,
        callbacks=[EarlyStoppingCallback(cfg.train.early_stopping_patience)] + ([MlflowLogCallback(run_id)] if run_id else []),
    )
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - started
    # The best checkpoint is loaded at the end, so this scores the kept model; its logits calibrate it.
    validation = trainer.predict(eval_set, metric_key_prefix="eval")
    best = validation.metrics
    trainer.log(best)  # as trainer.evaluate() would: the final point in MLflow, and the epoch into `best`
    details = {
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "train_seconds": seconds,
        "train_samples_per_second": output.metrics.get("train_samples_per_second"),
        "epochs_run": trainer.state.epoch,
    }
    return trainer.model, {k.removeprefix("eval_"): v for k, v in best.items()}, details, validation.predictions


def _fit_head(
    cfg: Config, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, labels: list[str], data_fingerprint: str, run_id: str
) -> tuple[PreTrainedModel, dict[str, float], dict, np.ndarray]:
    """Encode train and validation once with the frozen encoder (cached), then train the linear head."""
    paths = cfg.paths
    _, label2id = label_maps(labels)
    model.requires_grad_(False)
    model.classifier.requires_grad_(True)
    client = mlflow.tracking.MlflowClient()
    splits = {}
    encode_seconds, encoded = 0.0, 0
    for split in ("train", "validation"):
        frame = read_split(paths.data, split)
        texts = frame["text"].tolist()
        key = {"data": data_fingerprint, "split": split, "encoder": cfg.model.name_or_path, "max_length": cfg.model.max_length,
               "prefix": cfg.model.text_prefix}
        started = time.perf_counter()
        features, hit = head_training.cached_features(
            paths.artifacts / "features", key,
            functools.partial(head_training.encode, model, tokenizer, texts, cfg.model.max_length, cfg.evaluate.batch_size),
        )
        if not hit:
            encode_seconds += time.perf_counter() - started
            encoded += len(texts)
        splits[split] = (features, np.array([label2id[x] for x in frame["label"]]))
    log.info("features: %d texts encoded in %.0fs (%d from the cache)", encoded, encode_seconds,
             sum(len(y) for _, y in splits.values()) - encoded)

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[mlflow.entities.Metric(k, v, now, epoch) for k, v in metrics.items()])

    (train_x, train_y), (eval_x, eval_y) = splits["train"], splits["validation"]
    epochs_run, best_epoch, best, head_seconds = head_training.train_head(
        model, train_x, train_y, eval_x, eval_y, cfg.train, on_epoch
    )
    details = {
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
        "encode_seconds": encode_seconds,
        "encode_samples_per_second": encoded / encode_seconds if encoded else None,
        "head_seconds": head_seconds,
        "train_seconds": encode_seconds + head_seconds,
        "train_samples_per_second": epochs_run * len(train_y) / head_seconds,
    }
    with torch.no_grad():
        validation_logits = model.classifier(torch.from_numpy(eval_x)).numpy()
    return model, best, details, validation_logits
