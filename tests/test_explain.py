"""Attention heatmaps and the t-SNE map, for a Hugging Face BERT and for the course transformer."""

import matplotlib.image
import numpy as np
import pytest
import torch

from pipeline.models.modeling import load_trained
from pipeline.stages.explain import explain, sentence_embeddings
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train

from conftest import tiny_config

TRANSFORMER = "langid-transformer.yaml"


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory):
    """The tiny Hugging Face BERT of configs/langid-transformer.yaml, trained once (the default has no attention)."""
    cfg = tiny_config(tmp_path_factory.mktemp("bert"), TRANSFORMER)
    prepare(cfg)
    train(cfg)
    return {"cfg": cfg}


def _check(result, layers, heads):
    assert len(result.attention_maps) == 4
    image = matplotlib.image.imread(result.attention_maps[0])
    assert image.shape[0] > 100 and image.shape[1] > 100 * heads / 2
    assert result.tsne.stat().st_size > 10_000
    text = result.report.read_text()
    assert "attention_1.png" in text and "tsne.png" in text


def test_explain_hugging_face_bert(bert_run):
    _check(explain(bert_run["cfg"]), layers=1, heads=2)


def test_explain_course_transformer_and_a_model_without_attention(tmp_path):
    cfg = tiny_config(tmp_path / "t", TRANSFORMER, **{"model.kind": "transformer", "train.epochs": "2"})
    prepare(cfg)
    train(cfg)
    _check(explain(cfg), layers=1, heads=2)
    cnn = tiny_config(tmp_path / "c", TRANSFORMER, **{"model.kind": "textcnn", "train.epochs": "1"})
    prepare(cnn)
    train(cnn)
    result = explain(cnn)
    assert result.attention_maps == [] and "has no attention to show" in result.report.read_text()


def test_embeddings_are_what_the_head_sees(bert_run):
    model, tokenizer = load_trained(bert_run["cfg"].paths.model)
    texts = ["hello world", "Доброе утро", "早上好"]
    features = sentence_embeddings(model, tokenizer, texts, 32)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        logits = model(**batch).logits.numpy()
    head = model.classifier
    expected = features @ head.weight.detach().numpy().T + head.bias.detach().numpy()
    assert np.allclose(expected, logits, atol=1e-4)
