"""`TEXTCLF_WORKERS=2`: two BentoML worker processes under the reliability test's mixed load.

Each worker has its own model copy and its own batching queue. Both must take traffic, batch on their own
(the per-worker textclf_batch_size histogram in /metrics), and answer without a 5xx, a dropped connection
or an answer that differs from the in-process predictor.
"""

import json
import os
import urllib.request

import pytest

from pipeline.data.prepared import read_split
from pipeline.runtime.predictor import Predictor
from tools import bench, mixed_load
from tools.loadtest import batches_by_worker, wait_for_workers
from tools.local_server import running_server

pytestmark = pytest.mark.slow


def test_two_workers_share_mixed_load_without_5xx(bento_model, pipeline_run, tmp_path):
    export = pipeline_run["cfg"].paths.export
    pool = read_split(pipeline_run["cfg"].paths.data, "test")["text"].tolist()
    predictor = Predictor(export, quantized=False)
    env = {"TEXTCLF_MODEL": str(bento_model.tag), "BENTOML_HOME": os.environ["BENTOML_HOME"], "TEXTCLF_QUANTIZED": "false",
           "TEXTCLF_WORKERS": "2"}
    with running_server(env=env, log=tmp_path / "bentoml.log") as url:
        wait_for_workers(url, 2)  # /readyz answers once one worker is up; the load's connections then stay on it
        result = mixed_load.run(url, pool, len(predictor.labels), clients=16, seconds=30, seed=11, max_requests=4_000)
        served = batches_by_worker(url)
        with urllib.request.urlopen(f"{url}/v1/metadata", timeout=10) as response:
            worker = json.loads(response.read())["worker"]
    assert result.server_errors == 0 and result.dropped == 0, (result.statuses, result.dropped)
    assert result.bad_not_4xx == []
    assert mixed_load.wrong_answers(predictor, result.samples, tolerance=1e-4) == []
    assert set(served) == {"1", "2"}, served
    assert all(texts > 0 and batches > 0 for texts, batches in served.values()), served
    answered = sum(len(texts) for texts, _, _ in result.samples)
    assert sum(texts for texts, _ in served.values()) >= answered  # every answered text ran in one of the two
    assert worker["of"] == 2 and worker["index"] in (1, 2)


def test_bench_compares_one_and_two_workers_round_by_round(bento_model, pipeline_run):
    result = bench.workers_comparison(pipeline_run["cfg"], clients=4, seconds=2, per_request=4, rounds=2)
    assert len(result["rounds"]) == 2
    for row in result["rounds"]:
        assert row["one"]["errors"] == row["two"]["errors"] == 0
        assert set(row["one"]["texts_per_worker"]) == {"1"} and set(row["two"]["texts_per_worker"]) <= {"1", "2"}
        assert row["ratio"] == pytest.approx(row["two"]["texts_per_second"] / row["one"]["texts_per_second"])
    table = bench.workers_markdown(result)
    assert "| 1 |" in table and "| 2 |" in table and "Two workers / one" in table
