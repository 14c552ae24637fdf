"""`bentoml serve` under mixed load, on SIGTERM, and with a broken model in the store."""

import http.client
import json
import os
import shutil
import signal
import threading
import time
import urllib.parse
from pathlib import Path

import bentoml
import pytest

from pipeline.data.prepared import read_split
from pipeline.runtime.predictor import Predictor, read_manifest
from serving.model_store import import_export
from tools import mixed_load
from tools.local_server import running_process, running_server


def _env(tag, **extra: str) -> dict[str, str]:
    return {"TEXTCLF_MODEL": str(tag), "BENTOML_HOME": os.environ["BENTOML_HOME"], **extra}


def test_mixed_load_has_no_5xx_no_drops_and_right_answers(bento_model, pipeline_run, tmp_path):
    """fp32 on both sides: int8 quantizes activations per batch, which would blur the check of batching itself."""
    export = pipeline_run["cfg"].paths.export
    pool = read_split(pipeline_run["cfg"].paths.data, "test")["text"].tolist()
    predictor = Predictor(export, quantized=False)
    with running_server(env=_env(bento_model.tag, TEXTCLF_QUANTIZED="false"), log=tmp_path / "bentoml.log") as url:
        result = mixed_load.run(url, pool, len(predictor.labels), clients=8, seconds=20, seed=7, max_requests=3_000)
    assert result.server_errors == 0 and result.dropped == 0, (result.statuses, result.dropped)
    assert result.bad_not_4xx == []
    assert result.statuses[200] > 20 and sum(n for s, n in result.statuses.items() if 400 <= s < 500) > 5, result.statuses
    assert mixed_load.wrong_answers(predictor, result.samples, tolerance=1e-4) == []


def test_sigterm_under_load_finishes_in_flight_requests_then_refuses(bento_model, pipeline_run, tmp_path):
    pool = read_split(pipeline_run["cfg"].paths.data, "test")["text"].tolist()
    outcomes: list[tuple[float, str]] = []  # (start time, "200" / other status / error name)
    stop = threading.Event()
    lock = threading.Lock()

    def client(url: str, worker: int) -> None:
        parsed = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        body = json.dumps({"texts": [pool[(worker * 16 + k) % len(pool)] * 20 for k in range(16)]}).encode()
        while not stop.is_set():
            started = time.monotonic()
            try:
                connection.request("POST", "/classify", body=body, headers={"content-type": "application/json"})
                response = connection.getresponse()
                response.read()
                outcome = str(response.status)
            except (OSError, http.client.HTTPException) as err:
                outcome = type(err).__name__
                connection.close()
                time.sleep(0.05)
            with lock:
                outcomes.append((started, outcome))

    with running_process(env=_env(bento_model.tag), log=tmp_path / "bentoml.log") as server:
        threads = [threading.Thread(target=client, args=(server.url, w), daemon=True) for w in range(8)]
        for thread in threads:
            thread.start()
        while sum(1 for _, o in outcomes if o == "200") < 20:
            time.sleep(0.1)
        sigterm_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=60)
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
        with pytest.raises(ConnectionRefusedError):
            http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(server.url).port, timeout=5).connect()
    before = [o for started, o in outcomes if started < sigterm_at]
    after = {o for started, o in outcomes if started >= sigterm_at}
    assert set(before) == {"200"}, f"requests in flight at SIGTERM: {before}"
    assert after <= {"200", "503", "ConnectionRefusedError", "RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"}, after
    assert not any(o.startswith("5") and o != "503" for o in after)


def _broken_copy(bento_model, tmp_path: Path, name: str, breaks) -> tuple[bentoml.Model, Path]:
    """The tiny export imported under another name, then one file of the stored copy broken."""
    folder = tmp_path / "export"
    shutil.copytree(bento_model.path, folder)
    model = bentoml.models.get(import_export(folder, name=name).tag)  # the stored copy, not the staging one
    return model, breaks(Path(model.path), read_manifest(folder))


def _flip_bytes(path: Path, manifest: dict) -> Path:
    file = path / manifest["models"]["int8"]
    data = bytearray(file.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 64])
    file.write_bytes(bytes(data))
    return file


def _delete_tokenizer(path: Path, manifest: dict) -> Path:
    (path / "tokenizer.json").unlink()
    return path / "tokenizer.json"


@pytest.mark.parametrize("breaks", [_flip_bytes, _delete_tokenizer], ids=["corrupt onnx", "missing tokenizer.json"])
def test_service_refuses_to_serve_a_broken_model_and_names_the_file(bento_model, tmp_path, breaks):
    """`bentoml serve` exits before it starts a worker, with the file named in its output."""
    model, broken = _broken_copy(bento_model, tmp_path, f"textclf-{breaks.__name__.strip('_').replace('_', '-')}", breaks)
    log = tmp_path / "bentoml.log"
    with pytest.raises(RuntimeError, match="exited with [1-9]"), running_server(env=_env(model.tag), log=log, timeout=120):
        pass
    assert str(broken) in log.read_text(encoding="utf-8", errors="replace")
