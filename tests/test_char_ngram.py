"""The char_ngram kind: its hashing against a plain-Python reference, padding invariance, the character
tokenizer on many scripts, the config rules, ONNX parity (fp32 and int8 with the table quantized), and a
tiny run through every stage to the runtime Predictor. Small tables throughout: the file runs in seconds."""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer

from pipeline.config import (
    CharNgramModel,
    ConfigError,
    FromScratchModel,
    NgramMlpModel,
    TextCnnModel,
    TokenizerConfig,
    load_config,
)
from pipeline.data.prepared import read_split
from pipeline.data.tokenization import train_tokenizer
from pipeline.models.char_ngram import CharNgramConfig, CharNgramForSequenceClassification, window_means
from pipeline.models.modeling import load_trained, model_name
from pipeline.models.ngram_hashing import HASH_MULTIPLIER, ngram_rows
from pipeline.models.onnx_export import export_onnx, right_padded_batch
from pipeline.models.torch_inference import torch_logits
from pipeline.runtime.predictor import Predictor, sha256
from pipeline.stages.evaluate import evaluate
from pipeline.stages.export import export
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train

from conftest import ROOT, encoding_matches_transformers, only_the_rows_training_touched_moved, tiny_config

VOCAB = 300
PAD = 0
LABELS = ["de", "en", "fr", "ru"]
ORDERS = (1, 2, 3, 4, 5)

# One sample per script family the brief names; every character in it must get an id of its own.
SAMPLES = [
    "Ça déjà vu, naïve Straße fit; Żółć ŠČŘ ñ",
    "Привет, как дела? Ёжик",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "你好，世界。日本語のテキスト",
    "ሰላም ዓለም",
    "สวัสดีชาวโลก",
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and the machine is shared with training runs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(seed: int = 0, **overrides: object) -> CharNgramForSequenceClassification:
    values = dict(
        vocab_size=VOCAB, pad_token_id=PAD, hidden_size=16, intermediate_size=24,
        dropout=0.1, max_length=256, ngram_buckets=1024, ngram_orders=ORDERS,
        id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)},
    )
    torch.manual_seed(seed)
    return CharNgramForSequenceClassification(CharNgramConfig(**(values | overrides)))


def reference_rows(ids: list[int], length: int, orders: tuple[int, ...], buckets: int, vocab: int) -> list[int | None]:
    """The documented hash, one n-gram at a time in plain Python; None where the n-gram is not all text."""
    rows: list[int | None] = []
    for order in orders:
        for start in range(len(ids)):
            if start + order > length:
                rows.append(None)
            elif order == 1:
                rows.append(ids[start])
            else:
                h = order
                for token in ids[start : start + order]:
                    h = (h * HASH_MULTIPLIER + token) % buckets
                rows.append(vocab + h)
    return rows


# --- hashing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("buckets", [97, 1024, 2**18])
# ngram_rows computes each order's hash from the one below it: orders given out of order, or with gaps, must
# still come out as the reference hashes them, in the order given
@pytest.mark.parametrize("orders", [ORDERS, (4, 2), (5, 1, 3)], ids=str)
def test_hashing_matches_a_plain_python_reference(buckets: int, orders: tuple[int, ...]) -> None:
    # lengths 1-4 are shorter than the longest order, and 13 is the full row
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [13, 7, 4, 3, 2, 1], seed=5)
    rows, valid = ngram_rows(input_ids, attention_mask, orders, buckets, VOCAB)
    assert rows.shape == valid.shape == (6, len(orders) * 13)
    for b, length in enumerate(attention_mask.sum(-1).tolist()):
        expected = reference_rows(input_ids[b].tolist(), length, orders, buckets, VOCAB)
        assert valid[b].tolist() == [r is not None for r in expected]
        assert [int(r) for r, v in zip(rows[b], valid[b], strict=True) if v] == [r for r in expected if r is not None]
        assert sum(expected_row is not None for expected_row in expected) == sum(max(0, length - n + 1) for n in orders)
    assert rows[valid].max() < VOCAB + buckets


