"""Text in scripts no training language uses gets `unknown`: the script lookup, the scripts export writes, the
Predictor's rule and its switch, exports made before the rule, and the service."""

import json
import os
import shutil
import urllib.request

import pandas as pd
import pytest

from pipeline.runtime.predictor import UNKNOWN, ArtifactError, Predictor, read_manifest
from pipeline.runtime.scripts import UnseenScripts, common_scripts, letter_scripts, script_of
from pipeline.stages.export import MIN_SCRIPT_SHARE, trained_scripts
from tools.local_server import running_server

from conftest import tiny_config

KHMER = "សួស្តី ពិភពលោក តើអ្នកសុខសប្បាយទេ"
LAO = "ສະບາຍດີ ຂ້ອຍຮັກພາສາລາວ"
TIBETAN = "བཀྲ་ཤིས་བདེ་ལེགས། ང་བོད་པ་ཡིན།"
UNSEEN = [KHMER, LAO, TIBETAN]
KNOWN = ["Guten Morgen, wie geht es dir?", "Доброе утро", "早上好", "صباح الخير"]
# The scripts of the fixture's languages: de, en, fr (Latin), ru (Cyrillic), zh (Han), ar (Arabic)
TRAINED = ["ARABIC", "CJK", "CYRILLIC", "LATIN"]


