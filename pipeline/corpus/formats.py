"""The corpus file types, read in chunks of rows and written back, so memory stays flat whatever a file's size.

A row is a dict of column -> value; every input column is kept and the run adds its own (Layout). Row numbers
are 1-based data rows, the numbers every error quotes: the line for .txt and .jsonl (blank lines count), the
record after the header for .csv and .tsv (a quoted field may span lines, blank lines are no records), the row
of the file for .parquet. Text files are read as bytes and decoded line by line, so a line that is not UTF-8 is
reported with its row, not somewhere in an 8 KB block.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import DataError

SUFFIXES = {".txt": "txt", ".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
FORMATS = tuple(SUFFIXES.values())
STDIN = "<stdin>"
TOP_K_TYPE = pa.list_(pa.struct([("label", pa.string()), ("score", pa.float64())]))


def format_of(path: Path) -> str:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use {', '.join(SUFFIXES)}")
    return fmt


@dataclass(frozen=True)
class Layout:
    """The input column a run reads and the columns it adds to each row (with --prefix before their names);
    top_k only when more than one label is asked for."""

    text: str = "text"
    prefix: str = ""
    top_k: int = 1

    @property
    def label(self) -> str:
        return self.prefix + "label"

    @property
    def score(self) -> str:
        return self.prefix + "score"

    @property
    def ranked(self) -> str | None:
        return self.prefix + "top_k" if self.top_k > 1 else None

    @property
    def truncated(self) -> str:
        return self.prefix + "truncated"

    def added(self) -> list[str]:
        return [name for name in (self.label, self.score, self.ranked, self.truncated) if name]

    def arrow_fields(self) -> list[pa.Field]:
        types = {self.label: pa.string(), self.score: pa.float64(), self.ranked: TOP_K_TYPE, self.truncated: pa.bool_()}
        return [pa.field(name, types[name]) for name in self.added()]


@dataclass
class Chunk:
    rows: list[dict[str, Any]]
    numbers: Sequence[int]  # each row's 1-based row number in its file
    schema: pa.Schema | None = None  # the input's column types where the format has them (Parquet keeps them)


# ---- reading


def read_chunks(source: Path | None, column: str, size: int) -> Iterator[Chunk]:
    """Chunks of at most `size` rows from a file, or from stdin (one text per line) when source is None.
    A file without a suffix is text, one per line, as `pipeline predict` always read it."""
    if source is None:  # bytes, as from a file; a stdin replaced by a text stream (tests, notebooks) is encoded back
        stdin = getattr(sys.stdin, "buffer", None) or (line.encode("utf-8") for line in sys.stdin)
        yield from _lines(stdin, STDIN, "txt", column, size)
        return
    fmt = "txt" if source.suffix == "" else format_of(source)
    if not source.is_file():
        raise DataError(f"input file not found: {source}")
    if fmt == "parquet":
        yield from _parquet(source, column, size)
        return
    with source.open("rb") as handle:
        if fmt in ("csv", "tsv"):
            yield from _delimited(handle, str(source), fmt, column, size)
        else:
            yield from _lines(handle, str(source), fmt, column, size)


def _decode(raw: bytes, name: str, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{name}: {where}: not UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1} of the line)") from None


def _lines(handle: Iterable[bytes], name: str, fmt: str, column: str, size: int) -> Iterator[Chunk]:
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    schema = pa.schema([(column, pa.string())]) if fmt == "txt" else None
    for number, raw in enumerate(handle, 1):
        line = _decode(raw, name, f"row {number}").rstrip("\r\n")
        if number == 1:
            line = line.removeprefix("\ufeff")
        if fmt == "txt":
            rows.append({column: line})
        elif line.strip():  # a blank line in a JSONL file is no record
            rows.append(_json_object(line, name, number))
        else:
            continue
        numbers.append(number)
        if len(rows) == size:
            yield Chunk(rows, numbers, schema)
            rows, numbers = [], []
    if rows:
        yield Chunk(rows, numbers, schema)


def _json_object(line: str, name: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"{name}: row {number}: not valid JSON: {err.msg} at character {err.pos + 1}") from None
    if not isinstance(record, dict):
        raise DataError(f"{name}: row {number}: a JSON {type(record).__name__}, not an object with a text column")
    return record


def _delimited(handle: BinaryIO, name: str, fmt: str, column: str, size: int) -> Iterator[Chunk]:
    """CSV (quoted fields as Excel writes them) or TSV (no quoting, as the data stage reads it)."""
    csv.field_size_limit(2**31 - 1)  # a document can be longer than csv's 128 KB default field
    records = 0  # records parsed so far, the header included: the one being parsed is data row `records`

    def lines() -> Iterator[str]:
        for raw in handle:
            yield _decode(raw, name, f"row {records}" if records else "the header line")

    options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if fmt == "tsv" else {}
    reader = csv.reader(lines(), **options)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{name}: empty file, no header line")
        records = 1
        header[0] = header[0].removeprefix("\ufeff")
        doubled = sorted({h for h in header if header.count(h) > 1})
        if doubled:
            raise DataError(f"{name}: the header names {', '.join(map(repr, doubled))} more than once")
        if column not in header:
            raise DataError(f"{name}: no column {column!r}; it has {', '.join(header)}. Use --column.")
        schema = pa.schema([(h, pa.string()) for h in header])
        rows: list[dict[str, Any]] = []
        for record in reader:
            if not record:
                continue  # a blank line
            if len(record) != len(header):
                raise DataError(f"{name}: row {records}: {len(record)} fields, but the header has {len(header)}")
            rows.append(dict(zip(header, record, strict=True)))
            records += 1
            if len(rows) == size:
                yield Chunk(rows, range(records - len(rows), records), schema)
                rows = []
        if rows:
            yield Chunk(rows, range(records - len(rows), records), schema)
    except csv.Error as err:
        raise DataError(f"{name}: {f'row {records}' if records else 'the header line'}: not valid {fmt.upper()}: {err}") from None


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _parquet(path: Path, column: str, size: int) -> Iterator[Chunk]:
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{path}: not a readable Parquet file: {err}") from None
    schema = file.schema_arrow
    if column not in schema.names:
        raise DataError(f"{path}: no column {column!r}; it has {', '.join(schema.names)}. Use --column.")
    if not _is_text(schema.field(column).type):
        raise DataError(f"{path}: column {column!r} holds {schema.field(column).type}, not text")
    batches = file.iter_batches(batch_size=size)
    start = 1
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as err:
            raise DataError(f"{path}: row {start}: the Parquet data cannot be read from this row on: {err}") from None
        rows = batch.to_pylist()
        yield Chunk(rows, range(start, start + len(rows)), schema)
        start += len(rows)


# ---- writing


class Writer:
    """Rows out in one format. `source` names the input in errors: a row that the format cannot hold (a tab in
    a TSV cell, a column the CSV header lacks) is reported by its input row number."""

    def __init__(self, source: str, layout: Layout) -> None:
        self.source = source
        self.layout = layout

    def write(self, rows: list[dict[str, Any]], numbers: Sequence[int], schema: pa.Schema | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file; called only when every row was written."""

    def discard(self) -> None:
        """Let go of the file after a failure (the caller removes it)."""


