"""Build the classifier: a pretrained Hugging Face encoder, or a small BERT made from the config."""

from __future__ import annotations

from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from pipeline.config import ModelConfig
from pipeline.errors import MissingOutputError
from pipeline.models import mean_pooling  # importing registers bert_mean_pooling with the Auto classes
from pipeline.models.course import (  # importing registers the course models with the Auto classes
    KINDS,
    build_course_model,
)
from pipeline.models.resolve import resolve


def label_maps(labels: list[str]) -> tuple[dict[int, str], dict[str, int]]:
    """id2label/label2id from the sorted label list, so nothing downstream ever says LABEL_0."""
    id2label = dict(enumerate(labels))
    return id2label, {label: i for i, label in id2label.items()}


def build_model(cfg: ModelConfig, labels: list[str], tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    id2label, label2id = label_maps(labels)
    if cfg.kind == "pretrained" and cfg.pooling == "mean":
        return mean_pooling.from_encoder(
            resolve(cfg.name_or_path), num_labels=len(labels), id2label=id2label, label2id=label2id
        )
    if cfg.kind == "pretrained":
        return AutoModelForSequenceClassification.from_pretrained(
            resolve(cfg.name_or_path),
            num_labels=len(labels),
            id2label=id2label,
            label2id=label2id,
            ignore_mismatched_sizes=True,  # a checkpoint with its own head gets a fresh one sized to our labels
        )
    if cfg.kind in KINDS:
        return build_course_model(
            cfg.kind,
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            num_labels=len(labels),
            id2label=id2label,
            label2id=label2id,
            max_length=cfg.max_length,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            num_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            dropout=cfg.dropout,
            positional=cfg.positional,
            ngram_orders=cfg.ngram_orders,
            ngram_buckets=cfg.ngram_buckets,
            ngram_head=cfg.ngram_head,
            ngram_layers=cfg.ngram_layers,
            ngram_window=cfg.ngram_window,
        )
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


def count_parameters(model: PreTrainedModel) -> int:
    return sum(p.numel() for p in model.parameters())


def model_name(cfg: ModelConfig) -> str:
    """A readable name for reports, the manifest and the service's metadata."""
    if cfg.kind == "pretrained":
        return cfg.name_or_path
    if cfg.kind == "char_ngram":  # the size is the hashed table's, then the blocks over windows if any
        blocks = f"-{cfg.ngram_layers}blocks-window{cfg.ngram_window}" if cfg.ngram_layers else ""
        return f"char_ngram-{cfg.ngram_buckets}x{cfg.hidden_size}{blocks}-{cfg.ngram_head}"
    family = "bert" if cfg.kind == "from_scratch" else cfg.kind
    return f"{family}-{cfg.num_layers}x{cfg.hidden_size}"


def load_trained(model_dir: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The trained model and its tokenizer; course models load through the Auto classes they registered."""
    if not (model_dir / "config.json").is_file():
        raise MissingOutputError(f"no trained model in {model_dir}: run `make train` first")
    return AutoModelForSequenceClassification.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