def post(url: str, body: dict) -> list[dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.parametrize(
    ("char", "script"),
    [
        ("a", "LATIN"), ("É", "LATIN"), ("Ａ", "LATIN"), ("ﬁ", "LATIN"), ("Ж", "CYRILLIC"), ("中", "CJK"),
        ("あ", "HIRAGANA"), ("ア", "KATAKANA"), ("ك", "ARABIC"), ("ﷲ", "ARABIC"), ("ក", "KHMER"), ("ລ", "LAO"),
        ("ཀ", "TIBETAN"),
        # not letters: a digit, an emoji, a space, a combining accent, a Khmer vowel sign, a Khmer digit
        ("7", None), ("😀", None), (" ", None), ("\u0301", None), ("\u17b6", None), ("៣", None),
    ],
)
def test_script_of_a_character(char, script):
    assert script_of(char) == script


@pytest.mark.parametrize(
    ("text", "unseen"),
    [
        (KHMER, True), (LAO, True), (TIBETAN, True),
        ("The quick brown fox", False), ("Привет, как дела?", False), ("今天天气很好", False), ("مرحبا بالعالم", False),
        ("ＦＵＬＬＷＩＤＴＨ ｌａｔｉｎ", False),
        ("日本語のテキスト", True),  # three Han letters, five kana: most letters are in scripts not known
        ("ab ກຂ", False),  # exactly half unseen is not more than half
        ("a ກຂ", True),
        ("Lao: ສະບາຍດີ", True), ("Lao is written ສະບາຍດີ", False),
        ("12345 😀 !? ៣៤៥", False), ("", False),  # no letters: the model's answer stands
        ("\ud800ກ", True),  # a lone surrogate (JSON can carry one) does not shift the counts
    ],
)
def test_unseen_scripts_on_examples(text, unseen):
    check = UnseenScripts(TRAINED)
    assert check([text]).tolist() == [unseen]


def test_a_batch_gives_each_text_its_own_answer():
    texts = ["", KHMER, "hello", "", "a ກຂ", "ab ກຂ", LAO, "١٢٣"]
    check = UnseenScripts(TRAINED)
    batch = check(texts)
    assert batch.tolist() == [False, True, False, False, True, False, True, False]
    assert batch.tolist() == [bool(check([t])[0]) for t in texts]
    assert check([]).shape == (0,)


def test_a_stray_letter_does_not_make_its_script_common():
    texts = ["The angle alpha is small in this figure."] * 9 + ["The angle alpha (α) is small in this figure."]
    assert letter_scripts(texts) == {"LATIN": 320, "GREEK": 1}
    assert common_scripts(texts, MIN_SCRIPT_SHARE) == {"LATIN"}
    assert common_scripts(texts, 0.0) == {"LATIN", "GREEK"}
    assert common_scripts(["12 + 30 = 42"], MIN_SCRIPT_SHARE) == set()


def _write_train(tmp_path, rows: list[tuple[str, str, str | None]]):
    cfg = tiny_config(tmp_path)
    cfg.paths.data.mkdir(parents=True)
    frame = pd.DataFrame(rows, columns=["text", "label", "language"])
    frame.to_json(cfg.paths.data / "train.jsonl", orient="records", lines=True, force_ascii=False)
    return cfg


def test_trained_scripts_only_for_language_id(tmp_path):
    english = [(f"Sentence number {i} about physics.", "en", "en") for i in range(20)] + [("The angle α", "en", "en")]
    serbian = [("Добро јутро", "sr", "sr"), ("Dobro jutro, kako ste", "sr", "sr")]
    russian = [("Доброе утро", "ru", "ru")]
    cfg = _write_train(tmp_path / "langid", english + serbian + russian)
    assert trained_scripts(cfg) == {"scripts": ["CYRILLIC", "LATIN"]}  # Greek is a stray in English
    topics = [("Доброе утро", "greeting", "ru"), ("Good morning", "greeting", "en"), ("Rain today", "weather", "en")]
    assert trained_scripts(_write_train(tmp_path / "topics", topics)) == {}
    unlabelled = [("Доброе утро", "greeting", None), ("Rain today", "weather", None)]
    assert trained_scripts(_write_train(tmp_path / "plain", unlabelled)) == {}


def test_export_writes_the_training_scripts(pipeline_run):
    manifest = read_manifest(pipeline_run["cfg"].paths.export)
    assert manifest["scripts"] == TRAINED


@pytest.fixture(scope="module")
def rule_on(pipeline_run):
    return Predictor(pipeline_run["cfg"].paths.export)


@pytest.fixture(scope="module")
def rule_off(pipeline_run):
    return Predictor(pipeline_run["cfg"].paths.export, unseen_scripts_unknown=False)


def test_unseen_scripts_are_unknown_with_the_models_ranking(rule_on, rule_off):
    assert rule_on.unseen_scripts_unknown and not rule_off.unseen_scripts_unknown
    assert rule_on.known_scripts == rule_off.known_scripts == TRAINED
    texts = UNSEEN + KNOWN
    on, off = rule_on.predict(texts, top_k=3), rule_off.predict(texts, top_k=3)
    assert [p.label for p in on] == [UNKNOWN] * len(UNSEEN) + [p.label for p in off[len(UNSEEN):]]
    assert all(p.label in rule_off.labels for p in off)  # the switch turns the rule off
    for with_rule, without in zip(on, off, strict=True):
        assert with_rule.score == without.score and with_rule.top_k == without.top_k
        assert len(with_rule.top_k) == 3 and {t["label"] for t in with_rule.top_k} <= set(rule_on.labels)
    assert rule_on.in_unseen_scripts(texts).tolist() == [True] * len(UNSEEN) + [False] * len(KNOWN)
    assert not rule_off.in_unseen_scripts(texts).any()


@pytest.fixture
def export_copy(pipeline_run, tmp_path):
    target = tmp_path / "export"
    shutil.copytree(pipeline_run["cfg"].paths.export, target)
    return target


def test_an_export_without_scripts_keeps_the_models_answer(export_copy, rule_off):
    manifest = json.loads((export_copy / "manifest.json").read_text(encoding="utf-8"))
    assert "manifest.json" not in manifest["files"]  # the checksums cover the other files, so editing it is safe
    del manifest["scripts"]
    (export_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = Predictor(export_copy)  # verifies every listed file
    assert not before.unseen_scripts_unknown and before.known_scripts is None
    got = before.predict(UNSEEN + KNOWN, top_k=2)
    assert [p.to_dict() for p in got] == [p.to_dict() for p in rule_off.predict(UNSEEN + KNOWN, top_k=2)]
    assert UNKNOWN not in {p.label for p in got}


def test_a_malformed_scripts_entry_is_an_artifact_error(export_copy):
    manifest = json.loads((export_copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["scripts"] = "LATIN"
    (export_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ArtifactError, match="'scripts' must be a list of script names, got 'LATIN'"):
        Predictor(export_copy)


def test_a_server_started_with_the_rule_off_keeps_the_models_answer(bento_model, tmp_path, rule_off):
    """The service's own rule-on answers are in test_service.py: BentoML's metrics allow one ASGI app per process."""
    env = {
        "TEXTCLF_MODEL": str(bento_model.tag), "BENTOML_HOME": os.environ["BENTOML_HOME"],
        "TEXTCLF_UNSEEN_SCRIPTS_UNKNOWN": "false",
    }
    with running_server(env=env, log=tmp_path / "bentoml.log") as url:
        body = post(f"{url}/classify", {"texts": UNSEEN, "top_k": 2})
        meta = get(f"{url}/v1/metadata")
    assert [r["label"] for r in body] == [p.label for p in rule_off.predict(UNSEEN)]
    assert UNKNOWN not in {r["label"] for r in body}
    assert meta["unseen_scripts_unknown"] is False and meta["known_scripts"] == TRAINED
