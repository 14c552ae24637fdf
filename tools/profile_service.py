"""Where a one-text request's time goes in the BentoML service, measured in the process with no network between.

`make profile-service CONFIG=...` writes reports/<run>/service-profile.md. It calls the service's ASGI app (the one
`bentoml serve` runs, middleware and all) directly with one-text POST /classify requests, one after another, and
compares it with:
- the bare Starlette app `make bench` holds the service to (tools/bare_server.py), called the same way;
- the service with one of BentoML's per-request layers switched off by BentoML's own configuration (access log,
  metrics, tracing), which shows what each layer costs;
- the Predictor alone, and the JSON a request parses and writes.

Each variant runs in a fresh process (BentoML reads its configuration once), `ROUNDS` rounds with the variants
rotated, and the median round is reported. A cProfile pass over the service as served then splits its time by
the library the code belongs to. What the socket and uvicorn's HTTP parser cost is the same for both servers and is
not in these figures; `make bench` has the end-to-end ones.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pipeline.config import load_config
from pipeline.data.prepared import read_split
from pipeline.machine import describe

ROUNDS = 3
REQUESTS = 2000
BARE = "bare Starlette app"
SERVED = "BentoML service, as served"
PREDICTOR = "Predictor alone"
# variant -> BENTOML_CONFIG_OPTIONS that switches one of BentoML's per-request layers off
LAYERS_OFF = {
    "BentoML service, access log off": "services.TextClassifier.logging.access.enabled=false",
    "BentoML service, metrics off": "services.TextClassifier.metrics.enabled=false",
    "BentoML service, tracing off on /classify": "tracing.excluded_urls=/classify",
}
VARIANTS = (BARE, SERVED, *LAYERS_OFF, PREDICTOR)
RESULT = "us/request: "  # how a child process's one figure is told apart from the access log it prints
# where a function's code lives -> the layer reported; the first match wins, anything else is "other"
LAYERS = (
    # the event loop idle in epoll: waiting for the batching window to close and for the inference thread
    ("select.epoll", "waiting for the batching window and the inference thread"),
    ("selectors", "waiting for the batching window and the inference thread"),
    ("onnxruntime", "onnxruntime"),
    ("opentelemetry", "tracing (OpenTelemetry)"),
    ("prometheus_client", "metrics (Prometheus)"),
    ("bentoml/_internal/server/http/access", "access log"),
    ("logging/", "access log"),
    ("TextIOWrapper", "access log"),  # the only thing a served request writes is its access log line
    ("pydantic", "validation and serialization (pydantic)"),
    ("bentoml", "BentoML routing, IO and context"),
    ("_bentoml", "BentoML routing, IO and context"),
    ("starlette", "Starlette"),
    ("fastapi", "Starlette"),
    ("anyio", "event loop and thread hops"),
    ("asyncio", "event loop and thread hops"),
    ("threading", "event loop and thread hops"),
    ("_thread.lock", "event loop and thread hops"),
    ("inspect.py", "BentoML routing, IO and context"),  # BentoML binds the API's signature on every call
    ("json", "JSON"),
    ("pipeline/", "Predictor (numpy, ranking)"),
    ("numpy", "Predictor (numpy, ranking)"),
    ("serving/", "the service's own code"),
)


def _body(text: str) -> bytes:
    return json.dumps({"texts": [text]}).encode()


def asgi_caller(app: Any) -> Callable[[bytes], Awaitable[int]]:
    """A coroutine that sends one POST /classify with `body` to `app` and returns the status it answered."""

    async def call(body: bytes) -> int:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/classify", "raw_path": b"/classify", "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 3000), "state": {},
        }
        received = False
        status: list[int] = []

        async def receive() -> dict:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            return {}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    return call


async def _started(app: Any) -> asyncio.Task:
    """Run the app's lifespan startup (the service creates its instance, and so its Predictor, there)."""
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put))
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")
    return task


def _app(variant: str, export: Path) -> Any:
    if variant == BARE:
        from tools.bare_server import build_app

        return build_app(export)
    from bentoml._internal.log import configure_server_logging

    from serving.model_store import import_export

    os.environ["TEXTCLF_MODEL"] = str(import_export(export).tag)
    configure_server_logging()  # the access log writes what it writes under `bentoml serve`
    from serving.service import TextClassifier

    return TextClassifier.to_asgi(is_main=True)


def time_variant(variant: str, export: Path, texts: list[str], requests: int, profile: Path | None = None) -> float:
    """Microseconds per one-text request, one request after another; with `profile`, a cProfile of the timed
    requests is written there."""
    bodies = [_body(texts[i % len(texts)]) for i in range(requests)]
    if variant == PREDICTOR:
        from pipeline.runtime.predictor import Predictor

        predictor = Predictor(export)
        predictor.predict(texts[:50], batch_size=1)
        t0 = time.perf_counter()
        for body in bodies:
            json.dumps([p.to_dict() for p in predictor.predict(json.loads(body)["texts"], batch_size=1)])
        return 1e6 * (time.perf_counter() - t0) / requests

    async def run() -> float:
        app = _app(variant, export)
        await _started(app)
        call = asgi_caller(app)
        for body in bodies[:200]:  # warm-up
            assert await call(body) == 200
        profiler = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        for body in bodies:
            status = await call(body)
            if status != 200:
                raise RuntimeError(f"{variant}: POST /classify answered {status}")
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
        return 1e6 * (time.perf_counter() - t0) / requests

    return asyncio.run(run())


