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
    for split, rows in (("test", texts), ("dev", texts[::-1])):
        pd.DataFrame({"index_id": range(len(rows)), "category": "x", "text": rows}).to_csv(folder / name / f"{split}.tsv", sep="\t", index=False)


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
    # the threshold is chosen on dev: the fewest false accepts among those answering GOAL_KEPT there
    dev = abstain_curve.measure(pipeline_run["cfg"].paths.export, tmp_path, "dev")
    answering = [p for p in dev["curve"] if p["kept"] >= abstain_curve.GOAL_KEPT]
    assert dev["chosen"]["false_accept"] == min(p["false_accept"] for p in answering)
    reported = abstain_curve.choose_and_test(pipeline_run["cfg"].paths.export, tmp_path)
    chosen = reported["chosen"]
    assert reported["dev"] == dev["chosen"] and chosen["threshold"] == dev["chosen"]["threshold"]
    assert chosen in reported["curve"] and reported["curve"] == curve  # the test curve, at the dev's threshold
    text = abstain_curve.markdown(reported, "make abstain-curve")
    assert f"**Threshold {chosen['threshold']}, chosen on SIB-200 dev**" in text and "arz_Arab (" in text
    met = chosen["false_accept"] <= abstain_curve.GOAL_FALSE_ACCEPT and chosen["kept"] >= abstain_curve.GOAL_KEPT
    assert "**Goal**" in text and ("**met**" in text) == met
    assert abstain_curve.plot(reported, tmp_path / "abstain.png").stat().st_size > 0
    # when no threshold answers GOAL_KEPT on dev, the report says so rather than claim the goal's rule held
    short = abstain_curve.markdown(reported | {"dev": reported["dev"] | {"kept": 0.5}}, "make abstain-curve")
    assert "no threshold answers 95% of in-set sentences there" in short