def test_the_same_ngram_hashes_to_the_same_row_anywhere_and_orders_are_kept_apart() -> None:
    a, b, c = 11, 12, 13
    input_ids = torch.tensor([[a, b, c, 0, 0], [c, c, a, b, c]])
    attention_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    rows, valid = ngram_rows(input_ids, attention_mask, (2, 3), 2**18, VOCAB)
    bigram_ab = rows[0, 0]  # (a, b) starts at 0 in the first text and at 2 in the second
    assert rows[1, 2] == bigram_ab and valid[0, 0] and valid[1, 2]
    trigram_abc = rows[0, 5]  # order 3 starts at column 5 (after the 5 bigram columns)
    assert rows[1, 5 + 2] == trigram_abc and trigram_abc != bigram_ab
    assert not valid[0, 5 + 1]  # (b, c, pad) runs into padding


# the bag read by each head, and the transformer over windows (windows of 4, so the texts below span 1-3 of them)
VARIANTS = [
    pytest.param({"ngram_head": "linear"}, id="linear"),
    pytest.param({"ngram_head": "mlp"}, id="mlp"),
    pytest.param({"ngram_layers": 2, "ngram_window": 4, "num_heads": 2}, id="blocks"),
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_appending_padding_does_not_change_logits(variant: dict) -> None:
    model = make(**variant).eval()
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [9, 4, 2, 1])
    # the appended positions hold real-looking ids, so only attention_mask can tell the model to skip them
    extra = torch.randint(1, VOCAB, (4, 6), generator=torch.Generator().manual_seed(1))
    longer_ids = torch.cat((input_ids, extra), dim=1)
    longer_mask = torch.cat((attention_mask, torch.zeros_like(extra)), dim=1)
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).logits
        longer = model(input_ids=longer_ids, attention_mask=longer_mask).logits
    torch.testing.assert_close(longer, expected, atol=1e-6, rtol=0)


def test_window_means_match_a_plain_python_reference() -> None:
    """Each window's mean is over the real n-grams of every order that start in it; an all-padding window is
    flagged and left at zero, and a last window shorter than the others averages what it has."""
    batch, orders, length, window, dim = 3, 2, 7, 3, 4
    vectors = torch.randn(batch, orders * length, dim, generator=torch.Generator().manual_seed(2))
    valid = torch.rand(batch, orders * length, generator=torch.Generator().manual_seed(3)) > 0.3
    valid[2] = False
    valid[2, :2] = True  # the third text: only the first window holds n-grams
    means, real = window_means(vectors, valid, batch, length, window)
    assert means.shape == (batch, 3, dim) and real.shape == (batch, 3)
    for b in range(batch):
        for w in range(3):
            members = [
                vectors[b, order * length + position]
                for order in range(orders)
                for position in range(w * window, min((w + 1) * window, length))
                if valid[b, order * length + position]
            ]
            assert bool(real[b, w]) == bool(members)
            expected = torch.stack(members).mean(dim=0) if members else torch.zeros(dim)
            torch.testing.assert_close(means[b, w], expected)
    assert real[2].tolist() == [True, False, False]


def test_heads_and_init() -> None:
    linear, mlp = make(ngram_head="linear"), make(ngram_head="mlp")
    assert linear.classifier.in_features == 16 and mlp.classifier.in_features == 24
    assert linear.encoder.embeddings.num_embeddings == VOCAB + 1024
    # fastText's init: rows no training n-gram reaches stay near zero instead of adding N(0, 1) noise
    assert linear.encoder.embeddings.weight.abs().max() <= 1 / 16
    with pytest.raises(ValueError, match="ngram_head must be one of"):
        make(ngram_head="deep")
    blocks = make(ngram_layers=2, num_heads=2)
    assert len(blocks.encoder.blocks) == 2 and len(linear.encoder.blocks) == 0
    with pytest.raises(ValueError, match="divisible by num_heads"):
        make(ngram_layers=1, num_heads=3)


# --- the character tokenizer ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def char_tokenizer():
    return train_tokenizer(SAMPLES * 2, TokenizerConfig(kind="char", min_frequency=2), max_length=40)


def test_every_character_of_every_script_gets_its_own_id(char_tokenizer) -> None:
    seen: dict[str, int] = {}
    for text in SAMPLES:
        normalised = unicodedata.normalize("NFKC", text)
        ids = char_tokenizer(text, add_special_tokens=False)["input_ids"]
        assert char_tokenizer.convert_ids_to_tokens(ids) == list(normalised), text  # one code point, one token
        for char, token_id in zip(normalised, ids, strict=True):
            assert seen.setdefault(char, token_id) == token_id
        assert char_tokenizer.decode(ids) == normalised
    assert len(set(seen.values())) == len(seen)  # no two characters share an id
    assert char_tokenizer.unk_token_id not in seen.values()
    assert len(char_tokenizer) == len(seen) + 5  # [PAD] [UNK] [CLS] [SEP] [MASK]


