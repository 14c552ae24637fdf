"""`pipeline predict --ray ADDRESS`: the same classification on Ray Data, for more cores than one machine has.

Ray Data reads the input files in blocks spread over the cluster (read_parquet, read_json, read_csv,
read_text), an actor pool of Classifiers adds the columns (each actor loads the export once and runs one
onnxruntime thread on its one CPU; the pool's size is fixed, one CPU of the cluster left to the other tasks), and each
write task writes its rows as one Parquet or JSONL file into the output folder, and with --rejected the rows the
filters leave out into a file of the same name in the rejected folder (Sink). Every node must see the export folder,
the inputs and the output folder at the same paths (a shared file system).

What the local path gives and Ray Data cannot: output order (blocks finish in any order), and resuming shard by
shard (the output folder is one unit, written as `<folder>.partial` and renamed when every block is in it; a
rerun skips it when it exists; the rejected folder likewise, renamed first). A block does not know its rows'
places in their file, so when the run fails the driver reads the inputs again with the local reader, which
names the row (`first_bad_row`).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.corpus.formats import TOP_K_TYPE, JsonlWriter, Layout, format_of, read_chunks
from pipeline.corpus.options import PredictOptions, UsageError
from pipeline.corpus.rows import Summary, classify, texts_of
from pipeline.corpus.shards import discover, is_sharded, partial
from pipeline.errors import DataError
from pipeline.runtime.cores import usable_cores

if TYPE_CHECKING:
    import ray.data

BLOCK_BYTES = 8 * 2**20
log = logging.getLogger(__name__)
PATH = "path"  # the column Ray Data's include_paths adds: which file a row came from, for errors
KEPT = "__textclf_kept"  # each row's verdict under --keep/--min-score, from the Classifier to the Sink, not written


class Tally:
    """The run's counts, added to by every Classifier after each batch (a Ray actor of no CPU)."""

    def __init__(self) -> None:
        self.summary = Summary()
        self.error: str | None = None

    def fail(self, message: str) -> None:
        """A Classifier's DataError, kept here: Ray Data hands the driver only its traceback as text."""
        self.error = self.error or message

    def add(self, rows: int, kept: int, empty: int) -> None:
        self.summary.rows += rows
        self.summary.kept += kept
        self.summary.rejected += rows - kept
        self.summary.empty += empty

    def total(self) -> tuple[Summary, str | None]:
        return self.summary, self.error


class Classifier:
    """One actor of the pool: a Predictor loaded once, called on pyarrow batches."""

    def __init__(self, options: PredictOptions, tally: Any) -> None:
        self.options = options
        self.layout = options.layout
        self.selection = options.selection
        self.predictor = options.predictor(threads=1, verify=False)
        self.tally = tally
        import ray  # in the actor's process, where Ray is running already

        self.wait = ray.get  # the tally's counts are in before the batch is handed on

    def __call__(self, table: pa.Table) -> pa.Table:
        try:
            return self._classify(table)
        except DataError as err:
            self.wait(self.tally.fail.remote(str(err)))
            raise

    def _classify(self, table: pa.Table) -> pa.Table:
        column, layout = self.layout.text, self.layout
        files = table.column(PATH).to_pylist()
        table = table.drop_columns([PATH])
        taken = sorted(set(layout.added()).intersection(table.column_names))
        if taken:
            raise DataError(f"{files[0]}: already has the column(s) {', '.join(taken)} that the output adds; rename them or use --prefix")
        if column not in table.column_names:
            raise DataError(f"{files[0]}: no column {column!r}; it has {', '.join(table.column_names)}. Use --column.")
        texts = table.column(column).to_pylist()
        bad = next((i for i, t in enumerate(texts) if t is not None and not isinstance(t, str)), None)
        if bad is not None:
            raise DataError(f"{files[bad]}: column {column!r} holds {type(texts[bad]).__name__} values, not text")
        full = [bool(t and t.strip()) for t in texts]
        empty = full.count(False)
        if empty and self.options.on_empty == "error":
            raise DataError(f"{files[full.index(False)]}: a text is empty (--on-empty skip leaves such rows out; without --ray the error names the row)")
        if empty:
            table = table.filter(pa.array(full))
            texts = [t for t, keep in zip(texts, full, strict=True) if keep]
        predicted = classify(self.predictor, texts, self.options.top_k, self.options.batch_size)
        added = {
            layout.label: pa.array([p[0] for p in predicted], pa.string()),
            layout.score: pa.array([p[1] for p in predicted], pa.float64()),
            layout.ranked: pa.array([p[3] for p in predicted], TOP_K_TYPE) if layout.ranked else None,
            layout.truncated: pa.array([p[2] for p in predicted], pa.bool_()),
        }
        for name, values in added.items():
            if name:
                table = table.append_column(name, values)
        kept = pa.array([self.selection.accepts(p[0], p[1]) for p in predicted], pa.bool_())
        self.wait(self.tally.add.remote(len(texts), kept.true_count, empty))
        table = table.append_column(KEPT, kept)
        # without --rejected the rows left out go no further: the Sink would only drop them
        return table if self.options.rejected is not None or kept.true_count == len(kept) else table.filter(kept)


