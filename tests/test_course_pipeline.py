"""Each course model kind through the unchanged pipeline: prepare, train, evaluate, export, serve."""

import json

import pytest

from pipeline.data.prepared import read_split
from pipeline.models.course import KINDS
from pipeline.runtime.predictor import Predictor
from pipeline.stages.evaluate import evaluate
from pipeline.stages.export import export
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train

from conftest import tiny_config


@pytest.mark.parametrize("kind", KINDS)
def test_course_kind_runs_end_to_end_through_export(tmp_path, kind):
    cfg = tiny_config(tmp_path, "langid-transformer.yaml", **{"model.kind": kind, "export.registered_model_name": f"textclf-{kind}"})
    prepare(cfg)
    train(cfg)
    metrics = evaluate(cfg).metrics
    assert metrics["accuracy"] > 0.5, (kind, metrics["accuracy"])
    result = export(cfg)
    assert result.parity["passed"], result.parity["failures"]
    manifest = json.loads((cfg.paths.export / "manifest.json").read_text())
    assert manifest["model_kind"] == kind and manifest["model_name"].startswith(kind)
    predictor = Predictor(cfg.paths.export)
    assert predictor.input_names == ["input_ids", "attention_mask"]
    texts = read_split(cfg.paths.data, "test")["text"].tolist()[:10]
    assert all(p.label in manifest["labels"] for p in predictor.predict(texts))
