"""Local HTTP servers (`bentoml serve`, `mlflow ui`) on 127.0.0.1 in a subprocess: wait until ready, always stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the project root: tools/local_server.py


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass(frozen=True)
class Server:
    """A started server: its base URL, and its process for tests and the soak that signal it or measure it."""

    url: str
    process: subprocess.Popen


@contextmanager
def local_server(
    command: list[str], port: int, ready_path: str, env: dict[str, str] | None = None, timeout: float = 120,
    log: Path | None = None,
) -> Iterator[str]:
    """Run an HTTP server command bound to 127.0.0.1:`port` in its own process group; yield its base URL once
    `ready_path` answers 200, and stop the whole group on exit, whatever happened (SIGTERM, then SIGKILL)."""
    with local_process(command, port, ready_path, env, timeout, log) as server:
        yield server.url


@contextmanager
def local_process(
    command: list[str], port: int, ready_path: str, env: dict[str, str] | None = None, timeout: float = 120,
    log: Path | None = None,
) -> Iterator[Server]:
    """`local_server`, yielding the `Server` with its process."""
    url = f"http://127.0.0.1:{port}"
    name = " ".join(command[:4])
    log_file = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log_file, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not _ready(f"{url}{ready_path}"):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log or 'its output'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} was not ready within {timeout:.0f}s")
            time.sleep(0.5)
        yield Server(url, process)
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


def running_server(
    target: str = "serving.service:TextClassifier", env: dict[str, str] | None = None, timeout: float = 120, log: Path | None = None
) -> AbstractContextManager[str]:
    """`bentoml serve` of a service or a built Bento on a free port; yields the base URL once it is ready."""
    port = free_port()
    return local_server(_bentoml_serve(target, port), port, "/readyz", env, timeout, log)


def running_process(
    target: str = "serving.service:TextClassifier", env: dict[str, str] | None = None, timeout: float = 120, log: Path | None = None
) -> AbstractContextManager[Server]:
    """`running_server`, yielding the `Server` with its process."""
    port = free_port()
    return local_process(_bentoml_serve(target, port), port, "/readyz", env, timeout, log)


def _bentoml_serve(target: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", target, "--host", "127.0.0.1", "--port", str(port)]
