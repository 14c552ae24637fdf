"""Optional extra training data for eld's language ID (data.extra_train): what is read, what cleaning lets
into train, and what the config refuses. Fake SIB-200 and Tatoeba folders are written here; the wordfreq
tests read the installed package's real word lists; only the last test reads ../shared/data, and it skips
without it."""

from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import ConfigError, DataConfig, ExtraTrainConfig, load_config
from pipeline.data.cleaning import clean
from pipeline.data.extra_train import SEQUENCE_WORDS, read_extra
from pipeline.data.language_codes import SIB_FOLDERS, TATOEBA_CODES, WORDFREQ_CODES
from pipeline.data.sources import RawData, read_source
from pipeline.errors import DataError
from pipeline.runtime.scripts import letter_scripts

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def sib_folder(root: Path, texts: dict[str, dict[str, list[str]]]) -> Path:
    """root/<lang_Script>/<split>.tsv for {eld code: {split: texts}}."""
    for lang, splits in texts.items():
        folder = root / SIB_FOLDERS[lang]
        folder.mkdir(parents=True)
        for split, lines in splits.items():
            frame = pd.DataFrame({"index_id": range(len(lines)), "category": "science/technology", "text": lines})
            frame.to_csv(folder / f"{split}.tsv", sep="\t", index=False)
    return root


def tatoeba_folder(root: Path, texts: dict[str, list[str]]) -> Path:
    """root/tatoeba.<xxx>-eng.{xxx,eng} for {eld code: texts}; the English side says so in every line."""
    root.mkdir(parents=True, exist_ok=True)
    for lang, lines in texts.items():
        code = TATOEBA_CODES[lang]
        (root / f"tatoeba.{code}-eng.{code}").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (root / f"tatoeba.{code}-eng.eng").write_text("\n".join(f"English {i}" for i in range(len(lines))) + "\n")
    return root


def frame(rows):
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def test_sib200_reads_train_only_labelled_by_eld_code(tmp_path):
    root = sib_folder(tmp_path, {
        "de": {"train": ["Der Hund schläft.", "Die Katze spielt."], "dev": ["DEV de"], "test": ["TEST de"]},
        "sr": {"train": ["Пас спава."], "dev": ["DEV sr"], "test": ["TEST sr"]},
    })
    found = read_extra(ExtraTrainConfig(source="sib200", path=str(root)), ["de", "sr"])
    assert sorted(found.rows.itertuples(index=False, name=None)) == [
        ("Der Hund schläft.", "de", "de"), ("Die Katze spielt.", "de", "de"), ("Пас спава.", "sr", "sr"),
    ]
    assert found.skipped == {} and found.over_cap == 0


def test_tatoeba_reads_the_other_side_and_skips_what_it_lacks(tmp_path):
    root = tatoeba_folder(tmp_path / "v1", {"de": ["Ich bin müde.", "Wo ist Tom?"], "fr": ["Je suis là."]})
    found = read_extra(ExtraTrainConfig(source="tatoeba", path=str(root)), ["de", "fr", "it", "ku"])
    assert sorted(found.rows["text"]) == ["Ich bin müde.", "Je suis là.", "Wo ist Tom?"]
    assert set(found.rows["label"]) == {"de", "fr"} and (found.rows["label"] == found.rows["language"]).all()
    assert sorted(found.skipped) == ["it", "ku"]
    assert "tatoeba.ita-eng.ita" in found.skipped["it"]  # mapped, but the file is absent
    assert "no file for it" in found.skipped["ku"]  # Sorani: Tatoeba's kur is Kurmanji, never mapped
    every = read_extra(ExtraTrainConfig(source="tatoeba", path=str(root)), [])
    assert set(every.rows["label"]) == {"de", "fr"} and len(every.skipped) == len(TATOEBA_CODES) - 2


