"""Drive a running classify endpoint from 127.0.0.1 with N concurrent clients for T seconds.

Bounded: every client stops at the deadline and every request has a timeout. Reports texts/s,
p50/p95/p99 latency and errors, and the batches the server formed and which worker ran them (from /metrics,
which adds up every worker's; /v1/metadata shows only the worker that answers it).
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

from prometheus_client.parser import text_string_to_metric_families


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
    texts_per_worker: dict[str, int]  # BentoML worker index -> texts it ran during the load


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def batches_by_worker(url: str) -> dict[str, tuple[int, int]]:
    """Worker index -> (texts, batches) it has run since it started: the textclf_batch_size histogram's
    _sum and _count in /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        exposition = response.read().decode()
    totals: dict[str, list[int]] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != "textclf_batch_size":
            continue
        for sample in family.samples:
            if sample.name.endswith(("_sum", "_count")):
                totals.setdefault(sample.labels["worker"], [0, 0])[sample.name.endswith("_count")] += int(sample.value)
    return {worker: (texts, batches) for worker, (texts, batches) in totals.items()}


def wait_for_workers(url: str, workers: int, timeout: float = 120) -> None:
    """Return once every worker (1..workers) has answered /v1/metadata on a fresh connection.

    /readyz answers as soon as one worker is up. Load started then lets that worker accept every keep-alive
    connection, and a worker still loading its model gets none of them for the whole run.
    """
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while not seen >= set(range(1, workers + 1)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: only worker(s) {sorted(seen)} of {workers} answered /v1/metadata within {timeout:.0f} s")
        with urllib.request.urlopen(f"{url}/v1/metadata", timeout=10) as response:  # a new connection each time
            seen.add(json.loads(response.read())["worker"]["index"])
        time.sleep(0.05)


def run(
    url: str, texts: list[str], clients: int = 16, seconds: float = 20, texts_per_request: int = 1, metrics: bool = True
) -> LoadResult:
    """metrics=False for a server without the service's /metrics (the bench's bare reference app)."""
    if not texts:
        raise ValueError("no texts to send")
    before = batches_by_worker(url) if metrics else {}
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
    after = batches_by_worker(url) if metrics else {}
    ran = {w: (t - before.get(w, (0, 0))[0], b - before.get(w, (0, 0))[1]) for w, (t, b) in after.items()}
    batches = sum(b for _, b in ran.values())
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
        mean_batch_size=sum(t for t, _ in ran.values()) / batches if batches else 0.0,
        texts_per_worker={w: t for w, (t, _) in sorted(ran.items())},
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
