import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from pipeline.metrics import classification_scores, load_metric


def test_local_metric_script_loads_offline_through_evaluate():
    metric = load_metric()
    assert metric.name == "classification_report"


def test_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    refs = rng.integers(0, 5, 200)
    preds = np.where(rng.random(200) < 0.7, refs, rng.integers(0, 5, 200))
    scores = classification_scores(preds, refs)
    assert np.isclose(scores["accuracy"], accuracy_score(refs, preds))
    assert np.isclose(scores["macro_f1"], f1_score(refs, preds, average="macro"))
    assert np.allclose(scores["per_class"]["f1"], f1_score(refs, preds, average=None))
    assert sum(scores["per_class"]["support"]) == 200


def test_labels_argument_restricts_the_average():
    scores = classification_scores([0, 0, 1], [0, 0, 0], labels=[0])
    assert scores["per_class"]["labels"] == [0]
    assert np.isclose(scores["macro_f1"], f1_score([0, 0, 0], [0, 0, 1], labels=[0], average="macro"))


def test_per_script_and_zero_shot_summaries():
    from pipeline.stages.evaluate import _by_script_and_transfer

    languages = {
        "eng_Latn": {"accuracy": 0.9}, "yor_Latn": {"accuracy": 0.4}, "rus_Cyrl": {"accuracy": 0.8}, "ukr_Cyrl": {"accuracy": 0.6},
    }
    extra = _by_script_and_transfer(languages, ["eng_Latn"])
    assert extra["per_script"]["Latn"] == {"languages": 2, "accuracy": 0.65, "worst": "yor_Latn", "worst_accuracy": 0.4}
    assert extra["per_script"]["Cyrl"]["accuracy"] == pytest.approx(0.7)
    assert extra["transfer"]["zero_shot_accuracy"] == pytest.approx(0.6)
    assert extra["transfer"]["zero_shot_under_0.5"] == {"yor_Latn": 0.4}
    assert _by_script_and_transfer({"de": {"accuracy": 1.0}}, []) == {}
