"""Stage 4: export to ONNX (fp32 and dynamic int8), gate on parity with PyTorch, register in MLflow.

The export folder is the contract the service reads, and nothing else: model.onnx, model_quantized.onnx,
the tokenizer files copied unchanged from prepare, config.json with id2label, labels.json, and
manifest.json (labels, max length, MLflow run id, sha256 of every file, parity and test scores, and for
language ID the scripts of the training text).

It is built in a staging folder and swapped in only when the parity gate passes, so a failed export
never destroys the last good one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import onnx

from pipeline.config import Config, ConfigError, ExportConfig, FromScratchModel, PretrainedModel
from pipeline.data.prepared import read_labels, read_split
from pipeline.errors import MissingOutputError, ParityError
from pipeline.metrics import classification_scores
from pipeline.metrics.calibration import Calibration
from pipeline.metrics.groups import groups_of, per_group
from pipeline.models.modeling import label_maps, load_trained, model_name
from pipeline.models.onnx_export import export_onnx
from pipeline.models.torch_inference import torch_logits
from pipeline.runtime.predictor import MANIFEST, UNKNOWN, Predictor, sha256
from pipeline.runtime.scripts import common_scripts
from pipeline.stages import fingerprint, model_registry, tracking

log = logging.getLogger(__name__)

FP32, INT8 = "model.onnx", "model_quantized.onnx"
# The share of one label's training letters a script needs to count as seen in training. A few foreign words
# or symbols stay far under it (a Greek letter in an English formula; the largest such share in the default's
# training data, Cyrillic in Amharic, is an order of magnitude lower), while a script that is part of how a
# language is written is far over it (Katakana in Japanese, an order of magnitude higher).
MIN_SCRIPT_SHARE = 0.01
# The classification head's parameters: a `classifier` module, as every model kind here and Hugging Face's
# sequence classifiers name it.
HEAD_WEIGHT = re.compile(r"(^|\.)classifier\.")


@dataclass
class ExportResult:
    export_dir: Path
    parity: dict
    model_uri: str


def _onnx_export(cfg: Config, staging: Path) -> dict[str, str]:
    from optimum.exporters.onnx import main_export
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    optimum_knows = isinstance(cfg.model, FromScratchModel) or (isinstance(cfg.model, PretrainedModel) and cfg.model.pooling == "cls")
    if not optimum_knows:
        # The models written here (char n-gram, course) and mean-pooling heads are types optimum does not know:
        # torch.onnx.export with the same input and output names.
        model, _ = load_trained(cfg.paths.model)
        export_onnx(model, staging / FP32, opset=cfg.export.opset)
        model.config.save_pretrained(staging)
    else:
        main_export(
            str(cfg.paths.model), output=staging, task="text-classification", opset=cfg.export.opset, do_validation=False
        )
    models = {"fp32": FP32}
    if cfg.export.quantize:
        quantizer = ORTQuantizer.from_pretrained(staging, file_name=FP32)
        settings = AutoQuantizationConfig.avx2(
            is_static=False,
            per_channel=cfg.export.quantize_per_channel,
            operators_to_quantize=cfg.export.quantize_operators,
            nodes_to_exclude=[] if cfg.export.quantize_head else head_nodes(staging / FP32),
        )
        quantizer.quantize(settings, save_dir=staging)
        models["int8"] = INT8
    # The tokenizer and labels travel byte for byte from prepare; optimum's re-saved copies are replaced.
    for file in (cfg.paths.data / "tokenizer").iterdir():
        shutil.copy(file, staging / file.name)
    shutil.copy(cfg.paths.data / "labels.json", staging / "labels.json")
    for leftover in ("ort_config.json",):
        (staging / leftover).unlink(missing_ok=True)
    return models


def head_nodes(model: Path) -> list[str]:
    """The nodes of an ONNX model that read the classification head's weights (HEAD_WEIGHT), by the names
    onnxruntime's quantizer gives them: it rewrites a Gemm as a MatMul named `<gemm>_MatMul` and an Add before
    it quantizes (onnxruntime/quantization/onnx_model.py), so a Gemm is named both ways."""
    graph = onnx.load(str(model), load_external_data=False).graph
    weights = {tensor.name for tensor in graph.initializer if HEAD_WEIGHT.search(tensor.name)}
    nodes = [node for node in graph.node if node.op_type in ("MatMul", "Gemm") and weights.intersection(node.input)]
    if not nodes:
        raise ConfigError(f"export.quantize_head is false, but no MatMul or Gemm in {model} reads a classifier's weights")
    return [name for node in nodes for name in ([node.name, f"{node.name}_MatMul"] if node.op_type == "Gemm" else [node.name])]


def _write_manifest(cfg: Config, staging: Path, labels: list[str], models: dict[str, str], extra: dict) -> None:
    files = {p.name: sha256(p) for p in sorted(staging.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = {
        "format_version": 1,
        "run_name": cfg.run_name,
        "model_name": model_name(cfg.model),
        "model_kind": cfg.model.kind,
        "labels": labels,
        "max_length": cfg.model.max_length,
        "models": models,
        "default_model": "int8" if "int8" in models else "fp32",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": files,
        **extra,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def trained_scripts(cfg: Config) -> dict[str, list[str]]:
    """{"scripts": [...]}: the scripts the training split writes its labels in, for language ID only; {} otherwise.

    The Predictor answers `unknown` for text mostly in other scripts (pipeline/runtime/scripts.py). That is
    right when the label is the language: no training language is written in that script. For topics the
    script says nothing about the label, so a topic export carries no scripts and the rule stays off."""
    train = read_split(cfg.paths.data, "train")
    if train.empty or "language" not in train or not (train["label"] == train["language"]).all():
        return {}
    seen = set().union(*(common_scripts(rows["text"], MIN_SCRIPT_SHARE) for _, rows in train.groupby("label")))
    return {"scripts": sorted(seen)}


def parity_scores(
    variant: str, reference: np.ndarray, predicted: np.ndarray, references: np.ndarray, groups: np.ndarray,
    export_cfg: ExportConfig,
) -> tuple[dict, list[str]]:
    """Score one ONNX variant against PyTorch's predictions; return its numbers and the gate's failures."""
    torch_scores = per_group(references, reference, groups)
    scores = per_group(references, predicted, groups)
    drops = {g: torch_scores[g]["accuracy"] - scores[g]["accuracy"] for g in scores}
    worst = max(drops, key=drops.get)
    agreement = float((predicted == reference).mean())
    overall = classification_scores(predicted, references)
    numbers = {
        "label_agreement": agreement,
        "accuracy": overall["accuracy"],
        "macro_f1": overall["macro_f1"],
        "worst_language": worst,
        "worst_language_accuracy_drop": drops[worst],
        "per_language_accuracy_drop": drops,
    }
    failures = []
    if agreement < export_cfg.min_label_agreement - 1e-9:
        failures.append(
            f"{variant}: labels agree with PyTorch on {agreement:.2%} of {len(predicted)} test texts, "
            f"below export.min_label_agreement={export_cfg.min_label_agreement:.2%}"
        )
    if drops[worst] > export_cfg.max_language_accuracy_drop + 1e-9:  # 1 point allowed means exactly 1 point passes
        failures.append(
            f"{variant}: language {worst!r} loses {100 * drops[worst]:.2f} points of accuracy "
            f"({torch_scores[worst]['accuracy']:.2%} -> {scores[worst]['accuracy']:.2%}), "
            f"over export.max_language_accuracy_drop={100 * export_cfg.max_language_accuracy_drop:.2f}"
        )
    return numbers, failures


def parity(cfg: Config, staging: Path, models: dict[str, str], labels: list[str]) -> dict:
    """Compare each ONNX variant with PyTorch on the test split: label agreement and per-language accuracy."""
    test = read_split(cfg.paths.data, "test")
    texts = test["text"].tolist()
    _, label2id = label_maps(labels)
    references = np.array([label2id[x] for x in test["label"]])
    model, tokenizer = load_trained(cfg.paths.model)
    reference = torch_logits(model, tokenizer, texts, cfg.model.max_length, cfg.evaluate.batch_size).argmax(-1)
    groups = groups_of(test)
    overall = classification_scores(reference, references)
    result: dict = {
        "test_rows": len(texts),
        "pytorch": {
            "accuracy": overall["accuracy"],
            "macro_f1": overall["macro_f1"],
            "per_language": per_group(references, reference, groups),
        },
    }
    failures: list[str] = []
    for variant in models:
        predictor = Predictor(staging, quantized=variant == "int8", verify=False)
        predicted = predictor.logits(texts, cfg.evaluate.batch_size)[0].argmax(-1)
        result[variant], failed = parity_scores(variant, reference, predicted, references, groups, cfg.export)
        failures += failed
    result["passed"] = not failures
    result["failures"] = failures
    return result


def _log_parity(result: dict, variants: dict[str, str]) -> None:
    metrics = {"pytorch_test_accuracy": result["pytorch"]["accuracy"]}
    for variant in variants:
        r = result[variant]
        metrics |= {
            f"{variant}_label_agreement": r["label_agreement"],
            f"{variant}_test_accuracy": r["accuracy"],
            f"{variant}_worst_language_accuracy_drop": r["worst_language_accuracy_drop"],
        }
    mlflow.log_metrics(metrics)


@fingerprint.stamped("export")
def export(cfg: Config) -> ExportResult:
    paths = cfg.paths
    labels = read_labels(paths.data)
    if not (paths.model / "config.json").is_file():
        raise MissingOutputError(f"no trained model in {paths.model}: run `make train` first")
    calibration = Calibration.read(paths.model)
    if cfg.predict.abstain_below is not None and UNKNOWN in labels:
        raise ConfigError(
            f"predict.abstain_below is set but {UNKNOWN!r} is one of the labels: an abstention could not be told "
            "from that class; rename the label or leave predict.abstain_below empty"
        )
    staging = paths.artifacts / "export.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tracking.stage_run(cfg, "export"):
        models = _onnx_export(cfg, staging)
        run_id = tracking.parent_run_id()
        answers = {"calibration": calibration.to_dict(), "abstain_below": cfg.predict.abstain_below, **trained_scripts(cfg)}
        _write_manifest(cfg, staging, labels, models, {"mlflow_run_id": run_id, **answers})
        result = parity(cfg, staging, models, labels)
        (paths.reports).mkdir(parents=True, exist_ok=True)
        (paths.reports / "parity.json").write_text(json.dumps(result, indent=2))
        _log_parity(result, models)
        mlflow.log_artifact(str(paths.reports / "parity.json"), artifact_path="reports")
        if not result["passed"]:
            raise ParityError("export parity gate failed, the previous export is kept:\n  " + "\n  ".join(result["failures"]))
        headline = {
            "test_accuracy": result["pytorch"]["accuracy"],
            "test_macro_f1": result["pytorch"]["macro_f1"],
            **{f"{v}_test_accuracy": result[v]["accuracy"] for v in models},
        }
        summary = {v: {k: result[v][k] for k in ("label_agreement", "worst_language", "worst_language_accuracy_drop")} for v in models}
        _write_manifest(cfg, staging, labels, models, {"mlflow_run_id": run_id, **answers, "metrics": headline, "parity": summary})
        shutil.rmtree(paths.export, ignore_errors=True)
        staging.rename(paths.export)
        mlflow.log_artifacts(str(paths.export), artifact_path="export")
        model_uri = model_registry.log_and_register(paths.export, cfg.export.registered_model_name)
    log.info("exported %s (parity passed: %s)", paths.export, {v: round(result[v]["label_agreement"], 4) for v in models})
    return ExportResult(paths.export, result, model_uri)
