"""Temperature scaling and abstaining: the fit on synthetic data whose true temperature is known, the
reliability bins, and `unknown` answers from the predictor, the CLI and the service's metadata."""

import json

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.config import ConfigError
from pipeline.metrics.calibration import Calibration, calibrate, fit_temperature, nll, reliability
from pipeline.runtime.predictor import UNKNOWN, Predictor, softmax

from conftest import tiny_config


def _overconfident(temperature: float, n: int = 20_000, classes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / temperature): the right T is known exactly."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, size=(n, classes))
    probs = softmax(logits / temperature)
    labels = np.array([rng.choice(classes, p=p) for p in probs])
    return logits, labels


def test_fit_recovers_the_temperature_that_generated_the_labels():
    logits, labels = _overconfident(2.5)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(2.5, rel=0.05)  # 20,000 draws: the estimate's own spread is about 1%
    assert nll(logits, labels, fitted) < min(nll(logits, labels, fitted * 0.9), nll(logits, labels, fitted * 1.1))


def test_calibration_lowers_the_error_it_reports():
    logits, labels = _overconfident(3.0, seed=1)
    result = calibrate(logits, labels)
    assert result.validation_ece_after < result.validation_ece_before / 3
    assert result.validation_nll_after < result.validation_nll_before


def test_reliability_bins_count_every_row_and_measure_the_gap():
    probs = np.array([[0.95, 0.05]] * 10 + [[0.55, 0.45]] * 10)
    labels = np.array([0] * 5 + [1] * 5 + [0] * 10)  # 95% sure, right half the time; 55% sure, always right
    bins = reliability(probs, labels, bins=10)
    assert sum(bins.counts) == 20
    assert bins.ece == pytest.approx((10 * abs(0.95 - 0.5) + 10 * abs(0.55 - 1.0)) / 20)
    assert bins.accuracy[9] == 0.5 and bins.accuracy[5] == 1.0 and bins.accuracy[0] is None


def test_fit_refuses_an_empty_split():
    with pytest.raises(ValueError, match="empty split"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_trained_model_carries_its_calibration_into_the_export(pipeline_run):
    cfg = pipeline_run["cfg"]
    calibration = Calibration.read(cfg.paths.model)
    manifest = Predictor(cfg.paths.export).manifest
    assert manifest["calibration"]["temperature"] == calibration.temperature > 0
    assert manifest["abstain_below"] is None
    metrics = json.loads((cfg.paths.reports / "metrics.json").read_text())
    assert metrics["calibration"]["temperature"] == calibration.temperature
    assert (cfg.paths.reports / "reliability.png").is_file()
    assert "## Calibration" in (cfg.paths.reports / "evaluation.md").read_text()


def test_predictor_scores_are_calibrated_and_abstain_under_the_threshold(pipeline_run):
    export = pipeline_run["cfg"].paths.export
    texts = ["Guten Morgen, wie geht es dir?", "Bonjour tout le monde", "xq zz", "你好", "Привет, как дела?"]
    plain = Predictor(export)
    logits, _ = plain.logits(texts)
    scores = [p.score for p in plain.predict(texts)]
    np.testing.assert_allclose(scores, softmax(logits / plain.temperature).max(-1), rtol=1e-5)
    assert all(p.label != UNKNOWN for p in plain.predict(texts))

    threshold = float(np.median(scores))
    strict = Predictor(export, abstain_below=threshold).predict(texts, top_k=2)
    for prediction, score in zip(strict, scores, strict=True):
        assert (prediction.label == UNKNOWN) == (score < threshold)
        assert prediction.top_k[0]["label"] in plain.labels and prediction.score == pytest.approx(score)
    assert Predictor(export, abstain_below=0).abstain_below is None


def test_cli_abstains_and_rejects_a_threshold_out_of_range(tmp_path, pipeline_run, capsys):
    export = pipeline_run["cfg"].paths.export
    source, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("Bonjour tout le monde\nGuten Tag\n", encoding="utf-8")
    assert main(["predict", str(source), "--export", str(export), "-o", str(out), "--abstain-below", "0.9999999", "--top-k", "2"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["label"] for r in rows] == [UNKNOWN, UNKNOWN] and all(r["top_k"][0]["label"] != UNKNOWN for r in rows)
    assert main(["predict", str(source), "--export", str(export), "--abstain-below", "1.5"]) == 2
    assert "abstain_below must be in [0, 1), got 1.5" in capsys.readouterr().err


def test_config_bounds_the_threshold(tmp_path):
    with pytest.raises(ConfigError, match="predict.abstain_below"):
        tiny_config(tmp_path, **{"predict.abstain_below": "1.2"})
    assert tiny_config(tmp_path, **{"predict.abstain_below": "0.6"}).predict.abstain_below == 0.6