def test_unseen_characters_whitespace_nfkc_and_truncation(char_tokenizer) -> None:
    tokens = char_tokenizer.convert_ids_to_tokens(char_tokenizer("Ωa 👋", add_special_tokens=False)["input_ids"])
    assert tokens == ["[UNK]", "a", " ", "[UNK]"]
    # every run of whitespace is one space, the ends are stripped, and NFKC folds the ligature and full width
    spaced = char_tokenizer("  ﬁ\t\n  ａ ", add_special_tokens=False)["input_ids"]
    assert char_tokenizer.convert_ids_to_tokens(spaced) == ["f", "i", " ", "a"]
    ids = char_tokenizer(SAMPLES[0] * 3, truncation=True)["input_ids"]
    assert len(ids) == 40 and ids[0] == char_tokenizer.cls_token_id and ids[-1] == char_tokenizer.sep_token_id


def test_min_frequency_vocab_cap_and_lowercase() -> None:
    texts = ["aaab", "ÉCOLE école"]
    rare = train_tokenizer(texts, TokenizerConfig(kind="char", min_frequency=2), max_length=16).get_vocab()
    assert "a" in rare and "b" not in rare  # b is seen once
    capped = train_tokenizer(["aaaa bbb cc d"], TokenizerConfig(kind="char", vocab_size=100, min_frequency=1)
                             .model_copy(update={"vocab_size": 7}), max_length=16).get_vocab()
    assert set(capped) - {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} == {"a", " "}  # the two most frequent
    lower = train_tokenizer(texts, TokenizerConfig(kind="char", min_frequency=2, lowercase=True), max_length=16)
    assert lower.convert_ids_to_tokens(lower("ÉCOLE", add_special_tokens=False)["input_ids"]) == list("école")


def test_the_runtime_reads_the_saved_tokenizer_the_same_way(char_tokenizer, tmp_path: Path) -> None:
    char_tokenizer.save_pretrained(tmp_path)
    runtime = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))  # what pipeline.runtime.predictor loads
    runtime.enable_truncation(40)  # as the Predictor does, at the export's max_length
    texts = [*SAMPLES, SAMPLES[0] * 3, "Ωx  y"]
    for text, fast in zip(texts, runtime.encode_batch_fast(texts), strict=True):
        expected = char_tokenizer(text, truncation=True, max_length=40)["input_ids"]
        assert runtime.encode(text).ids == fast.ids == expected


# --- config -----------------------------------------------------------------------------------------------


def test_char_ngram_picks_the_char_tokenizer_and_its_ngram_defaults() -> None:
    cfg = CharNgramModel()
    assert cfg.tokenizer.kind == "char" and cfg.ngram_orders == [1, 2, 3, 4, 5] and cfg.ngram_buckets == 2**18
    assert FromScratchModel().tokenizer.kind == "wordpiece" and "ngram_orders" not in FromScratchModel.model_fields
    assert NgramMlpModel().ngram_orders == [1, 2, 3]  # the subword kind's own defaults
    assert TextCnnModel(tokenizer=TokenizerConfig(kind="char")).tokenizer.kind == "char"
    assert model_name(CharNgramModel(hidden_size=64)) == "char_ngram-262144x64-linear"
    blocks = CharNgramModel(hidden_size=64, ngram_layers=1)
    assert model_name(blocks) == "char_ngram-262144x64-1blocks-window8-linear"
    shipped = load_config(ROOT / "configs/default.yaml")
    assert shipped.model.kind == "char_ngram" and shipped.model.tokenizer.kind == "char"
    assert shipped.data.source == "eld" and "Gather" in shipped.export.quantize_operators


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.kind=char_ngram", "model.tokenizer.kind=bpe"], "model.kind=char_ngram hashes character n-grams"),
        (["model.kind=char_ngram", "model.ngram_orders=[2, 2]"], "model.ngram_orders must be distinct"),
        (["model.kind=char_ngram", "model.ngram_orders=[]"], "model.ngram_orders must be distinct"),
        (["model.kind=char_ngram", "model.ngram_buckets=0"], "model.ngram_buckets must be greater than or equal to 1"),
        (["model.kind=char_ngram", "model.ngram_head=deep"], "model.ngram_head must be one of"),
        (["model.ngram_layers=1"], r"unknown key model.ngram_layers for model.kind=from_scratch \(ngram_layers is a key of model.kind=char_ngram\)"),
        (["model.kind=char_ngram", "model.ngram_layers=1", "model.num_heads=5"], r"model.hidden_size \(128\) must be divisible by model.num_heads \(5\)"),
        (["model.kind=char_ngram", "model.ngram_window=0"], "model.ngram_window must be greater than or equal to 1"),
        (["train.optimizer=adagrad", "train.weight_decay=0"], "train.optimizer=adagrad is for the hashed n-gram tables"),
        (["model.kind=char_ngram", "train.optimizer=adagrad"], "takes no weight decay: set train.weight_decay=0"),
    ],
)
def test_bad_combinations_fail_at_load(overrides: list[str], message: str) -> None:
    """On the transformer's config: the default is char_ngram with Adagrad, where some of these are right."""
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT / "configs/langid-transformer.yaml", overrides)


