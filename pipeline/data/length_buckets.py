"""Short texts cut from test sentences, so accuracy can be reported per text length.

Language-ID users send queries, chat messages and titles as often as sentences, and a model that is right on
sentences can be wrong on a single word. Averaging over sentences hides that, so `evaluate` and
`make langid-bench` score four buckets: one word, two words, three to five words, and the whole sentence.

The short texts are spans of consecutive words cut from the test split's sentences, so they never overlap
training text and every language gets the same number in each bucket (one span per sentence). Punctuation at
a span's edges is stripped, as a user typing a word would not add it. Scripts written without spaces
(Chinese, Japanese, Thai, ...) have no words to count, so a "word" there is a run of characters: two for Han
and kana (the mean length of a Chinese word), four for other spaceless scripts (Thai syllable clusters).
"""

from __future__ import annotations

import random

import pandas as pd
import regex

SENTENCE = "sentence"
# bucket name -> (fewest, most) words in a span; the sentence bucket takes the whole text
SPANS: dict[str, tuple[int, int]] = {"1 word": (1, 1), "2 words": (2, 2), "3-5 words": (3, 5)}
BUCKETS: tuple[str, ...] = (*SPANS, SENTENCE)
# `regex` (not `re`) for Unicode properties: letters, marks and the scripts written without spaces between words
LETTER = regex.compile(r"\p{L}")
HAN_KANA = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
SPACELESS = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]")
# a whitespace-separated word without the punctuation and symbols at its edges (quotes, commas, brackets)
WORD = regex.compile(r"[\p{L}\p{M}\p{N}](?:\S*[\p{L}\p{M}\p{N}])?")
# a letter with the combining marks after it, so a span never starts with a Thai vowel sign cut from its consonant
CLUSTER = regex.compile(r"\p{L}\p{M}*")
RUN = regex.compile(r"(?:\p{L}\p{M}*)+")


def _words(text: str) -> tuple[list[str], str]:
    """The text's words with edge punctuation stripped, and the separator that joins them again. In scripts
    without spaces, a word is a run of 2 characters (Han and kana) or 4 letter clusters (Thai and others)."""
    letters = len(LETTER.findall(text))
    if not letters or len(SPACELESS.findall(text)) * 2 < letters:
        return [w for w in WORD.findall(text) if LETTER.search(w)], " "
    unit = 2 if len(HAN_KANA.findall(text)) * 2 >= letters else 4
    words = []
    for run in RUN.findall(text):
        clusters = CLUSTER.findall(run)
        words += ["".join(clusters[i : i + unit]) for i in range(0, max(1, len(clusters) - unit + 1), unit)]
    return words, ""


def cut_span(text: str, bucket: str, rng: random.Random) -> str:
    """One span of the bucket's length from `text` (the whole text for the sentence bucket, or when it is
    shorter than the span asked for); joined without spaces where the script writes none."""
    if bucket == SENTENCE:
        return text
    low, high = SPANS[bucket]
    words, separator = _words(text)
    if not words:
        return text
    n = min(rng.randint(low, high), len(words))
    start = rng.randrange(len(words) - n + 1)
    return separator.join(words[start : start + n])


def length_buckets(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Every row of `frame` (columns text, label and any others) once per bucket, its text cut to that bucket's
    length, with a `bucket` column; the same seed cuts the same spans."""
    rng = random.Random(seed)
    out = []
    for bucket in BUCKETS:
        cut = frame.copy()
        cut["text"] = [cut_span(text, bucket, rng) for text in frame["text"]]
        cut["bucket"] = bucket
        out.append(cut)
    return pd.concat(out, ignore_index=True)
