"""`make bench`: the served endpoint against the in-process predictor, measured in one run on one machine.

Writes reports/benchmarks.md. Both sides classify the same test sentences with the same int8 model;
the in-process side runs batches as large as the number of concurrent clients, the largest batch the
server's adaptive batching can form from one-text requests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from pipeline.config import Config, load_config
from pipeline.machine import describe
from pipeline.predictor import Predictor
from pipeline.prepare import read_split
from serving import loadtest
from serving.model_store import import_export
from serving.server import running_server


def in_process_rate(predictor: Predictor, texts: list[str], batch_size: int, seconds: float) -> float:
    predictor.predict(texts[:batch_size], batch_size=batch_size)  # warm-up
    done, started = 0, time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        chunk = [texts[(i + k) % len(texts)] for k in range(batch_size)]
        predictor.predict(chunk, batch_size=batch_size)
        done += batch_size
        i += batch_size
    return done / (time.perf_counter() - started)


def endpoint_vs_in_process(cfg: Config, clients: int, seconds: float) -> dict:
    export = cfg.paths.export
    tag = import_export(export).tag
    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    in_process = in_process_rate(Predictor(export), texts, clients, seconds)
    log = cfg.paths.reports / "bench-server.log"
    with running_server(env={"TEXTCLF_MODEL": str(tag)}, log=log) as url:
        loadtest.run(url, texts, clients, 3)  # warm-up, not reported
        served = loadtest.run(url, texts, clients, seconds)
    return {"in_process_texts_per_second": in_process, "served": asdict(served), "ratio": served.texts_per_second / in_process}


def markdown(cfg: Config, result: dict, command: str) -> str:
    served = result["served"]
    return "\n".join(
        [
            "# Benchmarks",
            "",
            f"Produced by `{command}` on {dt.date.today().isoformat()}, on {describe()}.",
            f"Model: the `{cfg.run_name}` export (int8 ONNX). All figures in one table come from one run:",
            "compare ratios, not absolute numbers, across machines.",
            "",
            "## Served endpoint against in-process throughput",
            "",
            f"{served['clients']} concurrent clients, one text per request, for {served['seconds']:.0f} s, against "
            f"`bentoml serve` on 127.0.0.1; the in-process predictor runs batches of {served['clients']} in one thread.",
            "",
            "| | texts/s | p50 ms | p95 ms | p99 ms | errors | mean server batch |",
            "|---|---|---|---|---|---|---|",
            f"| endpoint | {served['texts_per_second']:.0f} | {served['p50_ms']:.1f} | {served['p95_ms']:.1f} | "
            f"{served['p99_ms']:.1f} | {served['errors']} | {served['mean_batch_size']:.1f} |",
            f"| in-process predictor | {result['in_process_texts_per_second']:.0f} | | | | | {served['clients']} |",
            "",
            f"**Endpoint / in-process: {result['ratio']:.2f}** (target 0.80).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", default="configs/default.yaml")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--output", type=Path, default=Path("reports/benchmarks.md"))
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    result = endpoint_vs_in_process(cfg, args.clients, args.seconds)
    command = f"make bench CONFIG={args.config}"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(markdown(cfg, result, command), encoding="utf-8")
    (args.output.with_suffix(".json")).write_text(json.dumps(result, indent=2))
    print(args.output.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
