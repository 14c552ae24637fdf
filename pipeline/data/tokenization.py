"""Tokenizers: trained on the train split for from-scratch models, or taken from the pretrained model.

The tokenizer is made once, at prepare, and then travels unchanged through train, export and serving,
so nothing downstream can drift from what the coverage report measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from pipeline.config import ModelConfig, TokenizerConfig
from pipeline.models.resolve import resolve

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
UNK_WARNING_RATE = 0.05


def _normalizer(cfg: TokenizerConfig, *then: normalizers.Normalizer) -> normalizers.Normalizer:
    steps: list[normalizers.Normalizer] = [normalizers.NFKC()]
    if cfg.lowercase:
        steps.append(normalizers.Lowercase())
    return normalizers.Sequence([*steps, *then])


def _characters(cfg: TokenizerConfig) -> Tokenizer:
    """One token per character (Unicode code point), the space included, for models that build their own
    n-grams from characters (char_ngram).

    NFKC first folds compatibility forms (full-width Latin, ligatures, Arabic presentation forms) into the
    characters they stand for, so one letter has one id. Every run of whitespace then becomes one space and
    the ends are stripped: a space token means one word boundary whatever the input's spacing. A character
    seen fewer than min_frequency times in the training text, or never, reads as [UNK]. It trains as
    WordLevel over single characters, whose vocabulary is exactly the kept characters, and is saved as BPE
    (_unsplit_characters).
    """
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = _normalizer(cfg, normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip())
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return tok


def _unsplit_characters(tok: Tokenizer) -> Tokenizer:
    """The trained character vocabulary as BPE without merges and without a pre-tokenizer: the same ids
    (tests/test_char_ngram.py checks them against a plain-Python reference), but BPE splits a text into its
    characters itself, where WordLevel needs the regex pre-tokenizer to cut it first, and for char_ngram
    tokenizing, not the ONNX graph, is most of what the service spends per text."""
    spec = json.loads(tok.to_str())
    spec["pre_tokenizer"] = None
    spec["model"] = {
        "type": "BPE", "dropout": None, "unk_token": "[UNK]", "continuing_subword_prefix": None,
        "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
        "vocab": spec["model"]["vocab"], "merges": [],
    }
    return Tokenizer.from_str(json.dumps(spec))


def _untrained(cfg: TokenizerConfig) -> tuple[Tokenizer, trainers.Trainer]:
    common = {"vocab_size": cfg.vocab_size, "special_tokens": SPECIAL_TOKENS, "show_progress": False}
    if cfg.kind == "char":
        return _characters(cfg), trainers.WordLevelTrainer(min_frequency=cfg.min_frequency, **common)
    if cfg.kind == "wordpiece":
        # Long words must not collapse to [UNK]: Thai and Lao write whole phrases without spaces.
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=1000))
        tok.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=cfg.lowercase
        )
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        return tok, trainers.WordPieceTrainer(min_frequency=cfg.min_frequency, **common)
    if cfg.kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        trainer: trainers.Trainer = trainers.BpeTrainer(min_frequency=cfg.min_frequency, **common)
    else:
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(unk_token="[UNK]", **common)
    tok.normalizer = _normalizer(cfg)
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return tok, trainer


def _canonical(tok: Tokenizer) -> Tokenizer:
    """Renumber the vocabulary in a fixed order.

    The trainers fill part of the vocabulary from hash maps, so two runs on the same text give the same
    tokens under different ids, and a seeded model would then train differently. Special tokens keep
    their ids; the rest are ordered by score (Unigram) or by text.
    """
    spec = json.loads(tok.to_str())
    model = spec["model"]
    if model["type"] == "Unigram":
        specials = [p for p in model["vocab"] if p[0] in SPECIAL_TOKENS]
        rest = sorted((p for p in model["vocab"] if p[0] not in SPECIAL_TOKENS), key=lambda p: (-p[1], p[0]))
        model["vocab"] = specials + rest
        model["unk_id"] = [p[0] for p in model["vocab"]].index("[UNK]")
    else:
        ordered = sorted(model["vocab"], key=lambda t: (t not in SPECIAL_TOKENS, model["vocab"][t] if t in SPECIAL_TOKENS else 0, t))
        model["vocab"] = {token: i for i, token in enumerate(ordered)}
    for added in spec.get("added_tokens", []):
        added["id"] = model["vocab"][added["content"]] if isinstance(model["vocab"], dict) else [p[0] for p in model["vocab"]].index(added["content"])
    return Tokenizer.from_str(json.dumps(spec))


def train_tokenizer(texts: list[str], cfg: TokenizerConfig, max_length: int) -> PreTrainedTokenizerFast:
    tok, trainer = _untrained(cfg)
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    tok = _canonical(tok)
    if cfg.kind == "char":
        tok = _unsplit_characters(tok)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
        model_input_names=["input_ids", "attention_mask"],
    )


def build_tokenizer(model: ModelConfig, train_texts: list[str]) -> PreTrainedTokenizerBase:
    if model.kind == "pretrained":
        tokenizer = AutoTokenizer.from_pretrained(resolve(model.name_or_path))
        tokenizer.model_max_length = model.max_length
    else:
        tokenizer = train_tokenizer(train_texts, model.tokenizer, model.max_length)
    if model.text_prefix:
        with_prefix(tokenizer, model.text_prefix)
    return tokenizer


def with_prefix(tokenizer: PreTrainedTokenizerBase, prefix: str) -> None:
    """Make the tokenizer's own normaliser prepend `prefix`, so the saved tokenizer carries it to every stage
    and to the service; no caller can forget it, and the export contract stays one folder."""
    backend = tokenizer.backend_tokenizer
    steps = [normalizers.Prepend(prefix)]
    if backend.normalizer is not None:
        steps.append(backend.normalizer)
    backend.normalizer = normalizers.Sequence(steps)


@dataclass
class Coverage:
    group: str
    texts: int
    unk_rate: float
    tokens_per_char: float
    warn: bool


def _ids(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens; a fast tokenizer's Rust backend directly, since building transformers'
    BatchEncoding for every training row took most of prepare's coverage time."""
    if tokenizer.is_fast:
        backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # a copy: the caller's keeps its truncation
        backend.no_truncation()
        backend.no_padding()
        return [e.ids for e in backend.encode_batch_fast(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]


def coverage(tokenizer: PreTrainedTokenizerBase, frame: pd.DataFrame) -> list[Coverage]:
    """Per language (or label when there is no language): the share of [UNK] tokens and tokens per character.

    A vocabulary without a script's characters maps its words to [UNK]; the model then cannot tell
    those texts apart, whatever it is trained on, so users must see it before they train.
    """
    group = frame["language"].fillna(frame["label"]) if frame["language"].notna().any() else frame["label"]
    unk_id = tokenizer.unk_token_id
    rows = []
    for name, texts in frame["text"].groupby(group):
        encoded = _ids(tokenizer, list(texts))
        tokens = sum(len(ids) for ids in encoded)
        unknown = sum(ids.count(unk_id) for ids in encoded) if unk_id is not None else 0
        chars = int(texts.str.len().sum())
        unk_rate = unknown / tokens if tokens else 1.0
        rows.append(Coverage(str(name), len(texts), unk_rate, tokens / max(chars, 1), unk_rate > UNK_WARNING_RATE))
    return sorted(rows, key=lambda c: (-c.unk_rate, c.group))

