"""MLflow layout: one parent run per pipeline execution, one nested run per stage.

The stages run as separate processes (make prepare, make train, ...), so the parent run id is kept in
artifacts/<run>/mlflow.json. `prepare` always opens a new execution; `train` opens a new one when the
current execution already has a trained model (unless train.resume), so retraining never piles two
training runs under one parent; `evaluate` and `export` reuse their stage run in the current execution,
so re-running them updates it instead of duplicating it (`explain` likewise).

The default store is SQLite in mlruns/mlflow.db: the model registry needs a database store, the UI
queries it quickly, and it needs no server. Artifacts go to mlruns/artifacts.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Run
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_TIMEOUT
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

from pipeline.config import Config, save_config
from pipeline.errors import PipelineError

STAGE_TAG = "pipeline.stage"
RUN_TAG = "pipeline.run_name"
# Seconds the reachability probe waits for the tracking server; MLFLOW_HTTP_REQUEST_TIMEOUT wins when lower.
PROBE_TIMEOUT = 10
# A proxy answering these has no tracking server behind it; MLflow would retry them for minutes.
_GATEWAY_DOWN = (502, 503, 504)


class TrackingError(PipelineError):
    """The MLflow tracking server cannot be reached; the message names the URI."""

# mlflow.set_tracking_uri() also writes MLFLOW_TRACKING_URI into os.environ (for subprocesses), so the
# user's own setting is read once, at import, before the pipeline has set anything.
_USER_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI")


def _default_uri(cfg: Config) -> str:
    store = Path(cfg.root).resolve() / "mlruns"
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def tracking_uri(cfg: Config) -> str:
    return _USER_TRACKING_URI or cfg.mlflow.tracking_uri or _default_uri(cfg)


def _root_cause(err: BaseException) -> BaseException:
    while err.__cause__ or err.__context__:
        err = err.__cause__ or err.__context__
    return err


@functools.cache  # only a success is cached: a server that was down is probed again on the next call
def check_reachable(uri: str) -> None:
    """Fail in seconds, naming the URI, when an HTTP tracking server does not answer.

    MLflow's client retries a refused or silent server MLFLOW_HTTP_REQUEST_MAX_RETRIES times (7) with
    exponential backoff (MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, 2) and a 120 s timeout per try: minutes
    before the first stage fails, or an hour into training when the server goes at the first log call.
    One request without retries, through MLflow's own HTTP helper so that its auth and TLS settings
    apply, tells a dead address from a live server before any stage does work. Any answer other than a
    gateway's 502/503/504 counts as reachable: a 404 for an unknown experiment or a 401 for missing
    credentials comes from a live server, and MLflow reports those itself at once.
    """
    if not uri.startswith(("http://", "https://")):
        return  # local stores (sqlite, file) have no server to wait for
    timeout = min(PROBE_TIMEOUT, MLFLOW_HTTP_REQUEST_TIMEOUT.get())
    try:
        response = http_request(
            get_default_host_creds(uri),
            "/api/2.0/mlflow/experiments/get-by-name",
            "GET",
            max_retries=0,
            backoff_factor=0,
            timeout=timeout,
            raise_on_status=False,
            params={"experiment_name": "pipeline-reachability-probe"},
        )
    except MlflowException as err:
        cause = _root_cause(err)
        raise TrackingError(
            f"MLflow tracking server {uri} is unreachable ({type(cause).__name__}: {cause}; waited at most {timeout}s): "
            "start it, or point MLFLOW_TRACKING_URI / mlflow.tracking_uri at a live server"
        ) from err
    if response.status_code in _GATEWAY_DOWN:
        raise TrackingError(
            f"MLflow tracking server {uri} is unavailable: HTTP {response.status_code} {response.reason} "
            "from /api/2.0/mlflow/experiments/get-by-name"
        )


def experiment_id(cfg: Config) -> str:
    uri = tracking_uri(cfg)
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(cfg.mlflow.experiment)
    if experiment is not None:
        return experiment.experiment_id
    # In the project's own store, artifacts live beside the database, not in the current directory.
    location = (Path(cfg.root).resolve() / "mlruns" / "artifacts").as_uri() if uri == _default_uri(cfg) else None
    return client.create_experiment(cfg.mlflow.experiment, artifact_location=location)


def _state_file(cfg: Config) -> Path:
    return cfg.paths.artifacts / "mlflow.json"


def current_parent(cfg: Config) -> Run | None:
    path = _state_file(cfg)
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    if state.get("tracking_uri") != tracking_uri(cfg):
        return None
    try:
        run = MlflowClient().get_run(state["parent_run_id"])
    except mlflow.exceptions.MlflowException:
        return None
    return None if run.info.lifecycle_stage == "deleted" else run


def _stage_child(parent: Run, stage: str) -> Run | None:
    runs = MlflowClient().search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}' and tags.`{STAGE_TAG}` = '{stage}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def _new_parent(cfg: Config, exp_id: str) -> Run:
    run = MlflowClient().create_run(exp_id, run_name=cfg.run_name, tags={RUN_TAG: cfg.run_name})
    path = _state_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"parent_run_id": run.info.run_id, "tracking_uri": tracking_uri(cfg)}, indent=2))
    return run


@contextmanager
def stage_run(cfg: Config, stage: str) -> Iterator[Run]:
    """Open the nested run for one stage inside the current execution's parent run."""
    exp_id = experiment_id(cfg)
    parent = current_parent(cfg)
    trained = parent is not None and _stage_child(parent, "train") is not None
    if parent is None or stage == "prepare" or (stage == "train" and trained and not cfg.train.resume):
        parent = _new_parent(cfg, exp_id)
    reuse = stage in ("evaluate", "export", "explain") or (stage == "train" and cfg.train.resume)
    child = _stage_child(parent, stage) if reuse else None
    with mlflow.start_run(run_id=parent.info.run_id), mlflow.start_run(
        run_id=child.info.run_id if child else None,
        experiment_id=exp_id,
        run_name=None if child else stage,
        nested=True,
        tags={STAGE_TAG: stage, RUN_TAG: cfg.run_name},
    ) as run:
        config_file = cfg.paths.artifacts / f"config.{stage}.yaml"
        save_config(cfg, config_file)
        mlflow.log_artifact(str(config_file), artifact_path="config")
        yield run


def parent_run_id() -> str:
    """The execution (parent) run id of the active stage run."""
    run = mlflow.active_run()
    assert run is not None, "parent_run_id() is only meaningful inside stage_run()"
    return run.data.tags.get("mlflow.parentRunId", run.info.run_id)


def log_params_once(params: dict[str, Any], run_id: str) -> None:
    """Log params, skipping keys already logged: a resumed run must not fail on an identical param."""
    client = MlflowClient()
    existing = client.get_run(run_id).data.params
    fresh = {k: ("" if v is None else str(v))[:6000] for k, v in params.items() if k not in existing}
    for start in range(0, len(fresh), 100):
        batch = dict(list(fresh.items())[start : start + 100])
        client.log_batch(run_id, params=[mlflow.entities.Param(k, v) for k, v in batch.items()])
