"""The options of one `pipeline predict` run, checked once before any file is opened.

They come from the command line (or a script calling `job.run`), so they are validated as outside input: a
wrong value or a combination that cannot work stops the run with the flag's name, before a worker starts.
The options travel to worker processes as they are (a pydantic model pickles).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.corpus.formats import Layout
from pipeline.corpus.rows import Selection
from pipeline.errors import PipelineError
from pipeline.runtime.cores import usable_cores
from pipeline.runtime.predictor import Predictor

# Rows read, classified and written as one unit: large enough that a worker's pickling and the Predictor's
# per-call work are small beside the classifying, and that length-sorted batches inside it pad little; small
# enough that the chunks in flight (two per process) keep memory flat.
CHUNK_ROWS = 4096


class UsageError(PipelineError, ValueError):
    """Options that cannot work together, or a value out of range; the message names the flag."""


class PredictOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    export: Path
    source: str | None = None  # a file, a folder or a glob of shards; stdin when None
    output: Path | None = None  # a file, a folder for shards; stdout when None
    rejected: Path | None = None
    column: str = "text"
    format: Literal["txt", "jsonl", "csv", "tsv", "parquet"] | None = None
    top_k: int = 1  # checked against the export's labels, with the Predictor's message
    batch_size: int = Field(32, ge=1)
    fp32: bool = False
    abstain_below: float | None = None
    unseen_scripts_unknown: bool = True
    keep: frozenset[str] | None = None
    min_score: float = Field(0.0, ge=0, le=1)
    on_empty: Literal["error", "skip"] = "error"
    processes: int | Literal["auto"] = 1
    threads: int | None = Field(None, ge=1)
    prefix: str = ""
    ray: str | None = None
    chunk_rows: int = Field(CHUNK_ROWS, ge=1)

    @model_validator(mode="after")
    def _combinations(self) -> PredictOptions:
        if isinstance(self.processes, int) and self.processes < 1:
            raise ValueError("--processes must be at least 1, or auto")
        if self.rejected is not None and not self.filters:
            raise ValueError("--rejected needs --keep or --min-score: without them every row is kept")
        if self.ray is not None and (self.source is None or self.output is None):
            raise ValueError("--ray reads files and writes a folder: give an input and -o FOLDER")
        if self.output is None and self.format == "parquet":
            raise ValueError("Parquet cannot go to stdout: give -o FILE.parquet")
        return self

    @classmethod
    def of(cls, **values: object) -> PredictOptions:
        """The options, or a UsageError naming the first wrong flag."""
        try:
            return cls(**values)
        except ValidationError as err:
            first = err.errors()[0]
            flag = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "options"
            raise UsageError(f"{flag}: {first['msg'].removeprefix('Value error, ')}") from None

    @property
    def filters(self) -> bool:
        return self.keep is not None or self.min_score > 0

    @property
    def layout(self) -> Layout:
        return Layout(self.column, self.prefix, self.top_k)

    @property
    def selection(self) -> Selection:
        return Selection(self.keep, self.min_score)

    def process_count(self) -> int:
        return usable_cores() if self.processes == "auto" else self.processes

    def thread_count(self, processes: int) -> int:
        """onnxruntime threads per process: the cores split between the processes, unless --threads says."""
        return self.threads or max(1, usable_cores() // processes)

    def predictor(self, threads: int, verify: bool = True) -> Predictor:
        return Predictor(
            self.export, quantized=False if self.fp32 else None, verify=verify, threads=threads,
            abstain_below=self.abstain_below, unseen_scripts_unknown=self.unseen_scripts_unknown,
        )