def test_max_per_language_is_a_seeded_sample_and_counted(tmp_path):
    root = tatoeba_folder(tmp_path, {"de": [f"Satz {i}" for i in range(10)], "fr": ["Une phrase.", "Deux."]})
    cfg = ExtraTrainConfig(source="tatoeba", path=str(root), max_per_language=3)
    first, again = read_extra(cfg, ["de", "fr"], seed=1), read_extra(cfg, ["de", "fr"], seed=1)
    assert first.rows["label"].value_counts().to_dict() == {"de": 3, "fr": 2}
    assert first.over_cap == 7
    assert first.rows.equals(again.rows)
    others = {tuple(read_extra(cfg, ["de"], seed=s).rows["text"]) for s in range(5)}
    assert len(others) > 1  # the seed picks the sample; it is not simply the first rows


def test_a_missing_folder_says_the_data_is_optional(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DataError) as err:
        read_extra(ExtraTrainConfig(source="sib200", path=str(missing)), ["de"])
    message = str(err.value)
    assert str(missing) in message and "optional" in message and "local copy" in message
    assert "data.extra_train (sib200)" in message


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.source=files", "data.train_file=x.csv"], "data.extra_train adds rows labelled with eld's language codes and needs data.source=eld, not files"),
        (["data.source=folder", "data.folder=x"], "needs data.source=eld, not folder"),
    ],
)
def test_extra_train_needs_the_eld_source(overrides, message):
    extra = "data.extra_train=[{source: tatoeba, path: somewhere}]"
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT / "configs/default.yaml", [*overrides, extra])
    assert load_config(ROOT / "configs/default.yaml", [extra]).data.extra_train[0].source == "tatoeba"


def test_bad_items_name_the_key_inside_the_list():
    with pytest.raises(ConfigError) as err:
        load_config(ROOT / "configs/default.yaml", ["data.extra_train=[{source: tatoeba, path: x, nope: 1}]"])
    assert "unknown key data.extra_train[0].nope; known keys here: max_per_language, path, source, top_words" in str(err.value)
    with pytest.raises(ConfigError, match=r"data.extra_train\[0\].source must be one of 'sib200', 'tatoeba' or 'wordfreq'"):
        load_config(None, ["data.extra_train=[{source: wiki, path: x}]"])
    with pytest.raises(ConfigError, match=r"data.extra_train\[0\].max_per_language must be greater than or equal to 1"):
        load_config(None, ["data.extra_train=[{source: sib200, path: x, max_per_language: 0}]"])


def _splits(n_train: int = 10):
    """Given splits (nothing to split off) for labels a and b, with texts that name their split."""
    return {
        "train": frame([(f"{lab} train {i}", lab, lab) for lab in "ab" for i in range(n_train)]),
        "validation": frame([(f"{lab} validation {i}", lab, lab) for lab in "ab" for i in range(3)]),
        "test": frame([(f"{lab} test {i}", lab, lab) for lab in "ab" for i in range(3)]),
    }


def test_extra_rows_that_leak_repeat_or_lack_a_label_are_dropped_and_counted():
    extra = frame([
        ("a extra 0", "a", "a"), ("b extra 0", "b", "b"),
        ("  A   VALIDATION 1 ", "a", "a"), ("b test 2", "b", "b"), ("b TEST 0", "a", "a"),  # leakage, folded
        ("a train 4", "a", "a"),  # already in train
        ("a extra 0", "a", "a"), ("A Extra 0", "a", "a"),  # duplicates of the first extra row
        ("c extra 0", "c", "c"), ("c extra 1", "c", "c"),  # a label train lacks
        ("   ", "a", "a"),
    ])
    data = clean(RawData(_splits(), "test", extra_train=extra), DataConfig())
    assert data.dropped["extra train: text also in validation or test (leakage)"] == 3
    assert data.dropped["extra train: text already in train"] == 1
    assert data.dropped["extra train: duplicate text"] == 2
    assert data.dropped["extra train: label not in train"] == 2
    assert data.dropped["extra train: empty text"] == 1
    train = data.splits["train"]
    assert len(train) == 22 and sorted(t for t in train["text"] if "extra" in t) == ["a extra 0", "b extra 0"]
    assert data.labels == ["a", "b"]
    for split in ("validation", "test"):
        assert len(data.splits[split]) == 6 and not data.splits[split]["text"].str.contains("extra").any()