class Sink:
    """Ray Data's writer for --ray: each write task's rows as one file in the output folder and, with --rejected,
    the rows the filters leave out as a file of the same name in the rejected folder. One pass over the data,
    as datatrove's exclusion writer does; Ray Data's own write_parquet and write_json write one folder.

    Parquet is written with pyarrow, JSONL with the local run's writer, so each line is what a run without --ray
    writes. Built by `_sink`, which makes it a ray.data.Datasink (ray is imported only for --ray)."""

    def __init__(self, kept: Path, rejected: Path | None, fmt: str, layout: Layout) -> None:
        self.kept, self.rejected, self.fmt, self.layout = kept, rejected, fmt, layout

    def write(self, blocks: Any, ctx: Any) -> int:
        from ray.data.block import BlockAccessor

        tables = [BlockAccessor.for_block(block).to_arrow() for block in blocks]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return 0
        table = pa.concat_tables(tables, promote_options="default")
        keep = table.column(KEPT)
        table = table.drop_columns([KEPT])
        name = f"{ctx.task_idx:06d}-{secrets.token_hex(4)}.{self.fmt}"
        self._write(table.filter(keep), self.kept / name)
        if self.rejected is not None:
            self._write(table.filter(pc.invert(keep)), self.rejected / name)
        return table.num_rows

    def _write(self, table: pa.Table, path: Path) -> None:
        if not table.num_rows:
            return
        if self.fmt == "parquet":
            pq.write_table(table, path)
            return
        with path.open("w", encoding="utf-8") as handle:
            JsonlWriter(handle, str(path), self.layout).write(table.to_pylist(), range(table.num_rows), None)


def _sink(kept: Path, rejected: Path | None, fmt: str, layout: Layout) -> Any:
    from ray.data import Datasink

    return type("TextclfSink", (Sink, Datasink), {})(kept, rejected, fmt, layout)


def _columns(path: Path, column: str) -> list[str]:
    """A file's columns, from its first row read with the local reader (whose errors name the file and row)."""
    chunk = next(read_chunks(path, column, 1), None)
    if chunk is None:
        return []
    return chunk.schema.names if chunk.schema is not None else list(chunk.rows[0])


def _read(paths: list[Path], fmt: str, column: str) -> ray.data.Dataset:
    import ray.data

    names = [str(p) for p in paths]
    if fmt == "parquet":
        return ray.data.read_parquet(names, include_paths=True)
    if fmt == "jsonl":
        return ray.data.read_json(names, lines=True, include_paths=True)
    if fmt == "txt":
        ds = ray.data.read_text(names, drop_empty_lines=False, include_paths=True)
        return ds if column == "text" else ds.rename_columns({"text": column})
    # every column as text, as the local reader reads them; TSV unquoted, as the data stage writes it
    types = {name: pa.string() for path in paths for name in _columns(path, column)}
    parse = pacsv.ParseOptions(delimiter="\t", quote_char=False) if fmt == "tsv" else pacsv.ParseOptions()
    return ray.data.read_csv(names, parse_options=parse, convert_options=pacsv.ConvertOptions(column_types=types), include_paths=True)


def first_bad_row(paths: list[Path], options: PredictOptions) -> DataError | None:
    """The first error the local reader and row checks find in these files, naming the file and the row, or
    None when they find none. A failed Ray run is explained by it: Ray Data's blocks do not know their rows'
    places, and its readers' own errors (a line that is not UTF-8, a damaged Parquet page) name no row at all."""
    for path in paths:
        try:
            for chunk in read_chunks(path, options.column, options.chunk_rows):
                texts_of(chunk, options.layout, options.on_empty == "skip", str(path))
        except DataError as err:
            return err
    return None


