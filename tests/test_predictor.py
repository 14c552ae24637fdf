"""The ONNX predictor over a real export folder, and the errors it gives for broken ones."""

import json
import shutil

import numpy as np
import pytest

from pipeline.data.prepared import read_split
from pipeline.errors import ParityError
from pipeline.metrics.groups import groups_of
from pipeline.models.modeling import load_trained
from pipeline.models.torch_inference import torch_logits
from pipeline.runtime.predictor import ArtifactError, Predictor
from pipeline.stages.export import export, parity_scores

from conftest import encoding_matches_transformers, tiny_config


@pytest.fixture(scope="module")
def predictor(pipeline_run):
    return Predictor(pipeline_run["cfg"].paths.export)


def test_labels_match_the_pytorch_model(pipeline_run, predictor):
    cfg = pipeline_run["cfg"]
    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    model, tokenizer = load_trained(cfg.paths.model)
    logits = torch_logits(model, tokenizer, texts, cfg.model.max_length, 16)
    expected = [model.config.id2label[int(i)] for i in logits.argmax(-1)]
    fp32 = Predictor(cfg.paths.export, quantized=False)
    np.testing.assert_allclose(fp32.logits(texts)[0], logits, atol=1e-4, rtol=0)
    # The same label wherever PyTorch's top two are further apart than fp32 rounding can move them.
    top2 = np.sort(logits, axis=-1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-3
    assert clear.mean() > 0.9
    got = [p.label for p in fp32.predict(texts)]
    assert [g for g, c in zip(got, clear, strict=True) if c] == [e for e, c in zip(expected, clear, strict=True) if c]
    agree = np.mean([p.label == e for p, e in zip(predictor.predict(texts), expected, strict=True)])
    assert agree >= 0.99


def test_token_ids_match_transformers(predictor):
    encoding_matches_transformers(predictor)


def test_feeds_only_declared_inputs(predictor):
    declared = set(predictor.input_names)
    feed, _ = predictor._encode(["hello world"])
    assert set(feed) == declared


def test_top_k_order_and_truncation(predictor):
    long_text = "Das ist ein sehr langer deutscher Satz. " * 200
    out = predictor.predict(["Bonjour !", long_text, "مرحبا 👋 世界"], top_k=3)
    assert len(out) == 3
    assert [p.truncated for p in out] == [False, True, False]
    for p in out:
        scores = [t["score"] for t in p.top_k]
        assert scores == sorted(scores, reverse=True) and len(scores) == 3
        assert p.top_k[0]["label"] == p.label and p.score == scores[0]
        assert 0 < sum(scores) <= 1.0 + 1e-6


def test_order_is_preserved_whatever_the_lengths(predictor):
    texts = ["short", "a much longer sentence in English about the weather today", "mid length text"]
    one_by_one = [predictor.predict([t])[0].label for t in texts]
    assert [p.label for p in predictor.predict(texts, batch_size=2)] == one_by_one


def test_bad_calls(predictor):
    assert predictor.predict([]) == []
    with pytest.raises(TypeError, match="item 1 is int"):
        predictor.predict(["ok", 3])
    with pytest.raises(ValueError, match="top_k must be between 1 and 6"):
        predictor.predict(["ok"], top_k=7)


@pytest.fixture
def broken_copy(pipeline_run, tmp_path):
    target = tmp_path / "export"
    shutil.copytree(pipeline_run["cfg"].paths.export, target)
    return target


def test_fp32_only_export_is_served_as_fp32_unless_int8_is_demanded(broken_copy):
    manifest = json.loads((broken_copy / "manifest.json").read_text())
    del manifest["models"]["int8"], manifest["files"]["model_quantized.onnx"]
    (broken_copy / "manifest.json").write_text(json.dumps(manifest))
    (broken_copy / "model_quantized.onnx").unlink()
    assert Predictor(broken_copy).variant == "fp32"
    assert Predictor(broken_copy, quantized=False).variant == "fp32"
    with pytest.raises(ArtifactError, match="has no int8 model; it has \\['fp32'\\]"):
        Predictor(broken_copy, quantized=True)


def test_int8_is_the_default_when_the_export_has_it(pipeline_run):
    assert Predictor(pipeline_run["cfg"].paths.export).variant == "int8"


def test_missing_folder_and_manifest(tmp_path, broken_copy):
    with pytest.raises(ArtifactError, match="export folder not found"):
        Predictor(tmp_path / "nowhere")
    (broken_copy / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="manifest.json is missing"):
        Predictor(broken_copy)


def test_corrupt_model_file_is_caught_by_checksum(broken_copy):
    with (broken_copy / "model_quantized.onnx").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00garbage\x00")
    with pytest.raises(ArtifactError, match="model_quantized.onnx is corrupt"):
        Predictor(broken_copy)
    with pytest.raises(ArtifactError, match="cannot be loaded by onnxruntime"):
        (broken_copy / "model_quantized.onnx").write_bytes(b"not an onnx file")
        Predictor(broken_copy, verify=False)


def test_missing_file_and_bad_manifest(broken_copy):
    (broken_copy / "tokenizer.json").unlink()
    with pytest.raises(ArtifactError, match="tokenizer.json is listed in the manifest but missing"):
        Predictor(broken_copy)
    (broken_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        Predictor(broken_copy)
    (broken_copy / "manifest.json").write_text(json.dumps({"labels": []}))
    with pytest.raises(ArtifactError, match="lacks the key 'max_length'"):
        Predictor(broken_copy)


def test_parity_gate_names_the_language_and_the_loss(pipeline_run):
    cfg = pipeline_run["cfg"]
    test = read_split(cfg.paths.data, "test")
    labels = sorted(set(test["label"]))
    refs = np.array([labels.index(x) for x in test["label"]])
    predicted = refs.copy()
    zh = (test["language"] == "zh").to_numpy()
    predicted[np.flatnonzero(zh)[:3]] = labels.index("en")  # three Chinese texts now read as English
    numbers, failures = parity_scores("int8", refs, predicted, refs, groups_of(test), cfg.export)
    assert numbers["worst_language"] == "zh"
    assert numbers["worst_language_accuracy_drop"] == pytest.approx(3 / zh.sum())
    assert any("language 'zh' loses" in f and "points of accuracy" in f for f in failures)
    assert any("labels agree with PyTorch on" in f for f in failures)
    numbers, failures = parity_scores("int8", refs, refs, refs, groups_of(test), cfg.export)
    assert failures == [] and numbers["label_agreement"] == 1.0


def test_failed_gate_keeps_the_previous_export(pipeline_run, monkeypatch, tmp_path):
    """An ONNX model that disagrees with PyTorch (simulated at the onnxruntime edge) must not replace the export."""
    shutil.copytree(pipeline_run["cfg"].root, tmp_path / "copy")
    cfg = tiny_config(tmp_path / "copy")
    before = (cfg.paths.export / "manifest.json").read_text()
    real_logits = Predictor.logits

    def scrambled(self, texts, batch_size=32):
        logits, cut = real_logits(self, texts, batch_size)
        return np.roll(logits, 1, axis=1), cut

    monkeypatch.setattr(Predictor, "logits", scrambled)
    with pytest.raises(ParityError, match="the previous export is kept"):
        export(cfg)
    assert (cfg.paths.export / "manifest.json").read_text() == before
    parity = json.loads((cfg.paths.reports / "parity.json").read_text())
    assert parity["passed"] is False and parity["failures"]


def test_loading_an_export_tokenizer_gives_no_false_mistral_warning(pipeline_run, capfd):
    """transformers 4.57.6 tells every local folder with a config.json to use fix_mistral_regex; pipeline/ mutes it."""
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(pipeline_run["cfg"].paths.export)
    assert "fix_mistral_regex" not in capfd.readouterr().err