# --- ONNX -------------------------------------------------------------------------------------------------


def _onnx_logits(path: Path, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})[0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_onnx_parity_fp32_and_int8_with_the_table_quantized(variant: dict, tmp_path: Path) -> None:
    model = make(ngram_buckets=2**14, **variant)  # the table dwarfs the blocks, as in a real model
    with torch.no_grad():  # trained-looking rows, so int8's error is measured on values of a realistic spread
        model.encoder.embeddings.weight.normal_(0, 0.3)
    fp32, int8 = tmp_path / "model.onnx", tmp_path / "model_quantized.onnx"
    export_onnx(model, fp32)
    quantize_dynamic(fp32, int8, op_types_to_quantize=["MatMul", "Gather"], weight_type=QuantType.QUInt8)
    model.eval()
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [200, 57, 4, 3, 1], seed=7)
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).logits.numpy()
    np.testing.assert_allclose(_onnx_logits(fp32, input_ids, attention_mask), expected, atol=1e-4, rtol=0)
    quantized = _onnx_logits(int8, input_ids, attention_mask)
    assert np.abs(quantized - expected).max() < 0.05
    quantized_tables = {t.name: t.data_type for t in onnx.load(int8).graph.initializer}
    assert quantized_tables["model.encoder.embeddings.weight_quantized"] == onnx.TensorProto.UINT8
    assert int8.stat().st_size < 0.4 * fp32.stat().st_size  # the table is stored in one byte per weight


@pytest.mark.parametrize(("buckets", "index_type"), [(2**14, onnx.TensorProto.INT32), (3000, onnx.TensorProto.INT64)])
def test_power_of_two_tables_are_read_through_int32_hashes_with_the_same_logits(
    buckets: int, index_type: int, tmp_path: Path
) -> None:
    # int32 products wrap modulo 2**32; only a power-of-two remainder survives that, so other counts stay int64
    model = make(ngram_buckets=buckets).eval()
    path = tmp_path / "model.onnx"
    export_onnx(model, path)
    graph = onnx.shape_inference.infer_shapes(onnx.load(str(path))).graph
    types = {v.name: v.type.tensor_type.elem_type for v in graph.value_info}
    table = next(n for n in graph.node if n.op_type == "Gather" and n.input[0] == "model.encoder.embeddings.weight")
    assert types[table.input[1]] == index_type
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [200, 57, 4, 3, 1], seed=11)
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).logits.numpy()
    np.testing.assert_allclose(_onnx_logits(path, input_ids, attention_mask), expected, atol=1e-5, rtol=0)


