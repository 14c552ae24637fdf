"""One `pipeline predict` run: the export checked once, then one file (or stdin), a folder or glob of shards, or
Ray, in one process or several, with a progress bar of rows and rows/s on stderr."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tqdm import tqdm

from pipeline.corpus import parallel
from pipeline.corpus.formats import SUFFIXES
from pipeline.corpus.options import PredictOptions, UsageError
from pipeline.corpus.rows import Summary
from pipeline.corpus.shards import Shard, discover, is_sharded
from pipeline.corpus.stream import Progress, classify_input, inline, output_format
from pipeline.runtime.predictor import UNKNOWN, check_top_k, read_manifest


def run(options: PredictOptions) -> tuple[Summary, float]:
    """The run's counts and its seconds. The export is verified against its checksums here, once, and the
    options against its labels, before any input is read or any worker starts."""
    labels = read_manifest(options.export)["labels"]
    check_top_k(options.top_k, labels)
    unknown = sorted(set(options.keep or ()) - {*labels, UNKNOWN})
    if unknown:
        raise UsageError(f"--keep: {', '.join(unknown)} not among the export's labels ({', '.join(labels)}, and {UNKNOWN})")
    started = time.perf_counter()
    if options.ray is not None:
        from pipeline.corpus import ray_job  # ray is an optional extra

        summary = ray_job.run(options)
    else:
        # delay: a run of a second or two shows no bar, as `pipeline predict` on a few texts always did
        with tqdm(unit=" rows", file=sys.stderr, delay=1, mininterval=0.5, smoothing=0.1) as bar:
            sharded = options.source is not None and is_sharded(options.source)
            summary = _shards(options, bar.update) if sharded else _one(options, bar.update)
    return summary, time.perf_counter() - started


def _needs_filter(fmt: str, options: PredictOptions) -> None:
    if fmt == "txt" and not options.filters:
        raise UsageError("a .txt output holds only the texts: give --keep or --min-score, or write .jsonl, .csv or .parquet")


def _one(options: PredictOptions, progress: Progress) -> Summary:
    """One file or stdin; with several processes its chunks go to the workers and come back in order."""
    source = None if options.source is None else Path(options.source)
    output, rejected = options.output, options.rejected
    fmt = output_format(output, options)
    if output is not None and options.format not in (None, fmt):
        raise UsageError(f"--format {options.format}, but -o {output} is .{fmt}: the output's suffix decides; drop --format")
    for path in (output, rejected):
        if source is not None and path is not None and path.resolve() == source.resolve():
            raise UsageError(f"{path} is the input itself: write the output elsewhere")
    _needs_filter(fmt, options)
    processes = options.process_count()
    threads = options.thread_count(processes)
    if processes == 1:
        submit = inline(options.predictor(threads, verify=False), options)
        return classify_input(source, output, rejected, options, submit, 1, progress)
    with parallel.Workers(options, processes, threads) as workers:
        return classify_input(source, output, rejected, options, workers.submit, 2 * processes, progress)


def shards_of(options: PredictOptions) -> list[Shard]:
    if options.output is None or options.output.suffix.lower() in SUFFIXES:
        raise UsageError(f"{options.source} is a folder or glob of shards: give -o FOLDER for their outputs")
    shards = discover(options.source, options.output, options.rejected, options.format)
    for shard in shards:
        _needs_filter(output_format(shard.output, options), options)
    return shards


def _shards(options: PredictOptions, progress: Progress) -> Summary:
    """Shard by shard, skipping those already complete; with several processes, one shard per worker at a time."""
    shards = shards_of(options)
    todo = [shard for shard in shards if not shard.complete]
    summary = Summary(complete=len(shards) - len(todo))
    processes = max(1, min(options.process_count(), len(todo)))
    threads = options.thread_count(processes)
    if processes == 1:
        submit = None
        for shard in todo:
            submit = submit or inline(options.predictor(threads, verify=False), options)
            done = classify_input(shard.source, shard.output, shard.rejected, options, submit, 1, progress)
            done.shards = 1
            summary.add(done)
        return summary
    with parallel.Workers(options, processes, threads) as workers:
        summary.add(workers.run_shards(todo, progress))
    return summary
