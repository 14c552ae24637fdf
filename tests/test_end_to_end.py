"""prepare -> train -> evaluate -> export on a few hundred rows with a tiny from-scratch model."""

import json

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from pipeline.data.prepared import read_split
from pipeline.runtime.predictor import Predictor, sha256
from pipeline.stages import fingerprint, tracking
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train

from conftest import tiny_config


def test_prepare_outputs(pipeline_run):
    cfg = pipeline_run["cfg"]
    data = cfg.paths.data
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl", "labels.json", "fingerprint.json", "tokenizer/tokenizer.json"):
        assert (data / name).is_file(), name
    labels = json.loads((data / "labels.json").read_text())["labels"]
    assert labels == sorted(labels) == ["ar", "de", "en", "fr", "ru", "zh"]
    assert fingerprint.up_to_date(cfg, "prepare") is not None
    report = (cfg.paths.reports / "data.md").read_text()
    assert "Tokenizer coverage" in report and "Dropped rows" in report
    test, train_split = read_split(data, "test"), read_split(data, "train")
    assert not set(test["text"]) & set(train_split["text"])


def test_model_learns_and_reports_every_language(pipeline_run):
    metrics = pipeline_run["evaluate"].metrics
    cfg = pipeline_run["cfg"]
    assert metrics["accuracy"] > 0.6, metrics["accuracy"]
    assert set(metrics["per_language"]) == {"ar", "de", "en", "fr", "ru", "zh"}
    assert metrics["worst_language"] in metrics["per_language"]
    for name in ("metrics.json", "evaluation.md", "confusion_matrix.png", "per_language.png"):
        assert (cfg.paths.reports / name).stat().st_size > 0, name
    report = (cfg.paths.reports / "evaluation.md").read_text()
    assert f"Worst language: {metrics['worst_language']}" in report


def test_export_folder_is_complete_and_labels_travel_unchanged(pipeline_run):
    cfg = pipeline_run["cfg"]
    export = cfg.paths.export
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["labels"] == json.loads((cfg.paths.data / "labels.json").read_text())["labels"]
    assert manifest["models"] == {"fp32": "model.onnx", "int8": "model_quantized.onnx"}
    assert manifest["max_length"] == pipeline_run["cfg"].model.max_length
    for name, digest in manifest["files"].items():
        assert sha256(export / name) == digest
    # Tokenizer and labels are the very files prepare wrote.
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert sha256(export / name) == sha256(cfg.paths.data / "tokenizer" / name)
    config = json.loads((export / "config.json").read_text())
    assert config["id2label"] == {str(i): label for i, label in enumerate(manifest["labels"])}
    assert (export / "model_quantized.onnx").stat().st_size < (export / "model.onnx").stat().st_size


def test_parity_numbers_pass_the_gate(pipeline_run):
    """The numbers honour the gate the config sets, not a constant: the tiny config allows one flipped
    sentence per language (20 test sentences, 5 points), and a fresh clone can use that allowance."""
    parity = pipeline_run["export"].parity
    gate = pipeline_run["cfg"].export
    assert parity["passed"] and not parity["failures"]
    for variant in ("fp32", "int8"):
        assert parity[variant]["label_agreement"] >= gate.min_label_agreement
        assert parity[variant]["worst_language_accuracy_drop"] <= gate.max_language_accuracy_drop + 1e-9
    assert parity["fp32"]["label_agreement"] == 1.0


def test_mlflow_has_one_parent_with_a_run_per_stage(pipeline_run):
    cfg = pipeline_run["cfg"]
    tracking.experiment_id(cfg)
    client = MlflowClient()
    parent = tracking.current_parent(cfg)
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    stages = sorted(r.data.tags[tracking.STAGE_TAG] for r in children)
    assert stages == ["evaluate", "export", "prepare", "train"]
    by_stage = {r.data.tags[tracking.STAGE_TAG]: r for r in children}
    assert parent.data.params["train.epochs"] == "15.0"
    assert parent.data.params["data_fingerprint"] == pipeline_run["prepare"].fingerprint
    train_run = by_stage["train"].info.run_id
    assert len(client.get_metric_history(train_run, "loss")) >= 2
    assert len(client.get_metric_history(train_run, "eval_macro_f1")) >= 2
    evaluate = by_stage["evaluate"].data.metrics
    assert evaluate["test_accuracy"] == pytest.approx(pipeline_run["evaluate"].metrics["accuracy"])
    assert "test_accuracy/zh" in evaluate
    assert by_stage["export"].data.metrics["int8_label_agreement"] >= 0.99
    assert "export/manifest.json" in {a.path for a in client.list_artifacts(by_stage["export"].info.run_id, "export")}
    manifest = json.loads((cfg.paths.export / "manifest.json").read_text())
    assert manifest["mlflow_run_id"] == parent.info.run_id
    versions = client.search_model_versions("name = 'textclf-tiny'")
    assert versions and versions[0].run_id == by_stage["export"].info.run_id


def test_registered_model_predicts_like_the_predictor(pipeline_run):
    cfg = pipeline_run["cfg"]
    tracking.experiment_id(cfg)
    texts = read_split(cfg.paths.data, "test")["text"].tolist()[:20]
    model = mlflow.pyfunc.load_model("models:/textclf-tiny/1")
    out = model.predict(texts)
    expected = [p.label for p in Predictor(cfg.paths.export).predict(texts)]
    assert out["label"].tolist() == expected


def test_same_config_and_data_give_the_same_metrics(pipeline_run, tmp_path):
    cfg = tiny_config(tmp_path)
    prepare(cfg)
    again = train(cfg)
    first = pipeline_run["train"].best_metrics
    assert again.best_metrics["macro_f1"] == first["macro_f1"]
    assert np.isclose(again.best_metrics["loss"], first["loss"], atol=1e-6)


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    cfg = tiny_config(tmp_path, **{"train.epochs": "1"})
    prepare(cfg)
    train(cfg)
    tracking.experiment_id(cfg)
    first = tracking.current_parent(cfg)
    resumed = train(tiny_config(tmp_path, **{"train.epochs": "2", "train.resume": "true"}))
    state = json.loads(sorted(cfg.paths.checkpoints.glob("checkpoint-*/trainer_state.json"))[-1].read_text())
    assert state["epoch"] == 2.0
    assert resumed.best_metrics["epoch"] == 2.0
    assert tracking.current_parent(cfg).info.run_id == first.info.run_id  # resumed in the same execution
    # This run's store is its own, even though other roots were tracked earlier in this process.
    assert tracking.tracking_uri(cfg) == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert first.info.artifact_uri.startswith((tmp_path / "mlruns" / "artifacts").as_uri())
    retrained = tiny_config(tmp_path, **{"train.epochs": "1"})
    train(retrained)
    assert tracking.current_parent(cfg).info.run_id != first.info.run_id  # a fresh training is a new execution
