"""Shared fixtures. Every test runs offline: the Hub is switched off before anything imports it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.pop("MLFLOW_TRACKING_URI", None)
# One serving worker unless a test asks for more (test_serving_workers): the tests read one worker's batch sizes
# from /v1/metadata, which each worker keeps for itself. The servers they start inherit this.
os.environ["TEXTCLF_WORKERS"] = "1"
# A private BentoML model store, set before bentoml is first imported (it reads BENTOML_HOME once).
os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="textclf-bentoml-")
atexit.register(shutil.rmtree, os.environ["BENTOML_HOME"], ignore_errors=True)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from pipeline.config import MODEL_KINDS, Config, load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY_LANGUAGES = "[de,en,fr,ru,zh,ar]"


# Per config, the values that make its model tiny. The default's char n-gram model learns six languages from
# 50 sentences each with a small table and Adagrad's large steps; the transformer needs a small vocabulary and
# one narrow layer. Neither reads the other's keys.
TINY_MODELS: dict[str, dict[str, str]] = {
    "default.yaml": {
        "model.max_length": "128",
        "model.hidden_size": "32",
        "model.tokenizer.vocab_size": "600",
        # a few thousand rows for a few hundred texts (also what ngram_mlp reads when a test picks that kind)
        "model.ngram_buckets": "4096",
        # eld's sentences alone: the wordfreq draws would be most of the rows and of the time
        "data.extra_train": "[]",
        # one short span per row, not the default's three: half the rows, and still spans in train
        "data.short_spans": "1",
        "train.learning_rate": "0.2",
        # a model of 50 sentences a language is rarely 99.5% sure: the tests that test abstaining set their own
        "predict.abstain_below": "null",
    },
    "langid-transformer.yaml": {
        "model.hidden_size": "64",
        "model.num_layers": "1",
        "model.num_heads": "2",
        "model.intermediate_size": "64",
        "model.max_length": "32",
        "model.tokenizer.vocab_size": "600",
        "model.ngram_buckets": "4096",
        "train.learning_rate": "0.005",
    },
}


def tiny_overrides(root: Path, config: str = "default.yaml", **extra: str) -> list[str]:
    """A few hundred eld rows and a tiny model of `config`'s kind: the whole pipeline in well under a minute."""
    values = {
        "root": str(root),
        "data.languages": TINY_LANGUAGES,
        "data.max_train_per_label": "50",
        "data.max_eval_per_label": "20",
        **TINY_MODELS[config],
        "train.epochs": "15",
        "train.early_stopping_patience": "3",
        "train.batch_size": "16",
        "train.logging_steps": "5",
        "mlflow.experiment": "tiny",
        "export.registered_model_name": "textclf-tiny",
        # 20 test sentences per language: one flipped sentence is 5 points; allow one, so the gate
        # tests parity, not the noise of a 20-sentence sample (test_predictor checks a failing gate).
        "export.max_language_accuracy_drop": "0.06",
    } | extra
    # of the tiny sizes, those the model's kind reads (the config's, or the one `extra` switches to)
    kind = extra.get("model.kind") or load_config(ROOT / "configs" / config).model.kind
    reads = MODEL_KINDS[kind].model_fields
    values = {k: v for k, v in values.items() if not k.startswith("model.") or k.split(".")[1] in reads}
    return [f"{k}={v}" for k, v in values.items()]


def tiny_config(root: Path, config: str = "default.yaml", **extra: str) -> Config:
    return load_config(ROOT / "configs" / config, tiny_overrides(root, config, **extra))


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """prepare -> train -> evaluate -> export once on tiny data; many tests read its outputs."""
    from pipeline.stages.evaluate import evaluate
    from pipeline.stages.export import export
    from pipeline.stages.prepare import prepare
    from pipeline.stages.train import train

    root = tmp_path_factory.mktemp("pipeline")
    cfg = tiny_config(root)
    return {
        "cfg": cfg,
        "prepare": prepare(cfg),
        "train": train(cfg),
        "evaluate": evaluate(cfg),
        "export": export(cfg),
    }


@pytest.fixture(scope="session")
def bento_model(pipeline_run):
    """The tiny export imported into the (private) BentoML model store as textclf:latest."""
    from serving.model_store import import_export

    return import_export(pipeline_run["cfg"].paths.export)


MIXED_TEXTS = [
    "Bonjour !", "Das ist ein sehr langer deutscher Satz. " * 40, "مرحبا 👋 世界", "ÉCOLE  élève\tcafé",
    "Привет, как дела?", "ሰላም ነው", "日本語のテキスト", "x", "   spaces   around   ",
]


def encoding_matches_transformers(predictor) -> None:  # noqa: ANN001 - a runtime Predictor
    """The runtime reads tokenizer.json with `tokenizers`; transformers' AutoTokenizer is what training used."""
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(predictor.export_dir)
    expected = reference(MIXED_TEXTS, truncation=True, max_length=predictor.max_length)["input_ids"]
    feed, truncated = predictor._encode(MIXED_TEXTS)
    for row, ids in enumerate(expected):
        assert feed["input_ids"][row, : len(ids)].tolist() == ids, MIXED_TEXTS[row]
        assert feed["attention_mask"][row].sum() == len(ids)
        assert (feed["input_ids"][row, len(ids):] == reference.pad_token_id).all()
    assert truncated == [len(reference(t)["input_ids"]) > predictor.max_length for t in MIXED_TEXTS]


def only_the_rows_training_touched_moved(cfg) -> None:  # noqa: ANN001 - a pipeline Config
    """Sparse updates: the table rows no training n-gram hashes to keep their seeded initial values exactly
    (AdamW's weight decay would have shrunk them), and the rows it touched moved."""
    import torch
    from transformers import set_seed

    from pipeline.data.prepared import read_labels, read_split
    from pipeline.models.modeling import build_model, load_trained
    from pipeline.models.ngram_hashing import ngram_rows

    trained, tokenizer = load_trained(cfg.paths.model)
    set_seed(cfg.train.seed)
    initial = build_model(cfg.model, read_labels(cfg.paths.data), tokenizer).encoder.embeddings.weight.detach()
    encoded = tokenizer(read_split(cfg.paths.data, "train")["text"].tolist(), truncation=True,
                        max_length=cfg.model.max_length, padding=True, return_tensors="pt")
    encoder = trained.encoder
    rows, valid = ngram_rows(encoded["input_ids"], encoded["attention_mask"], encoder.orders, encoder.buckets, encoder.token_rows)
    touched = torch.zeros(len(initial), dtype=torch.bool)
    touched[rows[valid]] = True
    weights = encoder.embeddings.weight.detach()
    assert 0 < touched.sum() < len(initial)
    assert torch.equal(weights[~touched], initial[~touched])
    assert (weights[touched] != initial[touched]).any(dim=1).float().mean() > 0.99
