"""`make bench`: inference speed per runtime, and the served endpoint against the in-process predictor.

Writes reports/benchmarks.md, every table from one run on one machine. Served and in-process sides
classify the same test sentences with the same model variant (int8 when the export has it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

from bentoml._internal.configuration.containers import BentoMLContainer

from pipeline.config import Config, load_config
from pipeline.data.prepared import read_split
from pipeline.machine import describe
from pipeline.runtime.predictor import Predictor
from serving.model_store import import_export
from serving.settings import SETTINGS
from tools import langid_bench, loadtest, speed
from tools.local_server import ROOT, free_port, local_server, running_server


def endpoint_vs_in_process(
    cfg: Config, clients: int, seconds: float, texts_per_request: tuple[int, ...], rounds: int
) -> dict:
    """Interleave in-process and endpoint windows and keep each round's ratio.

    This machine's speed drifts by a quarter within minutes (other tenants), so an in-process figure taken
    once before all endpoint runs can be measured in a faster or slower minute than they are. Each round
    measures the in-process predictor and then the endpoint back to back; the median of the per-round
    ratios is the figure reported, with the lowest and highest beside it.
    """
    export = cfg.paths.export
    tag = import_export(export).tag
    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    predictor = Predictor(export)
    in_process = lambda chunk, batch: predictor.predict(chunk, batch_size=batch)  # noqa: E731
    log = cfg.paths.artifacts / "bench-server.log"
    served = []
    with running_server(env={"TEXTCLF_MODEL": str(tag)}, log=log) as url:
        loadtest.wait_for_workers(url, SETTINGS.workers)
        loadtest.run(url, texts, clients, 3)  # warm-up, not reported
        for per_request in texts_per_request:
            runs = []
            for _ in range(rounds):
                baseline = speed.rate(in_process, texts, clients, seconds)
                result = loadtest.run(url, texts, clients, seconds, per_request)
                runs.append(asdict(result) | {"in_process": baseline, "ratio": result.texts_per_second / baseline})
            served.append({"texts_per_request": per_request, "rounds": runs})
    return {
        "batch_size": clients, "clients": clients, "seconds": seconds, "variant": predictor.variant,
        "max_batch_size": SETTINGS.max_batch_size, "concurrent_batches": SETTINGS.concurrent_batches, "served": served,
    }


def bare_comparison(cfg: Config, clients: int, seconds: float, texts_per_request: tuple[int, ...], rounds: int) -> dict:
    """The service against the bare Starlette app over the same Predictor (tools/bare_server.py): both servers up,
    each round measuring one and then the other, the order swapped every round."""
    export = cfg.paths.export
    tag = import_export(export).tag
    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    logs = cfg.paths.artifacts
    port = free_port()
    bare_command = [sys.executable, "-m", "tools.bare_server", str(export), "--port", str(port)]
    rows = []
    with running_server(env={"TEXTCLF_MODEL": str(tag)}, log=logs / "bench-server.log") as served, \
            local_server(bare_command, port, "/readyz", log=logs / "bench-bare.log") as bare:
        loadtest.wait_for_workers(served, SETTINGS.workers)
        servers = {"bentoml": (served, True), "bare": (bare, False)}
        for url, metrics in servers.values():
            loadtest.run(url, texts, clients, 3, metrics=metrics)  # warm-up, not reported
        for per_request in texts_per_request:
            runs = []
            for r in range(rounds):
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                got = {name: asdict(loadtest.run(servers[name][0], texts, clients, seconds, per_request, metrics=servers[name][1])) for name in order}
                runs.append(got | {"ratio": got["bentoml"]["texts_per_second"] / got["bare"]["texts_per_second"],
                                   "p99_ratio": got["bentoml"]["p99_ms"] / got["bare"]["p99_ms"]})
            rows.append({"texts_per_request": per_request, "rounds": runs})
    return {"clients": clients, "seconds": seconds, "served": rows}


def bare_goal_met(row: dict) -> bool:
    """The issue's goal: at one text per request 0.90 of the bare app's texts/s and at most twice its p99; at more,
    at least its texts/s; no errors on either side."""
    runs = row["rounds"]
    ratio, p99_ratio = _median(runs, "ratio"), _median(runs, "p99_ratio")
    clean = not any(r[side]["errors"] for r in runs for side in ("bentoml", "bare"))
    if row["texts_per_request"] == 1:
        return clean and ratio >= 0.90 and p99_ratio <= 2.0
    return clean and ratio >= 1.0


def bare_markdown(result: dict) -> str:
    rows = []
    for row in result["served"]:
        runs = row["rounds"]
        for side, name in (("bentoml", "`make serve` (BentoML)"), ("bare", "bare Starlette app")):
            figures = [r[side] for r in runs]
            rows.append(
                f"| {row['texts_per_request']} | {name} | {_median(figures, 'texts_per_second'):.0f} | {_median(figures, 'p50_ms'):.1f}"
                f" | {_median(figures, 'p99_ms'):.1f} | {sum(f['errors'] for f in figures)} |"
            )
    verdicts = []
    for row in result["served"]:
        runs = row["rounds"]
        ratios = [r["ratio"] for r in runs]
        target = "0.90 of its texts/s and at most 2x its p99" if row["texts_per_request"] == 1 else "1.00 of its texts/s"
        verdicts.append(
            f"{row['texts_per_request']} text(s) per request: BentoML / bare **{_median(runs, 'ratio'):.2f}x** texts/s"
            f" (rounds {min(ratios):.2f}-{max(ratios):.2f}), p99 {_median(runs, 'p99_ratio'):.2f}x; target {target}:"
            f" **{'met' if bare_goal_met(row) else 'missed'}**."
        )
    rounds = len(result["served"][0]["rounds"])
    return "\n".join([
        "## The service against a bare ASGI app",
        "",
        f"The same {result['clients']} client threads (`tools/loadtest.py`, keep-alive connections, on the same cores)"
        " against `make serve` and against a bare Starlette app on uvicorn (`tools/bare_server.py`: one worker, no"
        " batching, inference inline, uvicorn's defaults) over the same Predictor and model variant. Both servers up;"
        f" {rounds} rounds of {result['seconds']:.0f} s on each, the order swapped every round. Medians over the rounds;"
        " errors summed.",
        "",
        "| texts per request | server | texts/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        *[f"- {v}" for v in verdicts],
        "",
        "Where a one-text request's time goes inside the service, layer by layer: `make profile-service`"
        " (reports/<run>/service-profile.md).",
        "",
    ])


def corpus_section(report: Path) -> str:
    """`make corpus-bench`'s report (its own run, which takes minutes more), carried into this one so every
    benchmark is on one page; its first line names its own command and date."""
    if not report.is_file():
        return f"\n## Classifying a corpus\n\nNot measured yet: `make corpus-bench` writes {report}, and `make bench` then carries it here.\n"
    text = report.read_text(encoding="utf-8")
    return "\n" + text.replace("# Classifying a corpus", "## Classifying a corpus (from `make corpus-bench`)", 1)


def _own_home(folder: Path) -> str:
    """A BENTOML_HOME for one of two servers run side by side, sharing the model store through a link.

    BentoML keeps /metrics' multiprocess files in <BENTOML_HOME>/prometheus_multiproc_dir and empties it
    when a server starts: two servers on one home would erase and then mix each other's metrics.
    """
    store = Path(BentoMLContainer.bentoml_home.get()) / "models"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "models"
    if not link.is_symlink():
        link.symlink_to(store.resolve(), target_is_directory=True)
    return str(folder)


def workers_comparison(cfg: Config, clients: int, seconds: float, per_request: int, rounds: int) -> dict:
    """One worker against TEXTCLF_WORKERS=2 on the same cores: both servers up, rounds interleaved.

    The idle server costs nothing while the other is measured, and alternating them puts both in the same
    minutes of this machine's drifting speed; the figure reported is the median of per-round ratios.
    """
    tag = import_export(cfg.paths.export).tag
    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    logs = cfg.paths.artifacts
    env = {n: {"TEXTCLF_MODEL": str(tag), "TEXTCLF_WORKERS": str(n), "BENTOML_HOME": _own_home(logs / f"bench-home-{n}")} for n in (1, 2)}
    runs = []
    with running_server(env=env[1], log=logs / "bench-1-worker.log") as one, \
            running_server(env=env[2], log=logs / "bench-2-workers.log") as two:
        loadtest.wait_for_workers(two, 2)
        for url in (one, two):
            loadtest.run(url, texts, clients, 3, per_request)  # warm-up, not reported
        for _ in range(rounds):
            single = loadtest.run(one, texts, clients, seconds, per_request)
            double = loadtest.run(two, texts, clients, seconds, per_request)
            runs.append({"one": asdict(single), "two": asdict(double), "ratio": double.texts_per_second / single.texts_per_second})
    return {"clients": clients, "seconds": seconds, "texts_per_request": per_request, "rounds": runs}


def workers_markdown(result: dict) -> str:
    runs = result["rounds"]
    ratios = [r["ratio"] for r in runs]
    rows = []
    for key, workers in (("one", 1), ("two", 2)):
        side = [r[key] for r in runs]
        texts = {}
        for r in side:
            for worker, n in r["texts_per_worker"].items():
                texts[worker] = texts.get(worker, 0) + n
        shares = ", ".join(f"worker {w}: {100 * n / sum(texts.values()):.0f}%" for w, n in sorted(texts.items()))
        rows.append(
            f"| {workers} | {_median(side, 'texts_per_second'):.0f} | {_median(side, 'p50_ms'):.1f} | {_median(side, 'p95_ms'):.1f}"
            f" | {_median(side, 'p99_ms'):.1f} | {sum(r['errors'] for r in side)} | {_median(side, 'mean_batch_size'):.1f} | {shares} |"
        )
    return "\n".join(
        [
            "## Serving workers: `TEXTCLF_WORKERS=2` against one worker on the same cores",
            "",
            f"{result['clients']} clients sending {result['texts_per_request']} texts per request, {len(runs)} rounds of"
            f" {result['seconds']:.0f} s on each server, alternated (both servers up, the idle one waiting). Medians over"
            " the rounds; errors summed; the last column is each worker's share of the texts, from the per-worker"
            " `textclf_batch_size` histogram in `/metrics`.",
            "",
            "| workers | texts/s | p50 ms | p95 ms | p99 ms | errors | mean texts per batch | texts per worker |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Two workers / one: **{statistics.median(ratios):.2f}x** (rounds {min(ratios):.2f}-{max(ratios):.2f}). Each worker"
            " loads its own model copy and gives onnxruntime its share of the cores (cores / workers threads), so on"
            " this machine a second worker adds no arithmetic: what it can add is a second event loop parsing"
            " requests and writing responses while the other runs a batch, and what it costs is a second model in"
            " memory and smaller batches per worker.",
            "",
        ]
    )


def _met(row: dict, target: float = 0.80) -> bool:
    return _median(row["rounds"], "ratio") >= target and not any(r["errors"] for r in row["rounds"])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def served_markdown(result: dict) -> str:
    rows = []
    for s in result["served"]:
        runs = s["rounds"]
        ratios = [r["ratio"] for r in runs]
        rows.append(
            f"| {s['texts_per_request']} | {_median(runs, 'texts_per_second'):.0f} | {_median(runs, 'in_process'):.0f} | "
            f"**{_median(runs, 'ratio'):.2f}** ({min(ratios):.2f}-{max(ratios):.2f}) | {_median(runs, 'p50_ms'):.1f} | "
            f"{_median(runs, 'p95_ms'):.1f} | {_median(runs, 'p99_ms'):.1f} | {sum(r['errors'] for r in runs)} | "
            f"{_median(runs, 'mean_batch_size'):.1f} |"
        )
    rounds = len(result["served"][0]["rounds"])
    return "\n".join(
        [
            "## Served endpoint against in-process throughput",
            "",
            f"{result['clients']} concurrent clients (threads with keep-alive connections, `tools/loadtest.py`) against"
            " `bentoml serve` on 127.0.0.1, with the load generator on the same cores as the server. The in-process"
            f" predictor classifies the same test sentences with the same {result['variant']} model in batches of {result['batch_size']}"
            f" in one thread. {rounds} rounds per row; each round measures the in-process predictor for"
            f" {result['seconds']:.0f} s, then the endpoint for {result['seconds']:.0f} s, and divides. Figures are the"
            " medians over the rounds; the ratio's lowest and highest round are in brackets, and errors are summed.",
            "",
            "| texts per request | endpoint texts/s | in-process texts/s | endpoint / in-process | p50 ms | p95 ms | p99 ms"
            " | errors | mean texts per server batch |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Target: 0.80 of in-process throughput with 0 errors. "
            + " ".join(
                f"{s['texts_per_request']} text(s) per request: {_median(s['rounds'], 'ratio'):.2f},"
                f" target {'met' if _met(s) else 'missed'}."
                for s in result["served"]
            ),
            "",
            "The endpoint can beat the in-process predictor: the server merges the texts of concurrent requests"
            f" into batches of up to TEXTCLF_MAX_BATCH_SIZE ({result['max_batch_size']}), sorted by length so they carry"
            f" less padding, and runs {result['concurrent_batches']} such batches at once (TEXTCLF_CONCURRENT_BATCHES),"
            f" while the in-process loop gets {result['batch_size']} texts per call. With one text per request, the"
            f" per-request HTTP and JSON work of the server and of the {result['clients']} client threads, all on the"
            " same cores, costs more than this small model itself, even though adaptive batching merges the"
            " requests into server batches (last column).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", default="configs/default.yaml")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8, help="length of each measuring window")
    parser.add_argument("--rounds", type=int, default=5, help="in-process/endpoint rounds per row")
    parser.add_argument("--texts-per-request", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--sib", type=Path, default=ROOT.parent / "shared/data/sib200/data/annotated",
                        help="SIB-200 annotated folder for the language-ID comparison")
    parser.add_argument("--langid-sample", type=int, default=3000, help="SIB-200 sentences in the language-ID speed table")
    parser.add_argument("--also", nargs="*", default=["configs/sib200-topic-e5.yaml"], metavar="CONFIG",
                        help="other configs whose exports get the inference table too (skipped when not exported)")
    parser.add_argument("--output", type=Path, default=Path("reports/benchmarks.md"))
    parser.add_argument("--corpus-report", type=Path, default=Path("reports/corpus.md"), help="`make corpus-bench`'s report, carried into this one")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.clients < 1 or args.seconds <= 0:
        parser.error("--rounds and --clients must be at least 1 and --seconds positive")
    cfg = load_config(args.config)
    inference = speed.measure(cfg)
    others = {}
    for path in args.also:
        other = load_config(path)
        if (other.paths.export / "manifest.json").is_file():
            others[other.run_name] = speed.measure(other, sample=256)
        else:
            print(f"skipping {path}: no export at {other.paths.export} (make train evaluate export CONFIG={path})")
    other_sections = "".join(
        "\n" + speed.markdown(result, f"Inference: the `{name}` run (make bench --also)") for name, result in others.items()
    )
    langid_results = langid_bench.compare_tools(cfg.paths.export, args.sib) if args.sib.is_dir() else []
    if langid_results:
        speed_rows = langid_bench.speed_table(cfg.paths.export, args.sib, args.langid_sample)
        langid_section = langid_bench.markdown(langid_results, args.sib) + "\n" + langid_bench.speed_markdown(speed_rows, args.langid_sample)
    else:
        langid_section = (
            "## Language identification against existing tools\n\n"
            f"Skipped: {args.sib} not found (it comes with ../shared/data on the project's machines).\n"
        )
    result = endpoint_vs_in_process(cfg, args.clients, args.seconds, tuple(args.texts_per_request), args.rounds)
    workers = workers_comparison(cfg, args.clients, args.seconds, max(args.texts_per_request), args.rounds)
    against_bare = bare_comparison(cfg, args.clients, args.seconds, tuple(args.texts_per_request), args.rounds)
    header = [
        "# Benchmarks",
        "",
        f"Produced by `make bench CONFIG={args.config}` on {dt.date.today().isoformat()}, on {describe()}.",
        f"Model: the `{cfg.run_name}` run. Every table comes from this one run: compare ratios, not absolute",
        "numbers, across machines.",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(header) + "\n" + speed.markdown(inference) + other_sections + "\n" + langid_section + "\n" + bare_markdown(against_bare) + "\n" + served_markdown(result) + "\n" + workers_markdown(workers) + corpus_section(args.corpus_report)
    args.output.write_text(body, encoding="utf-8")
    for measured in (inference, *others.values()):
        measured["peak"] = asdict(measured["peak"])
    (args.output.with_suffix(".json")).write_text(json.dumps(
        {"inference": inference, "other_models": others, "language_id": [asdict(r) for r in langid_results],
         "language_id_speed": [asdict(r) for r in speed_rows] if langid_results else [], "served": result,
         "workers": workers, "against_bare": against_bare},
        indent=2,
    ))
    print(args.output.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