# --- every stage ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("blocks", [0, 1])
def test_tiny_run_through_every_stage_to_the_runtime(blocks: int, tmp_path: Path) -> None:
    cfg = tiny_config(
        tmp_path,
        **{
            "run_name": "char",
            "model.ngram_layers": str(blocks),
            # the train stage's weighted loss too (balanced data: every weight is 1)
            "train.class_weights": "balanced" if blocks else "none",
            "model.kind": "char_ngram",
            "model.max_length": "128",
            "model.hidden_size": "32",
            "export.quantize_operators": "[MatMul, Gather]",
            # as configs/default.yaml, the label layer fp32; and quantized with it, the run before it
            "export.quantize_head": "true" if blocks else "false",
            "export.registered_model_name": "textclf-char-ngram",
            # as configs/default.yaml trains: sparse rows of the n-gram table, Adagrad
            "train.optimizer": "adagrad",
            "train.weight_decay": "0",
            "train.learning_rate": "0.2",
        },
    )
    assert cfg.model.tokenizer.kind == "char"
    prepare(cfg)
    train(cfg)
    assert evaluate(cfg).metrics["accuracy"] > 0.8
    only_the_rows_training_touched_moved(cfg)
    result = export(cfg)
    assert result.parity["passed"], result.parity["failures"]
    manifest = json.loads((cfg.paths.export / "manifest.json").read_text())
    assert manifest["model_kind"] == "char_ngram" and manifest["max_length"] == 128
    assert set(manifest["models"]) == {"fp32", "int8"}

    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    model, tokenizer = load_trained(cfg.paths.model)
    expected = torch_logits(model, tokenizer, texts, cfg.model.max_length, 16)
    predictor = Predictor(cfg.paths.export, quantized=False)
    encoding_matches_transformers(predictor)
    actual, _ = predictor.logits(texts, batch_size=16)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)
    int8 = Predictor(cfg.paths.export)
    assert int8.variant == "int8"
    agree = np.mean([p.label == model.config.id2label[i] for p, i in zip(int8.predict(texts), expected.argmax(-1), strict=True)])
    assert agree >= 0.95
    the_head_is_quantized_as_configured(cfg.paths.export, int8, texts, quantized=bool(blocks))
    assert json.loads((cfg.paths.export / "config.json").read_text())["model_type"] == "char_ngram"
    saved_as_course_kind_loads_as_the_char_ngram_model(cfg.paths.model, cfg.paths.export, tmp_path, texts, expected)


def the_head_is_quantized_as_configured(export_dir: Path, int8: Predictor, texts: list[str], quantized: bool) -> None:
    """export.quantize_head: an integer MatMul reads the label layer's weights only when it is true; when false,
    a text's int8 scores are the same whatever texts share its batch (no scale is taken from the batch)."""
    graph = onnx.load(str(export_dir / "model_quantized.onnx")).graph
    integer_head = any(n.op_type == "MatMulInteger" and any("classifier" in i for i in n.input) for n in graph.node)
    assert integer_head == quantized
    if not quantized:
        together, _ = int8.logits(texts[:40], batch_size=40)
        in_sevens, _ = int8.logits(texts[:40][::-1], batch_size=7)
        np.testing.assert_allclose(in_sevens[::-1], together, atol=1e-5, rtol=0)


def saved_as_course_kind_loads_as_the_char_ngram_model(
    model_dir: Path, export_dir: Path, tmp_path: Path, texts: list[str], expected: np.ndarray
) -> None:
    """Models and exports from before char_ngram left the course models say model_type "course", kind char_ngram.
    The trained model loads as the char n-gram model with its weights; an export's runtime reads the ONNX model,
    tokenizer and manifest, never the model type in config.json, so it serves as it did."""
    old = tmp_path / "course-kind"
    shutil.copytree(model_dir, old / "model")
    shutil.copytree(export_dir, old / "export")
    for folder in ("model", "export"):
        path = old / folder / "config.json"
        config = json.loads(path.read_text())
        config.update(model_type="course", kind="char_ngram", architectures=["CourseForSequenceClassification"],
                      num_layers=2, cnn_kernel_sizes=[2, 3, 4], cnn_channels=128)
        path.write_text(json.dumps(config))
    manifest = json.loads((old / "export" / "manifest.json").read_text())
    manifest["files"]["config.json"] = sha256(old / "export" / "config.json")  # as the old export recorded it
    (old / "export" / "manifest.json").write_text(json.dumps(manifest))
    model, tokenizer = load_trained(old / "model")
    assert isinstance(model, CharNgramForSequenceClassification)
    np.testing.assert_allclose(torch_logits(model, tokenizer, texts, 128, 16), expected, atol=1e-6, rtol=0)
    actual, _ = Predictor(old / "export", quantized=False).logits(texts, batch_size=16)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)
