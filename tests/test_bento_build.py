"""Build a Bento from bentofile.yaml and serve the built Bento: the model must travel inside it."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from serving.server import ROOT, running_server

pytestmark = pytest.mark.slow


def test_built_bento_carries_its_model_and_serves(bento_model, pipeline_run):
    env = {**os.environ, "TEXTCLF_MODEL": str(bento_model.tag)}
    built = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    tag = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    info = subprocess.run(
        [sys.executable, "-m", "bentoml", "get", tag, "-o", "json"], env=env, capture_output=True, text=True, check=True
    )
    models = [m["tag"] for m in json.loads(info.stdout)["models"]]
    assert str(bento_model.tag) in models

    # Serve the Bento with the model store emptied: only the copy inside the Bento can answer.
    subprocess.run([sys.executable, "-m", "bentoml", "models", "delete", "-y", str(bento_model.tag)], env=env, check=True)
    try:
        with running_server(target=tag, env={"TEXTCLF_MODEL": str(bento_model.tag)}) as url:
            request = urllib.request.Request(
                f"{url}/classify", data=json.dumps({"texts": ["Доброе утро", "早上好"]}).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                labels = [r["label"] for r in json.loads(response.read())]
    finally:
        from serving.model_store import import_export

        import_export(pipeline_run["cfg"].paths.export)  # restore the store for any later test
    assert labels == ["ru", "zh"]
