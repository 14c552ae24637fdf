"""MLflow on PostgreSQL, run for real: `tools.tracking_server` (what `make tracking-server` runs)
starts PostgreSQL and `mlflow server`, and the tiny pipeline runs against it through the CLI in subprocesses,
as `export MLFLOW_TRACKING_URI=...; make train evaluate export` would. What the stages logged is read back
twice: through MLflow's client, and straight from PostgreSQL's tables, so a silent fallback to another store
cannot pass. Then two pipelines run at once against the one server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.stages.tracking import RUN_TAG, STAGE_TAG
from tools import tracking_server

from conftest import ROOT, tiny_config, tiny_overrides

psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed: pip install -e '.[postgres]' (make test-slow does)")

pytestmark = pytest.mark.slow

STAGES = ("prepare", "train", "evaluate", "export")
DEADLINE = 600  # per stage; only a bound on a stuck process, the tiny stages take seconds


@pytest.fixture(scope="module")
def server():
    try:
        tracking_server.postgres_bin()  # installs Debian's postgresql when it is missing and we are root
    except tracking_server.TrackingServerError as err:
        pytest.skip(f"PostgreSQL cannot be installed on this machine: {err}")
    # As root the cluster runs as the OS user `postgres`, which cannot enter pytest's 0700 tmp folders.
    home = Path(tempfile.mkdtemp(prefix="textclf-tracking-"))
    home.chmod(0o755)
    try:
        with tracking_server.running(home, workers=2) as running:
            yield running
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _pipeline(root: Path, uri: str, **overrides: str) -> None:
    """prepare, train, evaluate, export, each its own `python -m pipeline.cli` process, as the make targets run them."""
    for stage in STAGES:
        command = [sys.executable, "-m", "pipeline.cli", stage, "--config", str(ROOT / "configs" / "default.yaml"), *tiny_overrides(root, **overrides)]
        done = subprocess.run(
            command, cwd=ROOT, env=os.environ | {"MLFLOW_TRACKING_URI": uri}, capture_output=True, text=True, timeout=DEADLINE
        )
        assert done.returncode == 0, f"pipeline {stage} {overrides} failed:\n{done.stderr[-3000:]}"


def _parent_id(root: Path, **overrides: str) -> str:
    state = json.loads((tiny_config(root, **overrides).paths.artifacts / "mlflow.json").read_text())
    return state["parent_run_id"]


def _stage_runs(client: MlflowClient, parent_id: str) -> dict:
    parent = client.get_run(parent_id)
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    assert len(children) == len(STAGES), [r.data.tags.get(STAGE_TAG) for r in children]
    return {r.data.tags[STAGE_TAG]: r for r in children}


def _connect(server: tracking_server.TrackingServer):  # noqa: ANN202 - a psycopg connection
    return psycopg.connect(server.database_url, passfile=str(server.passfile))


def test_the_pipeline_tracks_into_postgres(server, tmp_path):
    _pipeline(tmp_path, server.uri)
    parent_id = _parent_id(tmp_path)

    client = MlflowClient(server.uri)
    parent = client.get_run(parent_id)
    by_stage = _stage_runs(client, parent_id)
    assert sorted(by_stage) == sorted(STAGES)
    assert {r.info.status for r in [parent, *by_stage.values()]} == {"FINISHED"}
    train, evaluate, export = (by_stage[s] for s in ("train", "evaluate", "export"))
    assert len(client.get_metric_history(train.info.run_id, "loss")) >= 2
    accuracy = evaluate.data.metrics["test_accuracy"]
    assert 0 < accuracy <= 1 and "test_accuracy/zh" in evaluate.data.metrics
    assert parent.data.metrics["test_accuracy"] == accuracy
    assert export.data.metrics["int8_label_agreement"] >= 0.99
    assert export.info.run_id in {v.run_id for v in client.search_model_versions("name = 'textclf-tiny'")}
    # Artifacts go through the server (mlflow-artifacts:/) into its --artifacts-destination folder.
    assert "export/manifest.json" in {a.path for a in client.list_artifacts(export.info.run_id, "export")}
    assert list(server.artifacts.rglob("export/manifest.json"))

    run_ids = [parent_id, *(r.info.run_id for r in by_stage.values())]
    with _connect(server) as conn:
        rows = dict(conn.execute("SELECT run_uuid, status FROM runs WHERE run_uuid = ANY(%s)", (run_ids,)).fetchall())
        assert rows == dict.fromkeys(run_ids, "FINISHED")
        stages = dict(conn.execute(
            "SELECT t.value, t.run_uuid FROM tags t JOIN tags p ON p.run_uuid = t.run_uuid "
            "WHERE t.key = %s AND p.key = 'mlflow.parentRunId' AND p.value = %s", (STAGE_TAG, parent_id),
        ).fetchall())
        assert stages == {s: r.info.run_id for s, r in by_stage.items()}
        stored = conn.execute(
            "SELECT value FROM latest_metrics WHERE run_uuid = %s AND key = 'test_accuracy'", (evaluate.info.run_id,)
        ).fetchone()
        assert stored[0] == pytest.approx(accuracy)
        loss_points = conn.execute(
            "SELECT count(*) FROM metrics WHERE run_uuid = %s AND key = 'loss'", (train.info.run_id,)
        ).fetchone()[0]
        assert loss_points == len(client.get_metric_history(train.info.run_id, "loss"))
        assert conn.execute("SELECT name FROM registered_models WHERE name = 'textclf-tiny'").fetchone() == ("textclf-tiny",)
        assert conn.execute(
            "SELECT count(*) FROM model_versions WHERE name = 'textclf-tiny' AND run_id = %s", (export.info.run_id,)
        ).fetchone()[0] == 1


def test_two_pipelines_at_once_get_separate_parent_runs(server, tmp_path):
    names = ("pg-first", "pg-second")  # different run names: the run lock refuses a second process on one name
    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(lambda name: _pipeline(tmp_path, server.uri, run_name=name), names))

    client = MlflowClient(server.uri)
    parents = {name: client.get_run(_parent_id(tmp_path, run_name=name)) for name in names}
    assert len({p.info.run_id for p in parents.values()}) == len(names)
    # They really overlapped: each execution started before the other one finished.
    assert max(p.info.start_time for p in parents.values()) < min(p.info.end_time for p in parents.values())
    exports = []
    for name, parent in parents.items():
        assert parent.data.tags[RUN_TAG] == name and parent.info.status == "FINISHED"
        by_stage = _stage_runs(client, parent.info.run_id)
        assert {r.data.tags[RUN_TAG] for r in by_stage.values()} == {name}
        assert {r.info.status for r in by_stage.values()} == {"FINISHED"}
        assert 0 < parent.data.metrics["test_accuracy"] <= 1
        exports.append(by_stage["export"].info.run_id)
    versions = {v.run_id: v.version for v in client.search_model_versions("name = 'textclf-tiny'")}
    assert set(exports) <= set(versions) and versions[exports[0]] != versions[exports[1]]

    with _connect(server) as conn:
        children = dict(conn.execute(
            "SELECT value, count(*) FROM tags WHERE key = 'mlflow.parentRunId' AND value = ANY(%s) GROUP BY value",
            ([p.info.run_id for p in parents.values()],),
        ).fetchall())
        assert children == {p.info.run_id: len(STAGES) for p in parents.values()}
