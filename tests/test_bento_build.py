"""Build a Bento from bentofile.yaml, move it to an empty BentoML home, and serve it there.

The empty home has no model store entry of its own, so only the model packed inside the Bento can answer.
"""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from pipeline.tools.local_server import ROOT, running_server

pytestmark = pytest.mark.slow


def bentoml(*args, env, **kwargs):
    return subprocess.run([sys.executable, "-m", "bentoml", *args], env=env, capture_output=True, text=True, **kwargs)


def test_built_bento_carries_its_model_and_serves(bento_model, tmp_path):
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

    with running_server(target=tag, env=elsewhere) as url:
        request = urllib.request.Request(
            f"{url}/classify", data=json.dumps({"texts": ["Доброе утро", "早上好"]}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            labels = [r["label"] for r in json.loads(response.read())]
    assert labels == ["ru", "zh"]