def layers(profile: Path, requests: int) -> dict[str, float]:
    """Microseconds per request by layer: each function's own time (tottime), grouped by where its code lives."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    spent: collections.Counter[str] = collections.Counter()
    for (filename, _, name), (_, _, own, _, _) in stats.items():
        where = filename if filename != "~" else name  # builtins: the method's own name ("<method 'run' of ...>")
        layer = next((label for key, label in LAYERS if key in where), "other")
        spent[layer] += 1e6 * own / requests
    return dict(spent.most_common())


def in_child(variant: str, export: Path, sample: Path, requests: int, profile: Path | None) -> float:
    command = [sys.executable, "-m", "tools.profile_service", "--child", variant, "--export", str(export),
               "--sample", str(sample), "--requests", str(requests)]
    if profile:
        command += ["--profile", str(profile)]
    env = {**os.environ, "BENTOML_CONFIG_OPTIONS": LAYERS_OFF.get(variant, "")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{done.stderr[-3000:]}")
    return float(next(line for line in done.stdout.splitlines() if line.startswith(RESULT))[len(RESULT):])


def measure(export: Path, texts: list[str], workdir: Path, rounds: int = ROUNDS, requests: int = REQUESTS) -> dict:
    sample = workdir / "service-profile-texts.json"
    sample.write_text(json.dumps(texts[:1000]), encoding="utf-8")
    runs: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(rounds):
        for variant in VARIANTS[r % len(VARIANTS):] + VARIANTS[: r % len(VARIANTS)]:
            runs[variant].append(in_child(variant, export, sample, requests, None))
    profile = workdir / "service-profile.prof"
    profiled = in_child(SERVED, export, sample, requests, profile)
    return {
        "requests": requests, "rounds": runs, "us_per_request": {v: statistics.median(t) for v, t in runs.items()},
        "profiled_us_per_request": profiled, "layers_us": layers(profile, requests),
    }


def markdown(result: dict, command: str, run: str) -> str:
    us = result["us_per_request"]
    bare, served = us[BARE], us[SERVED]
    rows = [f"| {v} | {us[v]:.0f} | {us[v] / bare:.2f}x | {min(result['rounds'][v]):.0f}-{max(result['rounds'][v]):.0f} |" for v in VARIANTS]
    total = sum(result["layers_us"].values())
    layer_rows = [f"| {layer} | {t:.0f} | {100 * t / total:.0f}% |" for layer, t in result["layers_us"].items()]
    saved = {v: served - us[v] for v in LAYERS_OFF}
    return "\n".join([
        f"# Where a one-text request's time goes in the service: {run}",
        "",
        f"Produced by `{command}` on {describe()}. One-text POST /classify requests ({result['requests']} per round,"
        " one after another) sent straight to each ASGI app in its own process, no socket; microseconds per request,"
        f" the median of {len(result['rounds'][BARE])} rounds with the variants rotated (lowest and highest round"
        " beside it). The socket and uvicorn's HTTP parsing are the same for every server and not in these figures.",
        "",
        "| variant | µs/request | against the bare app | rounds |",
        "|---|---|---|---|",
        *rows,
        "",
        f"BentoML's layers cost {served - bare:.0f} µs a request over the bare app's {bare:.0f}. Switched off one at a"
        " time by BentoML's own configuration: "
        + "; ".join(f"{v.split(', ')[1]} saves {s:.0f} µs" for v, s in saved.items()) + ".",
        "",
        "## The service as served, by library",
        "",
        "Each function's own time under cProfile (which slows Python calls, so the rows are shares rather than"
        f" exact times: {result['profiled_us_per_request']:.0f} µs a request while profiled), grouped by the library"
        " its code belongs to. cProfile sees the event loop's thread only: onnxruntime runs in the batching"
        " dispatcher's worker thread, so its time is inside the wait row.",
        "",
        "| layer | µs/request | share |",
        "|---|---|---|",
        *layer_rows,
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("configs/default.yaml"))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        texts = json.loads(args.sample.read_text(encoding="utf-8"))
        print(f"{RESULT}{time_variant(args.child, args.export, texts, args.requests, args.profile)}")
        return 0
    cfg = load_config(args.config)
    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    cfg.paths.reports.mkdir(parents=True, exist_ok=True)
    result = measure(cfg.paths.export, texts, cfg.paths.artifacts, args.rounds, args.requests)
    out = cfg.paths.reports / "service-profile.md"
    out.write_text(markdown(result, f"make profile-service CONFIG={args.config}", cfg.run_name), encoding="utf-8")
    (cfg.paths.reports / "service-profile.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
