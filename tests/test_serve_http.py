"""`bentoml serve` in a subprocess on a free 127.0.0.1 port: real HTTP, real batching, always stopped."""

import json
import os
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.data.prepared import read_split
from pipeline.runtime.predictor import Predictor
from tools import bench, loadtest
from tools.local_server import running_server


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


@pytest.fixture(scope="module")
def server(bento_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "bentoml.log"
    env = {"TEXTCLF_MODEL": str(bento_model.tag), "BENTOML_HOME": os.environ["BENTOML_HOME"], "TEXTCLF_MAX_LATENCY_MS": "5000"}
    with running_server(env=env, log=log) as url:
        yield url


def test_http_answers_match_the_in_process_predictor(server, pipeline_run):
    cfg = pipeline_run["cfg"]
    texts = read_split(cfg.paths.data, "test")["text"].tolist()[:30]
    body = post(f"{server}/classify", {"texts": texts, "top_k": 2})
    expected = Predictor(cfg.paths.export).predict(texts, top_k=2, batch_size=16)
    assert [r["label"] for r in body] == [p.label for p in expected]


def test_concurrent_requests_are_batched_together(server, pipeline_run):
    texts = read_split(pipeline_run["cfg"].paths.data, "test")["text"].tolist()
    requests = [texts[i : i + 2] for i in range(0, 96, 2)]  # 48 requests of 2 texts from 16 clients
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda chunk: post(f"{server}/classify", {"texts": chunk}), requests))
    assert all(len(a) == 2 for a in answers)
    sizes = {int(k): v for k, v in json.loads(get(f"{server}/v1/metadata"))["batch_sizes"].items()}
    assert max(sizes) > 2, f"no batch merged two requests: {sizes}"
    metrics = get(f"{server}/metrics")
    assert "textclf_batch_size_bucket" in metrics


def test_health_and_bad_input_over_http(server):
    assert get(f"{server}/livez") is not None and get(f"{server}/readyz") is not None
    request = urllib.request.Request(f"{server}/classify", data=b"{oops", headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 400
    assert post(f"{server}/classify", {"texts": ["still up"]})[0]["label"]


def test_loadtest_is_bounded_and_counts_what_the_server_batched(server, pipeline_run):
    texts = read_split(pipeline_run["cfg"].paths.data, "test")["text"].tolist()
    before = json.loads(get(f"{server}/v1/metadata"))["batch_sizes"]
    result = loadtest.run(server, texts, clients=4, seconds=1.0, texts_per_request=3)
    after = json.loads(get(f"{server}/v1/metadata"))["batch_sizes"]
    served = sum(int(k) * v for k, v in after.items()) - sum(int(k) * v for k, v in before.items())
    assert result.errors == 0 and result.requests > 0
    assert served >= result.texts, "the server classified fewer texts than the load generator counted"
    assert result.seconds < 30, "clients must stop at the deadline"
    assert result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.mean_batch_size >= 3


def test_bench_interleaves_rounds_and_reports_each_ratio(pipeline_run):
    result = bench.endpoint_vs_in_process(pipeline_run["cfg"], clients=4, seconds=0.5, texts_per_request=(1, 4), rounds=2)
    assert [s["texts_per_request"] for s in result["served"]] == [1, 4]
    for row in result["served"]:
        assert len(row["rounds"]) == 2
        for r in row["rounds"]:
            assert r["errors"] == 0 and r["in_process"] > 0 and r["texts_per_second"] > 0
    table = bench.served_markdown(result)
    assert table.count("\n| 1 |") == 1 and table.count("\n| 4 |") == 1
    assert len(re.findall(r"text\(s\) per request: [\d.]+, target (met|missed)", table)) == 2
