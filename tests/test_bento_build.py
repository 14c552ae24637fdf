"""Build a Bento from bentofile.yaml, move it to an empty BentoML home, and serve it there.

The empty home has no model store entry of its own, so only the model packed inside the Bento can answer.
What it answers is compared with the in-process Predictor over the same export, not with the labels a
reader would expect: the tiny test model is trained in a fixture, and its answers differ from one CPU to the
next (on an AMD EPYC it read 早上好 as Russian), while the Bento must serve exactly what the export says.
"""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from pipeline.data.prepared import read_split
from pipeline.runtime.predictor import Predictor
from tools.local_server import ROOT, running_server

pytestmark = pytest.mark.slow


def bentoml(*args, env, **kwargs):
    return subprocess.run([sys.executable, "-m", "bentoml", *args], env=env, capture_output=True, text=True, **kwargs)


def test_built_bento_carries_its_model_and_serves(bento_model, pipeline_run, tmp_path):
    env = {**os.environ, "TEXTCLF_MODEL": str(bento_model.tag)}
    built = bentoml("build", "--output", "tag", env=env, cwd=ROOT, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    tag = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    archive = tmp_path / "textclf.bento"
    bentoml("export", tag, str(archive), env=env, check=True)

    elsewhere = {**env, "BENTOML_HOME": str(tmp_path / "empty-home")}
    bentoml("import", str(archive), env=elsewhere, check=True)
    models = bentoml("models", "list", "-o", "json", env=elsewhere, check=True)
    assert str(bento_model.tag) in {m["tag"] for m in json.loads(models.stdout)}  # arrived with the Bento

    texts = ["Доброе утро", "早上好", *read_split(pipeline_run["cfg"].paths.data, "test")["text"].tolist()[:14]]
    with running_server(target=tag, env=elsewhere) as url:
        request = urllib.request.Request(
            f"{url}/classify", data=json.dumps({"texts": texts, "top_k": 2}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        with urllib.request.urlopen(f"{url}/v1/metadata", timeout=30) as response:
            served = json.loads(response.read())
    # The service's own variant (int8 when the export has it) in its own length-sorted batches of 16: dynamic
    # int8 quantizes activations per call, so scores depend slightly on which texts share a batch.
    predictor = Predictor(pipeline_run["cfg"].paths.export)
    assert served["model_tag"] == str(bento_model.tag) and served["quantized"] == (predictor.variant == "int8")
    expected = predictor.predict(texts, top_k=2, batch_size=16)
    assert [r["label"] for r in body] == [p.label for p in expected]
    for got, want in zip(body, expected, strict=True):
        assert got["score"] == pytest.approx(want.score, abs=1e-5)
        assert [t["label"] for t in got["top_k"]] == [t["label"] for t in want.top_k]
