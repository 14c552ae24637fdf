"""Which input files a run classifies, where each one's output goes, and which are already done.

An output is complete when its final name exists: every output is written under `<name>.partial` and renamed
only after its last row, so a run stopped at any point (an error, Ctrl-C, a killed machine) leaves no
half-written file under a final name, and a rerun redoes exactly the shards without one.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.corpus.formats import SUFFIXES, format_of
from pipeline.errors import DataError

PARTIAL = ".partial"


def partial(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL)


@contextmanager
def committed(*finals: Path | None) -> Iterator[list[Path | None]]:
    """The partial path of each final one; after the block, each is renamed to its final name in the order given
    (the output that marks completion last). If the block fails, the partial files are removed."""
    partials = [None if path is None else partial(path) for path in finals]
    for path in partials:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield partials
    except BaseException:
        for path in partials:
            if path is not None:
                path.unlink(missing_ok=True)
        raise
    for part, final in zip(partials, finals, strict=True):
        if part is not None and final is not None:
            part.replace(final)


def is_pattern(source: str) -> bool:
    return any(c in source for c in "*?[")


def is_sharded(source: str) -> bool:
    """A folder or a glob runs shard by shard into an output folder; anything else is one file."""
    return is_pattern(source) or Path(source).is_dir()


@dataclass(frozen=True)
class Shard:
    source: Path
    output: Path
    rejected: Path | None = None

    @property
    def complete(self) -> bool:
        return self.output.is_file()


def _inputs(source: str, outside: list[Path]) -> tuple[Path, list[Path]]:
    """The folder the shards' names are relative to, and the input files in name order. Files under the output
    folders are left out, so an output folder inside the input folder is never read back as input."""
    if is_pattern(source):
        parts = Path(source).parts
        fixed = next(i for i, part in enumerate(parts) if is_pattern(part))
        base = Path(*parts[:fixed]) if fixed else Path(".")
        found = [Path(p) for p in glob.glob(source, recursive=True)]
    else:
        base = Path(source)
        found = [Path(root) / name for root, _, names in os.walk(base) for name in names]
    resolved = [folder.resolve() for folder in outside]
    files = sorted(
        p for p in found
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
        and not any(p.resolve().is_relative_to(folder) for folder in resolved)
    )
    return base, files


def discover(source: str, output: Path, rejected: Path | None, fmt: str | None) -> list[Shard]:
    """One shard per input file, its outputs at the same relative path under the output folders, with the suffix
    of `fmt` (each input's own format when None)."""
    if output.exists() and not output.is_dir():
        raise DataError(f"{output}: a sharded input writes a folder of outputs, and this is a file")
    base, files = _inputs(source, [output] + ([rejected] if rejected else []))
    if not files:
        raise DataError(f"{source}: no {', '.join(SUFFIXES)} files found")
    shards, claimed = [], {}
    for path in files:
        relative = path.relative_to(base)
        name = relative.with_suffix("." + fmt) if fmt else relative.with_suffix("." + format_of(path))
        if name in claimed:
            raise DataError(f"{claimed[name]} and {path} would both write {output / name}; give --format or rename one")
        claimed[name] = path
        shards.append(Shard(path, output / name, rejected / name if rejected else None))
    return shards
