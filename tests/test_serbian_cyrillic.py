"""Serbian's wordfreq words: the Serbo-Croatian list transliterated to the Cyrillic that eld and SIB-200 write."""

from pipeline.config import ExtraTrainConfig
from pipeline.data.extra_train import read_extra
from pipeline.data.serbian_cyrillic import cyrillic_word, to_cyrillic


def test_digraphs_are_one_letter_and_case_is_kept():
    assert to_cyrillic("Ljubav je dobra, Njegoš i džep. Đak ćevap šljiva žaba") == "Љубав је добра, Његош и џеп. Ђак ћевап шљива жаба"
    assert to_cyrillic("LJUDI") == "ЉУДИ" and to_cyrillic("Džep") == "Џеп"


def test_words_with_letters_serbian_lacks_are_left_out():
    assert cyrillic_word("youtube") is None and cyrillic_word("wifi") is None
    assert cyrillic_word("škola") == "школа"


def test_serbian_draws_cyrillic_words_and_croatian_keeps_latin():
    rows = read_extra(ExtraTrainConfig(source="wordfreq", max_per_language=20, top_words=5000), ["sr", "hr"], seed=1).rows
    serbian = " ".join(rows.loc[rows["label"] == "sr", "text"])
    croatian = " ".join(rows.loc[rows["label"] == "hr", "text"])
    letters = [ch for ch in serbian if ch.isalpha()]
    assert letters and all("\u0400" <= ch <= "\u04ff" for ch in letters)
    assert any("a" <= ch <= "z" for ch in croatian) and not any("\u0400" <= ch <= "\u04ff" for ch in croatian)
