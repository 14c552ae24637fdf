"""One input (a file or stdin) classified into its outputs, chunk by chunk, in input order.

The texts of each chunk go to `submit`, which answers with a future: computed on the spot in one process, or by
a pool of worker processes (parallel.py). Up to `depth` chunks are in flight; their answers are taken in
the order the chunks were read, so the output keeps the input's order whatever worker finished first, and
memory holds at most `depth` chunks whatever the input's size.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyarrow as pa

from pipeline.corpus.formats import STDIN, ParquetWriter, Writer, format_of, read_chunks, text_writer
from pipeline.corpus.options import PredictOptions
from pipeline.corpus.rows import Predicted, Summary, Texts, annotate, classify, texts_of
from pipeline.corpus.shards import committed
from pipeline.runtime.predictor import Predictor

Submit = Callable[[list[str]], "Future[list[Predicted]]"]
Progress = Callable[[int], None]


def inline(predictor: Predictor, options: PredictOptions) -> Submit:
    """Classify in this process; the future is already done."""

    def submit(texts: list[str]) -> Future[list[Predicted]]:
        future: Future[list[Predicted]] = Future()
        future.set_result(classify(predictor, texts, options.top_k, options.batch_size))
        return future

    return submit


@contextmanager
def _writer(path: Path | None, fmt: str, source: str, options: PredictOptions) -> Iterator[Writer]:
    """A writer on `path` (a partial file), or on stdout when path is None; finished only if the block succeeds."""
    layout = options.layout
    if fmt == "parquet":
        writer = ParquetWriter(path, source, layout)
        try:
            yield writer
        except BaseException:
            writer.discard()
            raise
        writer.close()
        return
    with ExitStack() as stack:
        handle = sys.stdout if path is None else stack.enter_context(path.open("w", encoding="utf-8", newline=""))
        writer = text_writer(fmt, handle, source, layout)
        yield writer
        writer.close()


def output_format(output: Path | None, options: PredictOptions) -> str:
    return (options.format or "jsonl") if output is None else format_of(output)


def classify_input(
    source: Path | None, output: Path | None, rejected: Path | None, options: PredictOptions, submit: Submit,
    depth: int, progress: Progress,
) -> Summary:
    """Classify `source` (stdin when None) into `output` (stdout when None) and the rejected rows into `rejected`;
    each file appears under its final name only once every row is in it."""
    name = STDIN if source is None else str(source)
    layout, selection = options.layout, options.selection
    summary = Summary()
    pending: deque[tuple[Texts, pa.Schema | None, Future[list[Predicted]]]] = deque()
    with ExitStack() as stack:
        rejected_part, output_part = stack.enter_context(committed(rejected, output))
        kept_out = stack.enter_context(_writer(output_part, output_format(output, options), name, options))
        rejected_out = stack.enter_context(_writer(rejected_part, format_of(rejected), name, options)) if rejected else None

        def finish() -> None:
            batch, schema, future = pending.popleft()
            rows = annotate(batch, future.result(), layout, selection)
            kept_out.write(rows.kept, rows.kept_numbers, schema)
            if rejected_out is not None:
                rejected_out.write(rows.rejected, rows.rejected_numbers, schema)
            summary.rows += len(batch.texts)
            summary.kept += len(rows.kept)
            summary.rejected += len(rows.rejected)
            progress(len(batch.texts) + batch.empty)

        for chunk in read_chunks(source, options.column, options.chunk_rows):
            batch = texts_of(chunk, layout, options.on_empty == "skip", name)
            summary.empty += batch.empty
            pending.append((batch, chunk.schema, submit(batch.texts)))
            if len(pending) >= depth:
                finish()
        while pending:
            finish()
    return summary
