"""Worker processes for `--processes N`, each with its own onnxruntime session on its share of the cores.

One onnxruntime session on N threads stops scaling well before N cores on a model this small: most of a
text's time is tokenizing, padding and Python between the graph's calls, which run on one thread. N processes
run all of it N times over. Workers are spawned, not forked: a fork would copy the parent's threads' locks
(tqdm's, onnxruntime's pools) in whatever state they were. Each loads the export once, without re-hashing
its files (the parent checked them).

Two uses: chunks of one big file (`submit`, answers taken back in order by stream.py), or whole shards, one
per task, each worker reading and writing its own files and reporting its rows through a queue for the
progress bar.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.queues import Queue

from pipeline.corpus.options import PredictOptions
from pipeline.corpus.rows import Predicted, Summary, classify
from pipeline.corpus.shards import Shard
from pipeline.corpus.stream import Progress, classify_input, inline
from pipeline.runtime.predictor import Predictor

# A worker process's own state, set once by _start.
_predictor: Predictor | None = None
_options: PredictOptions | None = None
_rows: Queue | None = None


def _start(options: PredictOptions, threads: int, rows: Queue) -> None:
    global _predictor, _options, _rows
    _options = options
    _predictor = options.predictor(threads, verify=False)
    _rows = rows


def _classify(texts: list[str]) -> list[Predicted]:
    return classify(_predictor, texts, _options.top_k, _options.batch_size)


def _classify_shard(shard: Shard) -> Summary:
    summary = classify_input(shard.source, shard.output, shard.rejected, _options, inline(_predictor, _options), 1, _rows.put)
    summary.shards = 1
    return summary


class Workers:
    """`processes` workers of `threads` onnxruntime threads each; shut down (running tasks finished, queued ones
    cancelled) when the block ends, also on an error."""

    def __init__(self, options: PredictOptions, processes: int, threads: int) -> None:
        context = mp.get_context("spawn")
        self.rows: Queue = context.Queue()
        self.executor = ProcessPoolExecutor(processes, mp_context=context, initializer=_start, initargs=(options, threads, self.rows))

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, texts: list[str]) -> Future[list[Predicted]]:
        return self.executor.submit(_classify, texts)

    def run_shards(self, shards: Iterable[Shard], progress: Progress) -> Summary:
        """Every shard, any worker; the first shard that fails raises its error once the running ones are done,
        so each shard ends complete or as a removed partial file."""
        summary = Summary()
        pending = {self.executor.submit(_classify_shard, shard) for shard in shards}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            self._report(progress)
            for future in done:
                summary.add(future.result())
        self._report(progress)
        return summary

    def _report(self, progress: Progress) -> None:
        while True:
            try:
                progress(self.rows.get_nowait())
            except queue.Empty:
                return