class JsonlWriter(Writer):
    def __init__(self, handle: IO[str], source: str, layout: Layout) -> None:
        super().__init__(source, layout)
        self.handle = handle

    def write(self, rows: list[dict[str, Any]], numbers: Sequence[int], schema: pa.Schema | None) -> None:
        # default=str: Parquet inputs can hold dates and decimals, which JSON has no type for
        self.handle.write("".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows))


class DelimitedWriter(Writer):
    """CSV, or TSV without quoting; the header is the first row's columns, top-k as `label:score;...` and other
    lists or objects as JSON."""

    def __init__(self, handle: IO[str], fmt: str, source: str, layout: Layout) -> None:
        super().__init__(source, layout)
        # TSV as the readers take it: no quoting, so a tab or line break inside a cell cannot be written
        tsv = {"delimiter": "\t", "quoting": csv.QUOTE_NONE, "quotechar": None, "lineterminator": "\n"}
        self.writer = csv.writer(handle, **(tsv if fmt == "tsv" else {}))
        self.fmt = fmt
        self.header: list[str] | None = None

    def _cell(self, name: str, value: Any) -> Any:
        if name == self.layout.ranked:
            return ";".join(f"{t['label']}:{t['score']:.4f}" for t in value)
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, default=str)
        return "" if value is None else value

    def write(self, rows: list[dict[str, Any]], numbers: Sequence[int], schema: pa.Schema | None) -> None:
        for row, number in zip(rows, numbers, strict=True):
            if self.header is None:
                self.header = list(row)
                self.writer.writerow(self.header)
            extra = [name for name in row if name not in self.header]
            if extra:
                raise DataError(f"{self.source}: row {number}: columns {', '.join(extra)} are not among the first row's, and a {self.fmt.upper()} has one header")
            try:
                self.writer.writerow([self._cell(name, row.get(name)) for name in self.header])
            except csv.Error as err:
                raise DataError(f"{self.source}: row {number}: cannot be written as {self.fmt.upper()} ({err}); write .csv, .jsonl or .parquet") from None