def test_extra_rows_come_on_top_of_the_train_cap():
    extra = frame([(f"{lab} extra {i}", lab, lab) for lab in "ab" for i in range(5)])
    cfg = DataConfig(max_train_per_label=3, max_eval_per_label=2)
    data = clean(RawData(_splits(), "test", extra_train=extra), cfg)
    train = data.splits["train"]
    from_source = train[train["text"].str.contains("train")]
    assert from_source["label"].value_counts().to_dict() == {"a": 3, "b": 3}
    assert train["label"].value_counts().to_dict() == {"a": 8, "b": 8}
    assert data.dropped["train: over the per-label cap (3)"] == 14
    assert data.splits["test"]["label"].value_counts().to_dict() == {"a": 2, "b": 2}
    # without extra rows, the same config gives train the capped rows alone, shuffled as before
    alone = clean(RawData(_splits(), "test"), cfg)
    assert len(alone.splits["train"]) == 6 and set(alone.splits["train"]["text"]) == set(from_source["text"])


def test_real_eld_with_a_fake_extra_folder_through_read_source_and_clean(tmp_path):
    eld_only = read_source(DataConfig(languages=["de", "fr"]))
    french = eld_only.splits["train"].query("language == 'fr'")["text"].head(5).tolist()
    root = tatoeba_folder(tmp_path / "v1", {
        "de": ["Tom ist nicht hier.", "Wir gehen morgen ins Kino.", "Das ist mein Buch."],
        "fr": ["Tom n'est pas ici.", "Nous allons au cinéma demain.", *french],  # eld's own sentences too
    })
    cfg = DataConfig(languages=["de", "fr"], extra_train=[ExtraTrainConfig(source="tatoeba", path=str(root))])
    raw = read_source(cfg)
    assert len(raw.extra_train) == 10 and "tatoeba" in raw.origin and str(root) in raw.origin
    data = clean(raw, cfg)
    eld_data = clean(eld_only, DataConfig(languages=["de", "fr"]))
    for split in ("validation", "test"):  # held-out splits stay eld's own, row for row
        assert data.splits[split].equals(eld_data.splits[split])
    # each of eld's sentences sits in train, validation or test; as an extra row it is dropped either way
    assert data.dropped["extra train: text also in validation or test (leakage)"] + data.dropped["extra train: text already in train"] == 5
    assert len(data.splits["train"]) == len(eld_data.splits["train"]) + 5
    assert {"Tom ist nicht hier.", "Nous allons au cinéma demain."} <= set(data.splits["train"]["text"])
    assert set(data.splits["train"]["label"]) == {"de", "fr"}


def test_a_missing_extra_folder_stops_read_source(tmp_path):
    cfg = DataConfig(languages=["de"], extra_train=[ExtraTrainConfig(source="sib200", path=str(tmp_path / "gone"))])
    with pytest.raises(DataError, match="optional"):
        read_source(cfg)


def _script(texts: list[str]) -> str:
    """The Unicode script most letters of the texts are in: LATIN, CYRILLIC, ARABIC, CJK, ..."""
    return letter_scripts(texts).most_common(1)[0][0]


