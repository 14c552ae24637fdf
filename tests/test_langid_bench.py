"""The language-ID comparison's data reading and table, on a SIB-200-shaped folder this test writes."""

import pandas as pd

from pipeline.langid_bench import SIB_FOLDERS, ToolResult, markdown, sib_sentences


def test_reads_test_sentences_per_language(tmp_path):
    for lang, text in (("de", "Guten Morgen"), ("ku", "بەیانیت باش")):
        folder = tmp_path / SIB_FOLDERS[lang]
        folder.mkdir()
        pd.DataFrame({"index_id": [1], "category": ["x"], "text": [text]}).to_csv(folder / "test.tsv", sep="\t", index=False)
    frame = sib_sentences(tmp_path, ["de", "ku", "fr"])
    assert frame.to_dict("records") == [{"text": "Guten Morgen", "language": "de"}, {"text": "بەیانیت باش", "language": "ku"}]


def test_table_averages_over_languages_every_tool_supports(tmp_path):
    ours = ToolResult("ours", ["de", "en", "yo"], {"de": 1.0, "en": 0.5, "yo": 0.0}, 1000)
    other = ToolResult("other", ["de", "en"], {"de": 0.5, "en": 0.5}, 10)
    text = markdown([ours, other], tmp_path)
    assert "| average accuracy | 0.7500 | 0.5000 |" in text
    assert "| yo | 0.000 | - |" in text
    assert "| sentences/s | 1000 | 10 |" in text
