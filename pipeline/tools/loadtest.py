"""Drive a running classify endpoint from 127.0.0.1 with N concurrent clients for T seconds.

Bounded: every client stops at the deadline and every request has a timeout. Reports texts/s,
p50/p95/p99 latency and errors, and the batch sizes the server formed (from /v1/metadata).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class LoadResult:
    clients: int
    seconds: float
    texts_per_request: int
    requests: int
    texts: int
    errors: int
    texts_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_batch_size: float


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _batch_sizes(url: str) -> dict[int, int]:
    with urllib.request.urlopen(f"{url}/v1/metadata", timeout=10) as response:
        return {int(k): v for k, v in json.loads(response.read())["batch_sizes"].items()}


def run(url: str, texts: list[str], clients: int = 16, seconds: float = 20, texts_per_request: int = 1) -> LoadResult:
    if not texts:
        raise ValueError("no texts to send")
    before = _batch_sizes(url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    parsed = urllib.parse.urlsplit(url)

    def client(worker: int) -> None:
        # One keep-alive connection per client, as real HTTP clients use: a new TCP connection per request
        # would load the 2 shared cores with connection set-up instead of classification.
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        i = worker * texts_per_request
        while time.monotonic() < deadline:
            chunk = [texts[(i + k) % len(texts)] for k in range(texts_per_request)]
            i += clients * texts_per_request
            body = json.dumps({"texts": chunk}).encode()
            started = time.perf_counter()
            try:
                connection.request("POST", "/classify", body=body, headers={"content-type": "application/json"})
                response = connection.getresponse()
                ok = response.status == 200 and len(json.loads(response.read())) == len(chunk)
            except (OSError, http.client.HTTPException, ValueError):
                ok = False
                connection.close()  # reconnects on the next request
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    wall = time.perf_counter() - started
    after = _batch_sizes(url)
    formed = {size: after.get(size, 0) - before.get(size, 0) for size in after}
    calls = sum(formed.values())
    return LoadResult(
        clients=clients,
        seconds=round(wall, 2),
        texts_per_request=texts_per_request,
        requests=len(latencies),
        texts=len(latencies) * texts_per_request,
        errors=errors[0],
        texts_per_second=len(latencies) * texts_per_request / wall,
        p50_ms=1000 * _percentile(latencies, 0.50),
        p95_ms=1000 * _percentile(latencies, 0.95),
        p99_ms=1000 * _percentile(latencies, 0.99),
        mean_batch_size=sum(s * n for s, n in formed.items()) / calls if calls else 0.0,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--texts", type=Path, required=True, help="a .jsonl split (text field) to draw texts from")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--texts-per-request", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error("the load test only targets this machine (127.0.0.1 / localhost)")
    texts = [json.loads(line)["text"] for line in args.texts.read_text(encoding="utf-8").splitlines()]
    result = run(args.url, texts, args.clients, args.seconds, args.texts_per_request)
    print(json.dumps(asdict(result), indent=2))
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