@pytest.mark.shared_data
def test_language_codes_point_at_real_files_in_the_script_of_sib200():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (../shared/data, on the project's machines and CI)")
    sib, tatoeba = SHARED / "sib200/data/annotated", SHARED / "tatoeba-laser/data/tatoeba/v1"
    missing = [f"{lang}: {sib / name / 'train.tsv'}" for lang, name in SIB_FOLDERS.items() if not (sib / name / "train.tsv").is_file()]
    missing += [f"{lang}: {code}" for lang, code in TATOEBA_CODES.items() if not (tatoeba / f"tatoeba.{code}-eng.{code}").is_file()]
    assert not missing
    # Tatoeba's text is in the script of SIB-200's for the same eld code (srp and kur, Latin, are not)
    found = read_extra(ExtraTrainConfig(source="tatoeba", path=str(tatoeba)), [])
    reference = read_extra(ExtraTrainConfig(source="sib200", path=str(sib)), list(TATOEBA_CODES))
    other = {
        lang: (_script(group["text"].tolist()), _script(reference.rows.query("label == @lang")["text"].tolist()))
        for lang, group in found.rows.groupby("label")
    }
    assert sorted(other) == sorted(TATOEBA_CODES)
    assert {lang: pair for lang, pair in other.items() if pair[0] != pair[1]} == {}


# --- wordfreq: words drawn from the installed package's lists ------------------------------------------------

def test_wordfreq_draws_the_asked_number_of_sequences_and_skips_languages_without_a_list():
    found = read_extra(ExtraTrainConfig(source="wordfreq", max_per_language=50), ["no", "da", "am", "zh"], seed=3)
    counts = found.rows["label"].value_counts().to_dict()
    assert counts == {"no": 50, "da": 50}
    assert set(found.skipped) == {"am", "zh"} and "no word list" in found.skipped["am"]
    assert (found.rows["label"] == found.rows["language"]).all()
    lengths = found.rows["text"].str.split().str.len()
    assert lengths.between(SEQUENCE_WORDS[0], SEQUENCE_WORDS[1] - 1).all()
    assert not found.rows["text"].str.contains(r"\d").any()  # wordfreq's "0000" stand-ins for numbers are left out
    # the Norwegian list is Bokmål's: its commonest words are there, and Danish's spelling of "not any" is not
    norwegian = " ".join(found.rows.query("label == 'no'")["text"]).split()
    assert {"og", "er", "det"} <= set(norwegian)


def test_wordfreq_draws_are_seeded_per_language_and_from_the_top_words():
    config = ExtraTrainConfig(source="wordfreq", max_per_language=20, top_words=100)
    alone = read_extra(config, ["sv"], seed=1).rows
    together = read_extra(config, ["de", "sv"], seed=1).rows
    pd.testing.assert_frame_equal(alone, together.query("label == 'sv'").reset_index(drop=True))
    assert not read_extra(config, ["sv"], seed=2).rows["text"].equals(alone["text"])
    import wordfreq

    counts = wordfreq.get_frequency_dict("sv", wordlist="best")
    top = sorted((w for w in counts if not any(c.isdigit() for c in w)), key=counts.__getitem__, reverse=True)[:100]
    assert set(" ".join(alone["text"]).split()) <= set(top)


def test_wordfreq_codes_are_lists_the_package_has_in_eld_s_script():
    import wordfreq

    assert set(WORDFREQ_CODES.values()) <= set(wordfreq.available_languages(wordlist="best"))
    drawn = read_extra(ExtraTrainConfig(source="wordfreq", max_per_language=30), []).rows
    assert sorted(set(drawn["label"])) == sorted(WORDFREQ_CODES)
    scripts = {lang: _script(group["text"].tolist()) for lang, group in drawn.groupby("label")}
    # hr reads Serbo-Croatian's list, which is all Latin script, as eld's Croatian is
    assert scripts["hr"] == "LATIN" and scripts["ru"] == "CYRILLIC" and scripts["ar"] == "ARABIC"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("{source: wordfreq, path: x, max_per_language: 5}", "the word lists come with the wordfreq package; remove path"),
        ("{source: wordfreq}", "data.extra_train \\(wordfreq\\): set max_per_language"),
        ("{source: sib200}", "data.extra_train \\(sib200\\): set path"),
        ("{source: wordfreq, max_per_language: 5, top_words: 10}", "top_words must be greater than or equal to 100"),
    ],
)
def test_wordfreq_and_corpus_items_say_what_they_need(item, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT / "configs/default.yaml", [f"data.extra_train=[{item}]"])


def test_wordfreq_rows_reach_train_only_through_read_source_and_clean():
    cfg = DataConfig(languages=["no", "da", "am"], max_train_per_label=20, max_eval_per_label=10,
                     extra_train=[ExtraTrainConfig(source="wordfreq", max_per_language=15)])
    raw = read_source(cfg)
    assert "wordfreq 20000 most frequent words (30 rows, 2 languages; none for am)" in raw.origin
    data = clean(raw, cfg)
    assert data.splits["train"]["label"].value_counts().to_dict() == {"no": 35, "da": 35, "am": 20}
    drawn = set(raw.extra_train["text"])
    assert not drawn & set(data.splits["validation"]["text"]) and not drawn & set(data.splits["test"]["text"])
