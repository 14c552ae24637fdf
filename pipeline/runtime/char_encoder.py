"""The character tokenizer of char_ngram exports, in numpy: the same ids as its tokenizer.json, several times faster.

`make profile` showed the Rust tokenizer (one BPE "word" per text, split into its characters) and building the
padded arrays in Python taking more of a sentence's time than onnxruntime. Here a batch's texts are normalized in
Python (NFKC, lowercase, whitespace runs to one space, stripped: the tokenizer's own normalizer), joined, read as
UTF-32 code points in one buffer, mapped to ids through one lookup array, and written into the padded batch with
[CLS] and [SEP] in place, all vectorized.

It applies only to a tokenizer.json of exactly that shape (`CharEncoder.of` returns None for any other, and the
Predictor keeps the Rust tokenizer). A text that holds a special token's spelling ("[CLS]") goes through the Rust
tokenizer, which matches those before normalizing. tests/test_char_encoder.py holds the ids to the tokenizer's on
every test sentence, every script of the samples, and the edge cases of lowercasing and whitespace.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Unicode's White_Space, which the tokenizer's \s (Oniguruma, Unicode) matches; Python's \s also takes \x1c-\x1f
WHITESPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# What str.split() splits on beyond White_Space (it is the same set otherwise, checked over every code point).
# NFKC and lowercasing neither make nor remove them, so a text can be checked for them before normalizing.
NOT_WHITE_SPACE = "\x1c\x1d\x1e\x1f"
NORMALIZERS = [{"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
               {"type": "Strip", "strip_left": True, "strip_right": True}]


class CharEncoder:
    """input_ids and attention_mask for a batch of texts, right-padded to its longest, truncated at max_length."""

    def __init__(self, vocab: dict[str, int], unk_id: int, cls_id: int, sep_id: int, pad_id: int, lowercase: bool,
                 specials: list[str], max_length: int) -> None:
        self.lookup = np.full(0x110000, unk_id, dtype=np.int64)
        for char, i in vocab.items():
            if len(char) == 1:
                self.lookup[ord(char)] = i
        self.cls_id, self.sep_id, self.pad_id = cls_id, sep_id, pad_id
        self.lowercase = lowercase
        self.specials = specials
        self.specials_hold_newline = any("\n" in token for token in specials)
        self.max_length = max_length

    @classmethod
    def of(cls, path: Path, pad_id: int, max_length: int) -> CharEncoder | None:
        """The encoder of a character tokenizer.json; None when the file is any other tokenizer."""
        return cls.of_spec(json.loads(path.read_text(encoding="utf-8")), pad_id, max_length)

    @classmethod
    def of_spec(cls, spec: dict[str, Any], pad_id: int, max_length: int) -> CharEncoder | None:
        """The encoder of a tokenizer.json's content (a tokenizer's `backend_tokenizer.to_str()`), or None."""
        model, normalizer, post = spec.get("model") or {}, spec.get("normalizer") or {}, spec.get("post_processor") or {}
        steps = normalizer.get("normalizers") if normalizer.get("type") == "Sequence" else None
        lowercase = steps == NORMALIZERS
        if not (lowercase or steps == [NORMALIZERS[0], *NORMALIZERS[2:]]):
            return None
        vocab = model.get("vocab")
        if model.get("type") != "BPE" or model.get("merges") or spec.get("pre_tokenizer") is not None or not isinstance(vocab, dict):
            return None
        specials = [t["content"] for t in spec.get("added_tokens", [])]
        if any(len(token) != 1 for token in vocab if token not in specials) or model.get("byte_fallback"):
            return None
        single = [(p.get("SpecialToken") or {}).get("id") or ("A" if "Sequence" in p else None) for p in post.get("single", [])]
        if post.get("type") != "TemplateProcessing" or single != ["[CLS]", "A", "[SEP]"]:
            return None
        unk = model.get("unk_token")
        if unk not in vocab:
            return None
        return cls(vocab, vocab[unk], vocab["[CLS]"], vocab["[SEP]"], pad_id, lowercase, specials, max_length)

    def normalize(self, text: str, split_safe: bool | None = None) -> str:
        """The tokenizer's normalizer. `split_safe=True` says the text holds none of NOT_WHITE_SPACE (checked here
        when None), so str.split() collapses its whitespace exactly as the tokenizer's regex does."""
        text = unicodedata.normalize("NFKC", text)
        if self.lowercase:
            # the tokenizer lowercases character by character; str.lower() alone would apply Greek's final sigma
            text = text.replace("Σ", "σ").lower()
        if split_safe is None:
            split_safe = not any(c in text for c in NOT_WHITE_SPACE)
        if not split_safe:
            return WHITESPACE.sub(" ", text).strip(" ")
        # the same result as the line above, at a third of its time per sentence
        return " ".join(text.split())

    def has_special(self, text: str) -> bool:
        """Whether the text spells a special token, which the tokenizer reads as that token."""
        return "[" in text and any(token in text for token in self.specials)

    def any_special(self, texts: Sequence[str]) -> bool:
        """Whether any of the texts spells a special token: one look over the batch joined by newlines, which no
        special token of this tokenizer holds, so no spelling can run across two texts."""
        if self.specials_hold_newline:
            return any(self.has_special(t) for t in texts)
        return self.has_special("\n".join(texts))

    def __call__(self, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], list[bool]]:
        # one look for NOT_WHITE_SPACE over the whole batch (four substring searches in C) rather than one per text
        joined = "".join(texts)
        split_safe = not any(c in joined for c in NOT_WHITE_SPACE)
        normalized = [self.normalize(t, split_safe or None) for t in texts]
        points = np.frombuffer("".join(normalized).encode("utf-32-le"), dtype=np.uint32)
        lengths = np.fromiter((len(t) for t in normalized), dtype=np.int64, count=len(normalized))
        kept = np.minimum(lengths, self.max_length - 2)
        width = int(kept.max(initial=0)) + 2
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        rows = np.repeat(np.arange(len(texts)), kept)
        starts = np.cumsum(lengths) - lengths  # where each text begins in the joined code points
        within = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
        ids[rows, within + 1] = self.lookup[points[np.repeat(starts, kept) + within]]
        ids[:, 0] = self.cls_id
        ids[np.arange(len(texts)), kept + 1] = self.sep_id
        mask = (np.arange(width) < (kept + 2)[:, None]).astype(np.int64)
        return {"input_ids": ids, "attention_mask": mask}, (lengths > kept).tolist()
