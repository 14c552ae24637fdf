"""wait_for_workers against a stand-in server whose "workers" answer /v1/metadata in a fixed order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.loadtest import wait_for_workers


@contextmanager
def metadata_server(indexes: list[int]) -> Iterator[tuple[str, list[int]]]:
    """Answers the n-th request as worker indexes[n % len(indexes)]; yields the URL and the answers given."""
    answered: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            index = indexes[len(answered) % len(indexes)]
            answered.append(index)
            body = json.dumps({"worker": {"index": index, "of": max(indexes)}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answered
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_returns_once_every_worker_has_answered() -> None:
    with metadata_server([1, 1, 1, 2]) as (url, answered):
        wait_for_workers(url, 2, timeout=30)
    assert answered == [1, 1, 1, 2]  # it stopped asking at the first answer from worker 2


def test_names_the_workers_that_answered_when_one_never_does() -> None:
    with metadata_server([1]) as (url, _), pytest.raises(TimeoutError, match=r"only worker\(s\) \[1\] of 2 answered"):
        wait_for_workers(url, 2, timeout=0.5)
