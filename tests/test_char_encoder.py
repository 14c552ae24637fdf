"""The numpy character encoder gives exactly the ids, mask and truncation of the character tokenizer.json it stands
in for, on every eld sentence (60 languages, a dozen scripts) and on the edge cases of normalizing."""

import sys
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from pipeline.config import DataConfig, TokenizerConfig
from pipeline.data.sources import read_eld
from pipeline.data.tokenization import train_tokenizer
from pipeline.runtime.char_encoder import NOT_WHITE_SPACE, WHITESPACE, CharEncoder

MAX_LENGTH = 64
EDGE_CASES = [
    "", " ", "x", "x" * 200,
    "ΟΔΟΣ ΣΙΣΥΦΟΣ Σ",  # capital sigma: str.lower() alone would write the final ς
    "İstanbul ǅ ﬁ Ａ ß ẞ Ω K Å",  # one character lowercasing to two, titlecase, ligature, full width, Kelvin
    "a\x1cb\x1d\x1e\x1fc",  # separators Python's \s takes and Unicode's White_Space does not
    "tab\tnew\nline\r\x0b\x0c\x85 \u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000end",
    "\u200bzero\u200bwidth \ufeffbom",
    "e\u0301 café",  # a combining accent NFKC composes
    "emoji 😀 𝔘 \U0001f1eb\U0001f1f7",  # beyond the BMP
    "  spaces   around  ",
]


@pytest.fixture(scope="module")
def eld_texts() -> list[str]:
    return read_eld(DataConfig(source="eld")).splits["train"]["text"].tolist()


def tokenizer_file(tmp_path: Path, texts: list[str], lowercase: bool) -> Path:
    """A character tokenizer trained as prepare trains it, on half the sentences: the rest hold unseen characters."""
    tokenizer = train_tokenizer(texts[::2], TokenizerConfig(kind="char", lowercase=lowercase, min_frequency=2), MAX_LENGTH)
    tokenizer.save_pretrained(tmp_path)
    return tmp_path / "tokenizer.json"


def reference(path: Path, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """What the Predictor built from the Rust tokenizer: ids right-padded with [PAD], the mask, the overflow."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH)
    encodings = tokenizer.encode_batch_fast(texts)
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(texts), width), dtype=np.int64)  # [PAD] is id 0
    for row, e in enumerate(encodings):
        ids[row, : len(e.ids)] = e.ids
    mask = (ids != 0).astype(np.int64)
    return ids, mask, [bool(e.overflowing) for e in encodings]


@pytest.mark.parametrize("lowercase", [True, False])
def test_the_same_ids_as_the_tokenizer_on_every_eld_sentence_and_the_edge_cases(tmp_path, eld_texts, lowercase):
    path = tokenizer_file(tmp_path, eld_texts, lowercase)
    encoder = CharEncoder.of(path, pad_id=0, max_length=MAX_LENGTH)
    assert encoder is not None and encoder.lowercase == lowercase
    texts = eld_texts + EDGE_CASES
    for start in range(0, len(texts), 512):
        batch = texts[start : start + 512]
        feed, truncated = encoder(batch)
        ids, mask, overflowing = reference(path, batch)
        assert np.array_equal(feed["input_ids"], ids), batch
        assert np.array_equal(feed["attention_mask"], mask)
        assert truncated == overflowing
    for text in EDGE_CASES:  # alone too: a batch of one is as wide as its text
        feed, truncated = encoder([text])
        ids, _, overflowing = reference(path, [text])
        assert feed["input_ids"].tolist() == ids.tolist() and truncated == overflowing, repr(text)


def test_other_tokenizers_keep_the_rust_one(tmp_path, eld_texts):
    tokenizer = train_tokenizer(eld_texts[:2000], TokenizerConfig(kind="wordpiece", vocab_size=500), MAX_LENGTH)
    tokenizer.save_pretrained(tmp_path)
    assert CharEncoder.of(tmp_path / "tokenizer.json", pad_id=0, max_length=MAX_LENGTH) is None


def test_the_predictor_uses_it_and_sends_a_special_tokens_spelling_to_the_rust_tokenizer(pipeline_run):
    """The tokenizer reads "[SEP]" in a text as the special token, before normalizing; the Predictor sends such a
    batch to it, so the ids stay the tokenizer's."""
    from pipeline.runtime.predictor import Predictor

    predictor = Predictor(pipeline_run["cfg"].paths.export)
    assert predictor.char_encoder is not None  # the default's export: char_ngram's character tokenizer
    texts = ["say [SEP] twice", "[brackets] only"]
    assert predictor.char_encoder.has_special(texts[0]) and not predictor.char_encoder.has_special(texts[1])
    feed, _ = predictor._encode(texts)
    expected = [e.ids for e in predictor.tokenizer.encode_batch_fast(texts)]
    assert [row[: len(ids)].tolist() for row, ids in zip(feed["input_ids"], expected, strict=True)] == expected
    sep = predictor.tokenizer.token_to_id("[SEP]")
    assert expected[0].count(sep) == 2  # read as the token, which the numpy encoder would have spelt out
    assert predictor.char_encoder.any_special(texts) and not predictor.char_encoder.any_special(texts[1:])
    split = ["ends in [SE", "P] starts the next"]  # the batch is looked at as one string: no token across two texts
    assert not predictor.char_encoder.any_special(split)
    feed, _ = predictor._encode(split)
    expected = [e.ids for e in predictor.tokenizer.encode_batch_fast(split)]
    assert [row[: len(ids)].tolist() for row, ids in zip(feed["input_ids"], expected, strict=True)] == expected


def test_str_split_splits_on_white_space_and_the_four_separators_only():
    """normalize() collapses whitespace with str.split() unless a text holds one of \\x1c-\\x1f: that is the same
    as the tokenizer's rule only while Python's idea of a space is White_Space plus those four."""
    splits = {c for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    white = {c for c in range(sys.maxunicode + 1) if WHITESPACE.fullmatch(chr(c))}
    assert splits == white | {0x1C, 0x1D, 0x1E, 0x1F}
    assert {chr(c) for c in splits - white} == set(NOT_WHITE_SPACE)


@pytest.mark.parametrize("lowercase", [True, False])
def test_training_tokenizes_a_char_tokenizer_with_it_to_the_same_rows(tmp_path, eld_texts, lowercase):
    from transformers import AutoTokenizer

    from pipeline.stages.train import _tokenize

    tokenizer_file(tmp_path, eld_texts, lowercase)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    tokenize = _tokenize(tokenizer, MAX_LENGTH)
    texts = eld_texts[:3000] + EDGE_CASES
    for batch in (texts[i : i + 1000] for i in range(0, len(texts), 1000)):
        expected = tokenizer(batch, truncation=True, max_length=MAX_LENGTH)
        got = tokenize({"text": batch})
        assert got["input_ids"] == expected["input_ids"] and got["attention_mask"] == expected["attention_mask"]
    special = ["a [SEP] b", "plain"]  # the tokenizer reads the spelling as its token: that batch goes to it
    assert tokenize({"text": special})["input_ids"] == tokenizer(special, truncation=True, max_length=MAX_LENGTH)["input_ids"]
