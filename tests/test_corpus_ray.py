"""`pipeline predict --ray` on a real two-node Ray cluster on this machine: a head and one worker node started
with `ray start`, as the docs show for several machines. Slow (the cluster takes about ten seconds to start)."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from pipeline.runtime.predictor import Predictor
from tools.ray_cluster import Cluster, ray_cluster

pytest.importorskip("ray", reason="the ray extra: pip install -e '.[ray]' (make test-slow installs it)")
pytestmark = pytest.mark.slow

TEXTS = ["Guten Morgen, wie geht es dir?", "Доброе утро", "早上好", "صباح الخير", "Bonjour, comment ça va ?", "Good morning to you"]
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "BENTOML_DO_NOT_TRACK": "true"}


@pytest.fixture
def cluster():
    """A head (one CPU) and a worker node (two CPUs): room for the two Classifiers the test asks for, with the
    CPU `--ray` leaves free for reading and writing. Token authentication (Ray's default for new clusters since
    2.5x) with a token of the cluster's own, in the environment of every node and client."""
    with ray_cluster([1, 2], ENV, ["--object-store-memory=100000000"]) as started:
        yield started


def _predict(cluster: Cluster, *args) -> subprocess.CompletedProcess:
    """`pipeline predict ARGS --ray <the cluster>`."""
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "predict", *map(str, args), "--ray", cluster.address], env=cluster.env,
                          capture_output=True, text=True, timeout=600)


def test_two_nodes_classify_every_row_once_as_in_process(tmp_path, pipeline_run, cluster):
    export = pipeline_run["cfg"].paths.export
    shards = tmp_path / "shards"
    shards.mkdir()
    texts = [f"{TEXTS[i % len(TEXTS)]} {i}" for i in range(600)]
    for n in range(3):
        part = pd.DataFrame({"id": range(n * 200, (n + 1) * 200), "text": texts[n * 200 : (n + 1) * 200]})
        part.to_parquet(shards / f"part-{n}.parquet", index=False)
    out = tmp_path / "out"
    # fp32: int8 scales each onnxruntime call's activations by that call's range, so a near-tie could fall the
    # other way in Ray's batches, which hold other rows than the Predictor's below
    result = _predict(cluster, shards, "-o", out, "--export", export, "--processes", "2", "--top-k", "2", "--fp32")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "classified 600 texts" in result.stderr
    rows = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("*.parquet"))])
    assert sorted(rows["id"]) == list(range(600))  # every row once
    expected = {i: p.label for i, p in enumerate(Predictor(export, quantized=False).predict(texts))}
    assert {i: label for i, label in zip(rows["id"], rows["label"], strict=True)} == expected
    assert all(len(top) == 2 for top in rows["top_k"])
    assert not (tmp_path / "out.partial").exists()

    # --keep with --rejected: the kept rows in one folder, every other row in the other, each row once, in one pass
    kept, rejected = tmp_path / "kept", tmp_path / "rejected"
    result = _predict(cluster, shards, "-o", kept, "--export", export, "--processes", "2", "--fp32",
                      "--keep", "de", "--rejected", rejected, "--format", "jsonl")
    assert result.returncode == 0, result.stderr[-3000:]
    kept_rows = [json.loads(line) for p in sorted(kept.glob("*.jsonl")) for line in p.read_text(encoding="utf-8").splitlines()]
    rejected_rows = [json.loads(line) for p in sorted(rejected.glob("*.jsonl")) for line in p.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in kept_rows + rejected_rows) == list(range(600))
    assert {r["id"] for r in kept_rows} == {i for i, label in expected.items() if label == "de"} != set()
    assert all(r["label"] != "de" for r in rejected_rows) and rejected_rows
    assert f"kept {len(kept_rows)}, rejected {len(rejected_rows)}" in result.stderr
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())

    # an empty text stops the run with the file and row named, as without --ray, and leaves no output folder
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in ["Guten Morgen", "", "Bonjour"]), encoding="utf-8")
    result = _predict(cluster, bad, "-o", tmp_path / "bad-out", "--export", export, "--format", "jsonl")
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"{bad / 'a.jsonl'}: row 2: the text is empty" in result.stderr
    assert not (tmp_path / "bad-out").exists() and not (tmp_path / "bad-out.partial").exists()
    # a line that is not UTF-8 fails inside Ray Data's own reader, whose error names no row: the local reader does
    broken = tmp_path / "broken"
    broken.mkdir()
    lines = [json.dumps({"text": t}).encode() for t in ["Guten Morgen", "Bonjour"]] + [b'{"text": "caf\xe9"}']
    (broken / "b.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result = _predict(cluster, broken, "-o", tmp_path / "broken-out", "--export", export, "--format", "jsonl")
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"{broken / 'b.jsonl'}: row 3: not UTF-8" in result.stderr
    assert not (tmp_path / "broken-out").exists() and not (tmp_path / "broken-out.partial").exists()
    result = _predict(cluster, bad, "-o", tmp_path / "bad-out", "--export", export, "--format", "jsonl", "--on-empty", "skip")
    assert result.returncode == 0, result.stderr[-3000:]
    written = [json.loads(line) for p in (tmp_path / "bad-out").glob("*.jsonl") for line in p.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["text"] for r in written) == ["Bonjour", "Guten Morgen"]
    assert "1 empty texts left out" in result.stderr
