"""Training in several processes, run for real: `make train PROCESSES=2` (accelerate launch -> torchrun, gloo on
CPU) on the tiny config, then evaluate and export in one process, as the README says.

What proves that two processes shared the work rather than each training alone: the number of optimizer steps
per epoch is that of each process seeing half the data at the per-process batch size, and the checkpoint holds
a random-number state from process 1. What proves it was logged once: one parent run, one train run, and a loss
history with one point per logged step.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from pipeline import cli
from pipeline.data.prepared import read_split
from pipeline.stages.tracking import STAGE_TAG
from tools.local_server import free_port

from conftest import ROOT, only_the_rows_training_touched_moved, tiny_config, tiny_overrides

PER_PROCESS_BATCH = "8"
TRANSFORMER = "langid-transformer.yaml"
DEADLINE = 900  # a bound on a stuck process group; the tiny training takes under a minute


def _env() -> dict[str, str]:
    """The environment as the test sees it now, without a tracking server, so each run logs into its root."""
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


def train_in_two_processes(overrides: list[str], config: str = "default.yaml") -> subprocess.CompletedProcess:
    """`make train PROCESSES=2` with these overrides, as a user runs it; fails the test if it fails."""
    make = ["make", "--no-print-directory", "train", "PROCESSES=2", f"MAIN_PORT={free_port()}", f"CONFIG=configs/{config}",
            f"ARGS={' '.join(overrides)}"]
    done = subprocess.run(make, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def run_stage(stage: str, overrides: list[str], config: str = "default.yaml") -> None:
    """One later stage in one process, as the README says to run it after a multi-process training."""
    command = [sys.executable, "-m", "pipeline.cli", stage, "--config", str(ROOT / "configs" / config), *overrides]
    done = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, f"pipeline {stage} failed:\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_two_processes_train_once_and_log_once(tmp_path):
    """The transformer's dense gradients (the default's sparse ones are the next test)."""
    extra = {"train.batch_size": PER_PROCESS_BATCH}
    overrides = tiny_overrides(tmp_path, TRANSFORMER, **extra)
    done = train_in_two_processes(overrides, TRANSFORMER)
    assert done.stderr.count("INFO pipeline.stages.train: trained") == 1  # the main process reports; the other is silent

    cfg = tiny_config(tmp_path, TRANSFORMER, **extra)
    checkpoints = sorted(cfg.paths.checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    last = checkpoints[-1]
    state = json.loads((last / "trainer_state.json").read_text())
    texts = len(read_split(cfg.paths.data, "train"))
    shared = math.ceil(math.ceil(texts / 2) / int(PER_PROCESS_BATCH))  # each process gets half of each epoch
    assert state["global_step"] == shared * round(state["epoch"]) != math.ceil(texts / int(PER_PROCESS_BATCH)) * round(state["epoch"])
    assert {p.name for p in last.glob("rng_state*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}
    assert json.loads((cfg.paths.reports / "train.json").read_text())["processes"] == 2

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(cfg.mlflow.experiment)
    runs = client.search_runs([experiment.experiment_id])
    stages = sorted(r.data.tags.get(STAGE_TAG, "parent") for r in runs)
    assert stages == ["parent", "prepare", "train"]
    trained = next(r for r in runs if r.data.tags.get(STAGE_TAG) == "train")
    assert trained.data.params["train.processes"] == "2" and trained.data.params["train.effective_batch_size"] == "16"
    steps = [m.step for m in client.get_metric_history(trained.info.run_id, "loss")]
    assert len(steps) == len(set(steps)) == state["global_step"] // cfg.train.logging_steps

    for stage in ("evaluate", "export"):
        run_stage(stage, overrides, TRANSFORMER)
    metrics = json.loads((cfg.paths.reports / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.5  # six languages: chance is 1/6; the single-process tiny run scores about 0.8
    assert (cfg.paths.export / "manifest.json").is_file()


@pytest.mark.slow
def test_sparse_adagrad_trains_in_two_processes(tmp_path):
    """The default's training (the n-gram table's sparse gradients, Adagrad, balanced class weights) under
    PROCESSES=2: DDP all-reduces the sparse gradients over gloo, so the two processes update
    the same rows and the saved model is as one process would leave it, untouched rows still at their init."""
    extra = {"train.batch_size": PER_PROCESS_BATCH}
    overrides = tiny_overrides(tmp_path, **extra)
    train_in_two_processes(overrides)
    cfg = tiny_config(tmp_path, **extra)
    assert json.loads((cfg.paths.reports / "train.json").read_text())["processes"] == 2
    only_the_rows_training_touched_moved(cfg)
    run_stage("evaluate", overrides)
    # six languages: chance is 1/6; one process scores 1.0 on this data
    assert json.loads((cfg.paths.reports / "metrics.json").read_text())["accuracy"] > 0.8


@pytest.mark.parametrize("stage", ["prepare", "evaluate", "export", "explain"])
def test_only_train_runs_in_several_processes(stage, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert cli.main([stage, "--config", str(ROOT / "configs" / "default.yaml"), *tiny_overrides(tmp_path)]) == 2
    assert f"`pipeline {stage}` runs in one process, not 2" in capsys.readouterr().err
    assert not (tmp_path / "artifacts").exists()


def test_head_only_training_refuses_several_processes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert cli.main(["train", "--config", str(ROOT / "configs" / "langid-e5.yaml"), f"root={tmp_path}"]) == 2
    assert "train.strategy=head_only runs in one process, not 2" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
