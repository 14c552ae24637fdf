"""Optional extra training sentences for eld's language ID: word sequences drawn from the word lists of the
PyPI package wordfreq (installed, so offline on every clone), or real sentences from local copies of SIB-200 and Tatoeba.

eld's 700 training sentences per language are web text, and its Norwegian mixes Bokmål, Nynorsk and old
spellings; wordfreq's lists are counted over Wikipedia, subtitles, news and web text in the millions of words.
Words drawn by frequency carry that larger corpus's character n-grams within words, which is what a character
n-gram model reads; the n-grams across two words are random and so carry no signal either way.

SIB-200 (Flores-200 sentences, one folder per language) and Tatoeba (short everyday sentences, the LASER
test pairs) are read for eld's language codes through pipeline/data/language_codes.py and labelled by them.
Neither is ever required: a config names the folders in data.extra_train, and a missing folder is an
error that says the data is optional. Only SIB-200's train.tsv is read, never dev or test: the language-ID
benchmark (`make langid-bench`) scores SIB-200's test sentences, and a model trained on them would be graded
on what it memorised. Cleaning (cleaning.py) decides which of these rows reach the training split.
"""

from __future__ import annotations

import itertools
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import ExtraTrainConfig
from pipeline.data.language_codes import SIB_FOLDERS, TATOEBA_CODES, WORDFREQ_CODES, WORDFREQ_CYRILLIC
from pipeline.data.serbian_cyrillic import cyrillic_word
from pipeline.data.tables import read_table
from pipeline.errors import DataError

COLUMNS = ["text", "label", "language"]
CODES = {"sib200": SIB_FOLDERS, "tatoeba": TATOEBA_CODES, "wordfreq": WORDFREQ_CODES}
# Words per drawn sequence, uniform in [low, high): 12.5 on average, a little under eld's median sentence
# (15 words; 10 to 22 for the middle half, in the languages written with spaces).
SEQUENCE_WORDS = (6, 20)
DIGIT = re.compile(r"\d")


@dataclass
class ExtraRows:
    """The rows read (text, label, language; label = language = eld's code), and what was not read."""

    rows: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)  # language -> why it has no rows
    over_cap: int = 0  # rows left out by max_per_language


def file_for(source: str, root: Path, code: str) -> Path:
    """The one file read for a language: SIB-200's train split, or Tatoeba's non-English side."""
    if source == "sib200":
        return root / code / "train.tsv"
    return root / f"tatoeba.{code}-eng.{code}"


def read_extra(cfg: ExtraTrainConfig, languages: list[str], seed: int = 42) -> ExtraRows:
    """Rows of `cfg.source` for eld's `languages` (every language the source maps when empty), each language
    capped at cfg.max_per_language by a seeded sample. A language the source has no file for is skipped."""
    if cfg.source == "wordfreq":
        return _drawn_words(cfg, languages, seed)
    root = Path(cfg.path)
    if not root.is_dir():
        raise DataError(
            f"data.extra_train ({cfg.source}): folder not found: {root} (resolved to {root.resolve()}). This "
            "training data is optional (a local copy of the corpus): fix the path or remove the data.extra_train entry."
        )
    codes = CODES[cfg.source]
    frames, skipped, over_cap = [], {}, 0
    for lang in languages or sorted(codes):
        if lang not in codes:
            skipped[lang] = f"{cfg.source} has no file for it (see pipeline/data/language_codes.py)"
            continue
        path = file_for(cfg.source, root, codes[lang])
        if not path.is_file():
            skipped[lang] = f"no file {path}"
            continue
        texts = _texts(cfg.source, path)
        if cfg.max_per_language is not None and len(texts) > cfg.max_per_language:
            over_cap += len(texts) - cfg.max_per_language
            texts = texts.sample(n=cfg.max_per_language, random_state=seed)
        frames.append(pd.DataFrame({"text": texts.to_numpy(), "label": lang, "language": lang}))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return ExtraRows(rows, skipped, over_cap)


def _texts(source: str, path: Path) -> pd.Series:
    if source == "sib200":
        frame = read_table(path)
        if "text" not in frame.columns:
            raise DataError(f"{path}: no text column; it has {', '.join(map(str, frame.columns))}")
        return frame["text"]
    return pd.Series(path.read_text(encoding="utf-8").splitlines(), dtype=str)


def _drawn_words(cfg: ExtraTrainConfig, languages: list[str], seed: int) -> ExtraRows:
    """cfg.max_per_language sequences per language of words drawn by frequency from its top_words list.

    Words with digits are left out: wordfreq writes every digit as 0 ("0000"), which no real text does. Serbian's
    words come from the Serbo-Croatian list transliterated to Cyrillic, leaving out words with q, w, x or y.
    Each language's generator is seeded by the seed and its code, so adding a language changes no other's rows.
    """
    import wordfreq  # here, not at the top: only this source needs the package's 50 MB of word lists

    frames, skipped = [], {}
    for lang in languages or sorted(WORDFREQ_CODES):
        if lang not in WORDFREQ_CODES:
            skipped[lang] = "wordfreq has no word list for it (see pipeline/data/language_codes.py)"
            continue
        counts = wordfreq.get_frequency_dict(WORDFREQ_CODES[lang], wordlist="best")  # most frequent first
        found = (w for w in counts if not DIGIT.search(w))
        if lang in WORDFREQ_CYRILLIC:
            found = ((c, w) for w in found if (c := cyrillic_word(w)))
        else:
            found = ((w, w) for w in found)
        pairs = list(itertools.islice(found, cfg.top_words))
        words = [shown for shown, _ in pairs]
        weights = np.array([counts[listed] for _, listed in pairs])
        rng = np.random.default_rng([seed, zlib.crc32(lang.encode())])
        lengths = rng.integers(*SEQUENCE_WORDS, size=cfg.max_per_language)
        drawn = rng.choice(len(words), size=lengths.sum(), p=weights / weights.sum())
        texts = [" ".join(words[i] for i in chunk) for chunk in np.split(drawn, np.cumsum(lengths)[:-1])]
        frames.append(pd.DataFrame({"text": texts, "label": lang, "language": lang}))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return ExtraRows(rows, skipped)
