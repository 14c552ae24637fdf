"""The writing system (script) of each letter, as numpy lookups over code points, so that the Predictor can
tell at batch speed whether a text is written mostly in scripts its training data never used.

A language-ID model answers every text with one of its training languages, at full confidence even for a
script none of them is written in (Khmer, Lao, Tibetan): no character of such a text occurred in training, so
the answer says nothing about the text. Which scripts a text uses is known without asking the model.

Python's unicodedata has no Script property. The first word of a letter's Unicode name is its script for
letters: "LATIN SMALL LETTER A", "KHMER LETTER KA", "CJK UNIFIED IDEOGRAPH-4E00" (Han), "HIRAGANA LETTER A".
The name is read from the first letter of the letter's compatibility decomposition (NFKD), so fullwidth,
mathematical and ligature forms ("FULLWIDTH LATIN CAPITAL LETTER A", "ARABIC LIGATURE ...") count as the
script they are forms of. A few rare scripts share a first word (Tai Le, Tai Tham and Tai Viet are all TAI);
that only matters when one of them is trained and another is not. The few dozen letters Unicode puts in no
script (modifier letters such as the apostrophe-like ones, the kana prolonged sound mark) get first words of
their own (MODIFIER, KATAKANA-HIRAGANA): too few in any real text to decide what most of its letters are.

Letters are the characters of Unicode category L* (str.isalpha). Marks are left out: combining diacritics
belong to whatever letter they sit on and are named COMBINING, not by a script, and the vowel signs of
Brahmic scripts (Khmer, Tibetan, Devanagari) always follow a consonant, which is a letter. Digits,
punctuation, symbols and emoji are in no script here: a text of only those has no letters, and the rule that
reads these counts leaves its answer to the model.
"""

from __future__ import annotations

import functools
import itertools
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


def script_of(char: str) -> str | None:
    """The script of one character: the first word of the Unicode name of the first letter of its NFKD form
    (of the character itself when that form has no letter, as for Arabic's isolated vowel-sign ligatures, which
    decompose to a space and marks); None for a character that is no letter."""
    if not char.isalpha():
        return None
    base = next((c for c in unicodedata.normalize("NFKD", char) if c.isalpha()), char)
    return unicodedata.name(base, "").split(" ", 1)[0] or None


@dataclass(frozen=True)
class ScriptTable:
    """Every code point's script as a small integer: ids[cp] indexes names, and 0 (names[0] is "") marks a
    code point that is no letter."""

    ids: np.ndarray
    names: tuple[str, ...]


@functools.cache
def script_table() -> ScriptTable:
    """The table over all of Unicode, built once per process: reading the names of every letter takes a
    fraction of a second, once, while a lookup per text then costs a gather instead of a Python loop."""
    names: dict[str, int] = {"": 0}
    ids = np.zeros(sys.maxunicode + 1, dtype=np.uint16)
    for cp in range(sys.maxunicode + 1):
        script = script_of(chr(cp))
        if script is not None:
            ids[cp] = names.setdefault(script, len(names))
    return ScriptTable(ids, tuple(names))


def code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' code points in one array after a leading NUL, and the offsets of the texts in it: text i is
    points[offsets[i] + 1 : offsets[i + 1] + 1].

    One encode for the whole batch instead of one per text. The NUL (no letter) makes a running sum over the
    array start at zero, so a text's sum is the difference of the running sum at two offsets, even for an
    empty text. "surrogatepass" keeps a lone surrogate (which JSON can carry) as one code point, so the
    offsets stay those of the Python strings."""
    joined = "".join(("\0", *texts)).encode("utf-32-le", "surrogatepass")
    offsets = np.fromiter(itertools.accumulate(map(len, texts), initial=0), dtype=np.int64, count=len(texts) + 1)
    return np.frombuffer(joined, dtype=np.uint32), offsets


def letter_scripts(texts: Iterable[str]) -> Counter[str]:
    """How many letters of the texts are in each script."""
    table = script_table()
    points, _ = code_points(list(texts))
    counts = np.bincount(table.ids[points], minlength=len(table.names))
    return Counter({table.names[i]: int(n) for i, n in enumerate(counts) if i and n})


def common_scripts(texts: Iterable[str], min_share: float) -> set[str]:
    """The scripts that hold at least min_share of the texts' letters (none when the texts have no letters)."""
    counts = letter_scripts(texts)
    total = sum(counts.values())
    return {script for script, n in counts.items() if n >= min_share * total}


class UnseenScripts:
    """Tells which texts have most of their letters in scripts outside a known set.

    The lookup holds +1 for a letter of an unknown script, -1 for a letter of a known one and 0 for anything
    else, so one sum per text is (unseen letters - seen letters): above zero exactly when more than half of
    its letters are unseen. A text with no letters sums to zero and is never flagged."""

    def __init__(self, known: Iterable[str]) -> None:
        table = script_table()
        known = set(known)
        weight = np.array([0] + [-1 if name in known else 1 for name in table.names[1:]], dtype=np.int8)
        self.known = sorted(known)
        self.weights = weight[table.ids]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """One boolean per text: True when more than half of its letters are in scripts not known."""
        points, offsets = code_points(texts)
        return np.diff(np.cumsum(self.weights[points])[offsets]) > 0