def _pool_size(cpus: int, processes: int | str) -> int:
    """Classifiers in the pool: --processes, or one per CPU (auto), always leaving one CPU of the cluster free.

    The pool is fixed, not autoscaling: an autoscaling pool on a busy machine stayed at one actor (104 s
    against 66 s for 2,000,000 rows, `--ray local` on 2 cores). A fixed pool on every CPU never starts, as the
    tasks that list, read and write the files wait for a CPU the actors hold; the one left free is theirs."""
    room = max(1, cpus - 1)
    wanted = room if processes == "auto" else int(processes)
    if wanted > room:
        log.warning("--processes %d: the cluster has %d CPUs, and one stays free for reading and writing; using %d", wanted, cpus, room)
    return min(wanted, room)


def run(options: PredictOptions) -> Summary:
    output = options.output
    fmt = options.format or "parquet"
    if fmt not in ("parquet", "jsonl"):
        raise UsageError(f"--ray writes Parquet or JSONL files, not {fmt}: give --format parquet or jsonl")
    sharded = is_sharded(options.source)
    sources = [shard.source for shard in discover(options.source, output, None, fmt)] if sharded else [Path(options.source)]
    kinds = sorted({format_of(p) for p in sources})
    if len(kinds) > 1:
        raise UsageError(f"--ray reads one format at a time; {options.source} holds {', '.join(kinds)}")
    for path in sources:
        taken = {PATH, KEPT}.intersection(_columns(path, options.column))
        if taken:
            raise DataError(f"{path}: has a column {taken.pop()!r}, a name --ray gives columns of its own ({PATH!r}: the file"
                            f" a row came from, {KEPT!r}: whether the filters keep it); rename it, or run without --ray")
    if output.is_dir():
        return Summary(complete=1)
    if options.rejected is not None and options.rejected.exists():
        raise UsageError(f"--rejected {options.rejected} exists already, and {output} does not: remove it or choose another folder")
    part = partial(output)
    rejected = partial(options.rejected) if options.rejected is not None else None
    for folder in (part, rejected):
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)  # an interrupted run's files
            folder.mkdir(parents=True)
    # Set before ray is first imported: it reads its settings then. ray is imported here, not at the top, for that.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    local = options.ray == "local"
    if local and not {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ):
        # a private cluster with a token of its own: Ray would otherwise generate one into ~/.ray/auth_token,
        # which every later `ray start` on this machine then requires
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    import ray
    import ray.data

    # A local cluster gets one logical CPU more than the cores: an actor per core, and the CPU _pool_size leaves free
    ray.init(address=None if local else options.ray, num_cpus=usable_cores() + 1 if local else None,
             include_dashboard=False if local else None, logging_level="WARNING", log_to_driver=False)
    try:
        # Blocks of at most 8 MiB: a large file is read as a stream of small blocks, so every actor has one to
        # work on from the start (at Ray's default of 128 MiB one actor classified a file while the others waited)
        ray.data.DataContext.get_current().target_max_block_size = BLOCK_BYTES
        actors = _pool_size(int(ray.cluster_resources().get("CPU", 1)), options.processes)
        tally = ray.remote(num_cpus=0)(Tally).remote()
        ds = _read(sources, kinds[0], options.column).map_batches(
            Classifier, fn_constructor_kwargs={"options": options, "tally": tally}, batch_size=options.chunk_rows,
            batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1,
        )
        try:
            ds.write_datasink(_sink(part, rejected, fmt, options.layout))
        except Exception:
            error = ray.get(tally.total.remote())[1]
            named = [path for path in sources if error and str(path) in error]  # the file a Classifier named
            log.warning("the Ray run failed; reading %s again with the local reader to find the row",
                        named[0] if named else "the inputs")
            found = first_bad_row(named or sources, options)
            if found is not None:
                raise found from None
            if error is None:
                raise
            raise DataError(error) from None
        if rejected is not None:
            rejected.rename(options.rejected)
        part.rename(output)
        summary = ray.get(tally.total.remote())[0]
        summary.shards = len(sources)
        return summary
    except BaseException:
        for folder in (part, rejected):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        ray.shutdown()