class TxtWriter(Writer):
    """The texts alone, one per line: the kept part of a corpus, in the form it came in."""

    def __init__(self, handle: IO[str], source: str, layout: Layout) -> None:
        super().__init__(source, layout)
        self.handle = handle

    def write(self, rows: list[dict[str, Any]], numbers: Sequence[int], schema: pa.Schema | None) -> None:
        for row, number in zip(rows, numbers, strict=True):
            if "\n" in row[self.layout.text]:
                raise DataError(f"{self.source}: row {number}: the text holds a line break, which a .txt output cannot; write .jsonl, .csv or .parquet")
        self.handle.write("".join(row[self.layout.text] + "\n" for row in rows))


class ParquetWriter(Writer):
    """One Parquet file written a row group per chunk. Its schema is the input's with the added columns (Parquet
    input keeps its types, CSV and text are strings), or for JSONL the types of the first rows, which the later
    rows must fit."""

    def __init__(self, path: Path, source: str, layout: Layout) -> None:
        super().__init__(source, layout)
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.input_schema: pa.Schema | None = None
        self.schema: pa.Schema | None = None

    def _schema(self, rows: list[dict[str, Any]]) -> pa.Schema:
        """The input's columns (pandas' metadata left out: it would not list the added ones) and the added ones."""
        if self.input_schema is not None:
            return pa.schema([*self.input_schema, *self.layout.arrow_fields()])
        if rows:
            return pa.Table.from_pylist(rows[:1000]).schema
        return pa.schema([(self.layout.text, pa.string()), *self.layout.arrow_fields()])

    def write(self, rows: list[dict[str, Any]], numbers: Sequence[int], schema: pa.Schema | None) -> None:
        self.input_schema = self.input_schema or schema
        if not rows:
            return
        if self.writer is None:
            self.schema = self._schema(rows)
            self.writer = pq.ParquetWriter(self.path, self.schema)
        if self.input_schema is None:  # JSONL: the first rows set the columns
            names = set(self.schema.names)
            for row, number in zip(rows, numbers, strict=True):
                if not names.issuperset(row):
                    extra = ", ".join(sorted(set(row) - names))
                    raise DataError(f"{self.source}: row {number}: columns {extra} are not among the first rows', and a Parquet file has one schema")
        try:
            self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise DataError(f"{self.source}: rows {numbers[0]}-{numbers[-1]}: do not fit the Parquet columns of the first rows ({err})") from None

    def close(self) -> None:
        if self.writer is None:  # no row: still a valid file, with the columns it would have had
            pq.write_table(pa.Table.from_pylist([], schema=self._schema([])), self.path)
            return
        self.writer.close()

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.close()


def text_writer(fmt: str, handle: IO[str], source: str, layout: Layout) -> Writer:
    if fmt == "jsonl":
        return JsonlWriter(handle, source, layout)
    if fmt == "txt":
        return TxtWriter(handle, source, layout)
    return DelimitedWriter(handle, fmt, source, layout)
