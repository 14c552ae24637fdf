"""Faults injected into real `pipeline` processes: SIGKILL mid-training and mid-export, a dead tracking
server, and two processes on one run. Each test drives the CLI in a subprocess, as a user or a scheduler
would, and waits on files or the lock itself rather than on sleeps, so machine load cannot flip it."""

from __future__ import annotations

import ast
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.data.prepared import read_split
from pipeline.runtime.predictor import Predictor, read_manifest, sha256
from pipeline.stages.runlock import RunLockedError, lock_path, run_lock
from pipeline.stages.train import last_complete_checkpoint

from conftest import ROOT, tiny_config, tiny_overrides

PIPELINE = Path(sys.executable).parent / "pipeline"
# Only a bound on a process that has stopped making progress; every wait ends as soon as its condition holds.
DEADLINE = 300
# Batch 4 gives 75 steps an epoch on the tiny data, and one log line per step shows where training is.
RESUMABLE = {"train.epochs": "3", "train.batch_size": "4", "train.logging_steps": "1", "train.early_stopping_patience": "10"}
# The kill test trains the transformer: the default's char n-gram steps take about a millisecond, so the whole
# run could end between the log line that triggers the kill and the kill itself.
SLOW_STEPS = "langid-transformer.yaml"


def _command(stage: str, root: Path, config: str = "default.yaml", **overrides: str) -> list[str]:
    return [str(PIPELINE), stage, "--config", str(ROOT / "configs" / config), *tiny_overrides(root, config, **overrides)]


def _env(**extra: str) -> dict[str, str]:
    # Unbuffered, so that the Trainer's log lines reach the test when they are printed, not 8 KB later.
    return os.environ | {"PYTHONUNBUFFERED": "1"} | extra


def _run(stage: str, root: Path, config: str = "default.yaml", **overrides: str) -> subprocess.CompletedProcess:
    done = subprocess.run(_command(stage, root, config, **overrides), env=_env(), capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, f"pipeline {stage} failed:\n{done.stderr[-3000:]}"
    return done


def _wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen) -> None:
    """Poll until condition() holds; fail at once if the process exits first, or after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert process.poll() is None, f"the process exited ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE}s"
        time.sleep(0.05)


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=DEADLINE)
    assert process.returncode == -signal.SIGKILL, "the process ended before it was killed: the fault was not injected"


def _error_line(done: subprocess.CompletedProcess) -> str:
    """The CLI's one-line error: the last stderr line, with no traceback before it.

    Import-time warnings from MLflow may precede it; they are not the pipeline's message.
    """
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.stderr.strip().splitlines()[-1]


def _final_validation(cfg) -> dict[str, float]:
    """The kept model's validation scores from reports/<run>/train.json, without the timing fields."""
    validation = json.loads((cfg.paths.reports / "train.json").read_text())["validation"]
    return {k: validation[k] for k in ("loss", "accuracy", "macro_f1", "epoch")}


def _lock_is_held(cfg) -> bool:
    path = lock_path(cfg)
    if not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@pytest.mark.slow
def test_training_killed_mid_epoch_resumes_to_the_uninterrupted_result(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    _run("train", whole, SLOW_STEPS, **RESUMABLE)
    expected = _final_validation(tiny_config(whole, SLOW_STEPS, **RESUMABLE))
    expected_weights = sha256(tiny_config(whole, SLOW_STEPS, **RESUMABLE).paths.model / "model.safetensors")

    cfg = tiny_config(killed, SLOW_STEPS, **RESUMABLE)
    with (tmp_path / "killed.err").open("w") as stderr:
        process = subprocess.Popen(
            _command("train", killed, SLOW_STEPS, **RESUMABLE), env=_env(), stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        # The Trainer prints each log dict ({'loss': ..., 'epoch': 1.04}) after the previous epoch's
        # evaluation and checkpoint: a step logged in (1, 1.5) means checkpoint-75 is written and the
        # kill lands early in epoch 2, about 35 steps before the next checkpoint.
        epoch = 0.0
        for line in process.stdout:
            if line.startswith("{'loss'"):
                epoch = ast.literal_eval(line.strip())["epoch"]
                if 1 < epoch < 1.5:
                    break
        _kill(process)
        process.stdout.close()
    assert 1 < epoch < 1.5, f"training ended without logging a step in epoch 2 (last epoch seen: {epoch})"
    checkpoint = last_complete_checkpoint(cfg.paths.checkpoints)
    assert checkpoint is not None and checkpoint.name == "checkpoint-75", checkpoint
    assert not cfg.paths.model.exists(), "a killed training left a model folder that looks finished"

    _run("train", killed, SLOW_STEPS, **RESUMABLE, **{"train.resume": "true"})
    assert not (cfg.paths.artifacts / "model.staging").exists()
    # The Trainer restores the optimizer, scheduler, RNG states and data order from checkpoint-75, so
    # the resumed run is the uninterrupted one replayed: the same floats, and the same weights, bit for bit.
    assert _final_validation(cfg) == expected
    assert sha256(cfg.paths.model / "model.safetensors") == expected_weights


def test_a_checkpoint_cut_short_while_saving_is_not_resumed_from(tmp_path):
    for step, state in ((75, '{"global_step": 75}'), (150, None), (225, '{"global_st')):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"weights")
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-75"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-75"]  # the partial ones are gone


