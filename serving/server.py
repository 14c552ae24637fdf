"""Start `bentoml serve` on 127.0.0.1 in a subprocess, wait until it is ready, and always stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_server(
    target: str = "serving.service:TextClassifier", env: dict[str, str] | None = None, timeout: float = 120, log: Path | None = None
) -> Iterator[str]:
    """Yield the base URL of a ready server; the server is stopped on exit, whatever happened."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "bentoml", "serve", target, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "BENTOML_DO_NOT_TRACK": "true", **(env or {})},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url):
            if process.poll() is not None:
                raise RuntimeError(f"bentoml serve {target} exited with {process.returncode}; see {log or 'its output'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"bentoml serve {target} was not ready within {timeout:.0f}s")
            time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if log:
            log_file.close()
