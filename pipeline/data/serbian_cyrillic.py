"""Serbian Latin (Gaj's alphabet) to Cyrillic (Vuk's), one letter or digraph to one letter.

eld's and SIB-200's Serbian is written in Cyrillic, but the only word list wordfreq has for it is `sh`
(Serbo-Croatian, all in Latin script). Serbian's two alphabets map one to one, so the list can serve Serbian
once transliterated: without it, Serbian's training text was eld's sentences alone, while Russian, Ukrainian
and Bulgarian each had wordfreq's words, and single Serbian words went to them. A digraph across a prefix
boundary (nad|živeti, д and ж in Cyrillic) comes out as one letter (џ): rare, and a model of character n-grams
loses little to it.
"""

from __future__ import annotations

import regex

DIGRAPHS = {"lj": "љ", "nj": "њ", "dž": "џ"}
LETTERS = dict(zip("abcčćdđefghijklmnoprsštuvzž", "абцчћдђефгхијклмнопрсштувзж", strict=True))
# the digraphs first, so "lj" is one letter, not l + j
LATIN = regex.compile("|".join([*DIGRAPHS, *LETTERS]), regex.IGNORECASE)
FOREIGN = regex.compile(r"\p{Latin}")


def to_cyrillic(text: str) -> str:
    """The text in Serbian Cyrillic, keeping each letter's case ("Ljubav" -> "Љубав")."""

    def swap(match: regex.Match) -> str:
        latin = match.group()
        cyrillic = DIGRAPHS.get(latin.lower()) or LETTERS[latin.lower()]
        return cyrillic.upper() if latin[0].isupper() else cyrillic

    return LATIN.sub(swap, text)


def cyrillic_word(word: str) -> str | None:
    """The word in Cyrillic, or None when it keeps a letter Serbian's alphabet lacks (q, w, x, y: a foreign word)."""
    converted = to_cyrillic(word)
    return None if FOREIGN.search(converted) else converted
