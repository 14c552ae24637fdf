"""MLflow UI screenshots: the experiment and view state come from the real store; pictures need chromium."""

import json
import shutil

import pytest

from pipeline.stages.tracking import tracking_uri
from tools.ui_screenshot import (
    COLUMNS,
    Chromium,
    ScreenshotError,
    experiment_id,
    find_browser,
    saved_view_state,
    screenshots,
)


def test_experiment_is_found_in_the_store(pipeline_run):
    cfg = pipeline_run["cfg"]
    assert experiment_id(tracking_uri(cfg), cfg.mlflow.experiment).isdigit()


def test_unknown_experiment_lists_the_ones_there(pipeline_run):
    cfg = pipeline_run["cfg"]
    with pytest.raises(ScreenshotError, match="no MLflow experiment 'nope'.*tiny"):
        experiment_id(tracking_uri(cfg), "nope")


def test_saved_state_shows_scores_and_closes_the_assistant():
    state = saved_view_state("7")
    page = json.loads(state['MLflowLocalStorage-1.1-ExperimentPage-["7"]-ReactComponentState'])
    assert page["selectedColumns"] == COLUMNS and "metrics.`test_accuracy`" in COLUMNS
    assert state["mlflow.assistant.panelOpen_v1"] == "false"


def test_a_chosen_browser_that_is_not_there_is_named(monkeypatch):
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chrome")
    with pytest.raises(ScreenshotError, match="CHROMIUM='/nonexistent/chrome' is not an executable browser"):
        find_browser()


def test_a_browser_that_exits_at_once_is_reported_not_waited_for(tmp_path):
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(ScreenshotError, match="chromium exited \\(code 3\\)"):
        Chromium(str(fake), (100, 100), timeout=30)


def test_missing_browser_says_how_to_install_one(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CHROMIUM", raising=False)
    with pytest.raises(ScreenshotError, match="apt-get install chromium"):
        find_browser()


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed on this machine")
def test_screenshots_are_real_pngs_of_the_runs(pipeline_run, tmp_path):
    written = screenshots(pipeline_run["cfg"], tmp_path, size=(1000, 700))
    assert [p.name for p in written] == ["mlflow-ui-runs.png", "mlflow-ui-charts.png"]
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, f"{path} looks empty"
