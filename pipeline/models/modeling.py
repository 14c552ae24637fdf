"""Build the classifier: a pretrained Hugging Face encoder, or a small BERT made from the config."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from pipeline.config import COURSE_KINDS, CharNgramModel, FromScratchModel, ModelConfig, PretrainedModel
from pipeline.errors import MissingOutputError
from pipeline.models import (
    char_ngram,  # importing registers char_ngram with the Auto classes
    mean_pooling,  # importing registers bert_mean_pooling with the Auto classes
)
from pipeline.models.course import build_course_model  # importing registers the course models too
from pipeline.models.resolve import resolve


def label_maps(labels: list[str]) -> tuple[dict[int, str], dict[str, int]]:
    """id2label/label2id from the sorted label list, so nothing downstream ever says LABEL_0."""
    id2label = dict(enumerate(labels))
    return id2label, {label: i for i, label in id2label.items()}


def build_model(cfg: ModelConfig, labels: list[str], tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """A model of the section's kind, built from the section itself."""
    id2label, label2id = label_maps(labels)
    if isinstance(cfg, PretrainedModel) and cfg.pooling == "mean":
        return mean_pooling.from_encoder(
            resolve(cfg.name_or_path), num_labels=len(labels), id2label=id2label, label2id=label2id
        )
    if isinstance(cfg, PretrainedModel):
        return AutoModelForSequenceClassification.from_pretrained(
            resolve(cfg.name_or_path),
            num_labels=len(labels),
            id2label=id2label,
            label2id=label2id,
            ignore_mismatched_sizes=True,  # a checkpoint with its own head gets a fresh one sized to our labels
        )
    if isinstance(cfg, CharNgramModel):
        return char_ngram.build_char_ngram(cfg, len(tokenizer), tokenizer.pad_token_id, id2label, label2id)
    if isinstance(cfg, FromScratchModel):
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout,
            max_position_embeddings=cfg.max_length,
            pad_token_id=tokenizer.pad_token_id,
            num_labels=len(labels),
            id2label=id2label,
            label2id=label2id,
        )
        return BertForSequenceClassification(config)
    assert cfg.kind in COURSE_KINDS, cfg.kind
    return build_course_model(cfg, len(tokenizer), tokenizer.pad_token_id, id2label, label2id)


def count_parameters(model: PreTrainedModel) -> int:
    return sum(p.numel() for p in model.parameters())


def model_name(cfg: ModelConfig) -> str:
    """A readable name for reports, the manifest and the service's metadata."""
    if isinstance(cfg, PretrainedModel):
        return cfg.name_or_path
    if isinstance(cfg, CharNgramModel):  # the size is the hashed table's, then the blocks over windows if any
        blocks = f"-{cfg.ngram_layers}blocks-window{cfg.ngram_window}" if cfg.ngram_layers else ""
        return f"char_ngram-{cfg.ngram_buckets}x{cfg.hidden_size}{blocks}-{cfg.ngram_head}"
    family = "bert" if cfg.kind == "from_scratch" else cfg.kind
    return f"{family}-{getattr(cfg, 'num_layers', 1)}x{cfg.hidden_size}"


def load_trained(model_dir: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The trained model and its tokenizer; the models written here load through the Auto classes they registered.

    A char n-gram model saved as the course kind char_ngram (before it had its own model_type) loads as the char
    n-gram model it is.
    """
    path = model_dir / "config.json"
    if not path.is_file():
        raise MissingOutputError(f"no trained model in {model_dir}: run `make train` first")
    legacy = char_ngram.legacy_config(json.loads(path.read_text(encoding="utf-8")))
    if legacy is not None:
        model = char_ngram.CharNgramForSequenceClassification.from_pretrained(model_dir, config=legacy)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    return model, AutoTokenizer.from_pretrained(model_dir)
