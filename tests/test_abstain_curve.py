"""The abstain curve on a SIB-200-shaped folder this test writes: in-set languages, out-of-set ones, and a
macrolanguage sibling that must be counted neither way."""

import pandas as pd

from pipeline.data.language_codes import SIB_FOLDERS
from tools import abstain_curve

SENTENCES = {
    "de": ["Guten Morgen, wie geht es dir heute?", "Das Wetter ist schön."],
    "fr": ["Bonjour, comment allez-vous ?", "Il fait beau aujourd'hui."],
    "xho_Latn": ["Molo, unjani namhlanje?", "Imozulu intle namhlanje."],
    "fin_Latn": ["Hyvää huomenta, mitä kuuluu?", "Sää on kaunis tänään."],
    "arz_Arab": ["ازيك عامل ايه النهارده؟", "الجو حلو النهارده."],
    "khm_Khmr": ["សួស្តី អ្នកសុខសប្បាយទេ", "អាកាសធាតុល្អណាស់ថ្ងៃនេះ"],  # a script no tiny-run language is written in
}


def _write(folder, name, texts):
    (folder / name).mkdir()
    pd.DataFrame({"index_id": range(len(texts)), "category": "x", "text": texts}).to_csv(folder / name / "test.tsv", sep="\t", index=False)


def test_curve_counts_out_of_set_languages_and_leaves_siblings_out(pipeline_run, tmp_path):
    for key, texts in SENTENCES.items():
        _write(tmp_path, SIB_FOLDERS.get(key, key), texts)
    result = abstain_curve.measure(pipeline_run["cfg"].paths.export, tmp_path)
    assert result["out_of_set_languages"] == ["fin_Latn", "khm_Khmr", "xho_Latn"]
    assert result["siblings"] == ["arz_Arab"] and result["in_set_languages"] == 2
    assert result["sentences"] == {"in_set": 4, "out_of_set": 6, "siblings": 2}
    curve = result["curve"]
    # at threshold 0 every Latin-script sentence is accepted and no Khmer one: the script rule answers unknown
    assert result["unseen_scripts_rule"] is True
    assert curve[0]["threshold"] == 0.0 and curve[0]["false_accept"] == 2 / 3 and curve[0]["kept"] == 1.0
    assert all(p["worst_false_accept"].get("khm_Khmr", 0.0) == 0.0 for p in curve)
    for before, after in zip(curve, curve[1:], strict=False):
        assert after["false_accept"] <= before["false_accept"] and after["kept"] <= before["kept"]
    chosen = result["chosen"]
    assert chosen["kept"] - chosen["false_accept"] == max(p["kept"] - p["false_accept"] for p in curve)
    text = abstain_curve.markdown(result, "make abstain-curve")
    assert f"**Chosen threshold: {chosen['threshold']}**" in text and "arz_Arab (" in text
    goal = result["at_goal_kept"]
    assert goal is not None and goal["kept"] >= abstain_curve.GOAL_KEPT
    assert goal["false_accept"] == min(p["false_accept"] for p in curve if p["kept"] >= abstain_curve.GOAL_KEPT)
    assert "**Goal**" in text and ("**met**" in text) == (goal["false_accept"] <= abstain_curve.GOAL_FALSE_ACCEPT)
    assert abstain_curve.plot(result, tmp_path / "abstain.png").stat().st_size > 0