@pytest.mark.slow
def test_export_killed_mid_way_keeps_the_previous_export(pipeline_run, tmp_path):
    source = pipeline_run["cfg"].paths
    cfg = tiny_config(tmp_path)
    shutil.copytree(source.data, cfg.paths.data)
    for folder in ("model", "export"):
        shutil.copytree(getattr(source, folder), getattr(cfg.paths, folder))
    before = {p.name: p.read_bytes() for p in cfg.paths.export.iterdir()}
    texts = read_split(cfg.paths.data, "test")["text"].tolist()[:20]
    labels_before = [p.label for p in Predictor(cfg.paths.export).predict(texts)]
    staging = cfg.paths.artifacts / "export.staging"

    with (tmp_path / "export.err").open("w") as stderr:
        process = subprocess.Popen(_command("export", tmp_path), env=_env(), stdout=subprocess.DEVNULL, stderr=stderr)
        # model.onnx in the staging folder: the ONNX export has written the graph; quantization and the
        # parity gate are still to come.
        _wait_for(lambda: (staging / "model.onnx").exists(), "ONNX file in export.staging", process)
        _kill(process)
    assert staging.is_dir(), "the kill did not land inside the export"
    assert {p.name: p.read_bytes() for p in cfg.paths.export.iterdir()} == before
    read_manifest(cfg.paths.export)  # every sha256 in the manifest still verifies
    assert [p.label for p in Predictor(cfg.paths.export).predict(texts)] == labels_before

    _run("export", tmp_path)
    assert not staging.exists(), "the rerun left the stale staging folder behind"
    manifest = read_manifest(cfg.paths.export)
    assert manifest["created_at"] >= json.loads(before["manifest.json"])["created_at"]
    assert set(manifest["files"]) == set(json.loads(before["manifest.json"])["files"])
    assert [p.label for p in Predictor(cfg.paths.export).predict(texts)] == labels_before


def test_an_unreachable_tracking_server_fails_in_seconds_before_any_work(tmp_path):
    # A bound socket that never listens: connecting is refused, and no other process can take the port.
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{dead.getsockname()[1]}"
        started = time.monotonic()
        done = subprocess.run(
            _command("train", tmp_path), env=_env(MLFLOW_TRACKING_URI=uri), capture_output=True, text=True, timeout=DEADLINE
        )
        seconds = time.monotonic() - started
    # Unfixed, MLflow retries 7 times with backoff: minutes. 60 s leaves a loaded machine room to import.
    assert seconds < 60, f"failing took {seconds:.0f}s"
    assert done.returncode == 2, done.stderr[-3000:]
    error = _error_line(done)
    assert error.startswith(f"error: MLflow tracking server {uri} is unreachable"), done.stderr
    assert "Connection refused" in error
    assert not (tmp_path / "data").exists() and not (tmp_path / "artifacts").exists(), "a stage ran before the check"


def test_a_second_process_on_the_same_run_is_refused_until_the_first_dies(tmp_path):
    cfg = tiny_config(tmp_path)
    with (tmp_path / "first.err").open("w") as stderr:
        # Enough epochs that it still holds the lock when killed, however slow the machine.
        first = subprocess.Popen(
            _command("train", tmp_path, **{"train.epochs": "1000"}), env=_env(), stdout=subprocess.DEVNULL, stderr=stderr
        )
        try:
            _wait_for(lambda: _lock_is_held(cfg), "lock taken by the first process", first)
            second = subprocess.run(_command("evaluate", tmp_path), env=_env(), capture_output=True, text=True, timeout=DEADLINE)
            assert second.returncode == 2, second.stderr[-3000:]
            assert _error_line(second) == (
                f"error: run 'default' is in use by PID {first.pid} (pipeline train) (lock {lock_path(cfg)}); "
                "wait for it to finish or use another run_name"
            )
            with run_lock(tiny_config(tmp_path, run_name="other"), "test"):  # another run is not blocked
                pass
            with pytest.raises(RunLockedError, match=f"PID {first.pid}"), run_lock(cfg, "test"):
                pass
        finally:
            first.kill()
            first.wait(timeout=DEADLINE)
    assert first.returncode == -signal.SIGKILL, "the first process ended before it was killed"
    with run_lock(cfg, "test"):  # the kernel released the dead holder's lock: nothing stale to clean
        assert lock_path(cfg).read_text() == f"PID {os.getpid()} (pipeline test)\n"
