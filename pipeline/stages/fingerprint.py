"""Skip a stage whose inputs have not changed since it last finished, as DVC and spaCy projects do.

After a stage finishes, a stamp in `artifacts/<run>/stages/<stage>.json` records two things:
- the fingerprint of its inputs: its config sections, the code of `pipeline/` and the
  versions of the libraries that shape results, the local source files for prepare, and the stamp of each
  upstream stage;
- the size and modification time of every output file.

A stage is up to date when its stamp exists, the inputs hash to the same fingerprint, and every output is
still there unchanged. A rerun of `make train evaluate export` then answers in seconds without training,
evaluating, exporting or creating MLflow runs. Deleting or editing an output, changing a config key the
stage reads, editing the code or re-running an upstream stage makes it stale; `--force` (`FORCE=1` for
make) reruns regardless.

A Hub data set is fingerprinted by its id and config only: nothing here can ask the Hub whether it changed,
so a changed Hub data set needs `--force`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from pipeline.config import Config
from pipeline.data.extra_train import CODES, file_for
from pipeline.stages import distributed
from pipeline.stages.registry import STAGES

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parents[1]
# Libraries whose version can change a stage's numbers; upgrading one makes every stage stale.
LIBRARIES = ("torch", "transformers", "tokenizers", "datasets", "onnxruntime", "optimum", "optimum-onnx", "numpy")


def stamp_path(cfg: Config, stage: str) -> Path:
    return cfg.paths.artifacts / "stages" / f"{stage}.json"


@functools.cache
def code_version() -> str:
    """Hash of the package's source and libraries (the tools live outside it, in tools/: they never change a
    stage's output)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    for name in LIBRARIES:
        try:
            digest.update(f"{name}=={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} absent\0".encode())
    return digest.hexdigest()


def _source_files(cfg: Config) -> list[Any]:
    """Size and mtime of the local files prepare reads (data.extra_train's too), so editing a CSV or a SIB-200
    folder makes it stale."""
    data = cfg.data
    if data.source == "files":
        files = [Path(name) for name in (data.train_file, data.validation_file, data.test_file) if name]
    elif data.source == "folder":
        root = Path(data.folder or "")
        folders = [root / lang for lang in data.languages] if data.languages else [root]
        files = [p for folder in folders for p in sorted(folder.rglob("*.tsv"))]
    elif data.source == "eld":
        corpora = [e for e in data.extra_train if e.path is not None]
        extra = [file_for(e.source, Path(e.path), code) for e in corpora for code in CODES[e.source].values()]
        word_lists = [f"wordfreq=={_version('wordfreq')}"] if any(e.source == "wordfreq" for e in data.extra_train) else []
        return [f"eld=={_version('eld')}", *word_lists, *([str(p), *_stat(p)] for p in extra)]
    else:
        return [data.hub_id, data.hub_config]
    return [[str(p), *_stat(p)] for p in files]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _stat(path: Path) -> list[int | None]:
    try:
        stat = path.stat()
    except OSError:
        return [None, None]
    return [stat.st_size, stat.st_mtime_ns]


def outputs_signature(cfg: Config, stage: str) -> dict[str, list[int | None]]:
    """Every output file, relative to the project root, with its size and mtime; a missing one is [None, None].

    Relative paths keep the stamps valid when the project folder is moved or copied with its mtimes.
    """
    root = Path(cfg.root).resolve()
    signature: dict[str, list[int | None]] = {}
    for path in STAGES[stage].outputs(cfg):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            signature[str(file.relative_to(root))] = _stat(file)
    return signature


def _read_stamp(cfg: Config, stage: str) -> dict[str, Any] | None:
    path = stamp_path(cfg, stage)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _stamp_digest(stamp: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([stamp["inputs"], stamp["outputs"]], sort_keys=True).encode()).hexdigest()


def inputs_fingerprint(cfg: Config, stage: str) -> str | None:
    """The fingerprint of a stage's inputs; None when an upstream stage is not up to date itself (no stamp, changed
    outputs, or inputs of its own that changed), so a changed data config makes train, evaluate and export stale
    too, not prepare alone."""
    spec = STAGES[stage]
    upstream = {}
    for name in spec.upstream:
        stamp = up_to_date(cfg, name)
        if stamp is None:
            return None
        upstream[name] = _stamp_digest(stamp)
    inputs = {
        "stage": stage,
        "config": {key: _lookup(cfg.to_dict(), key) for key in spec.keys},
        "code": code_version(),
        "upstream": upstream,
        "sources": _source_files(cfg) if stage == "prepare" else None,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted key; None where the config has no such key (a key of another model kind)."""
    for part in dotted.split("."):
        if part not in tree:
            return None
        tree = tree[part]
    return tree


def _outputs_unchanged(cfg: Config, stage: str, stamp: dict[str, Any]) -> bool:
    current = outputs_signature(cfg, stage)
    return current == stamp["outputs"] and all(value != [None, None] for value in current.values())


def up_to_date(cfg: Config, stage: str) -> dict[str, Any] | None:
    """The stamp when the stage's last run still stands (same inputs, outputs untouched), else None."""
    stamp = _read_stamp(cfg, stage)
    if stamp is None or stamp.get("inputs") != inputs_fingerprint(cfg, stage):
        return None
    return stamp if _outputs_unchanged(cfg, stage, stamp) else None


def record(cfg: Config, stage: str) -> None:
    """Write the stamp after a stage finished.

    The stamp vouches for the upstream stamps as they are now, when its outputs were written; the code's hash
    was taken when the process started (code_version is cached), so an edit made meanwhile is not vouched for.
    """
    inputs = inputs_fingerprint(cfg, stage)
    if inputs is None:  # an upstream stage has no stamp (it ran before stamps existed): vouch for nothing
        return
    path = stamp_path(cfg, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = {
        "stage": stage,
        "inputs": inputs,
        "outputs": outputs_signature(cfg, stage),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    partial.replace(path)


Result = TypeVar("Result")


def stamped(stage: str) -> Callable[[Callable[[Config], Result]], Callable[[Config], Result]]:
    """Decorate a stage's entry function so that every finished run, however called, leaves its stamp.

    Only the runner (the CLI, the comparison tool) skips: a direct call (tests, notebooks) always runs the stage. The
    old stamp is removed first, so a stage that dies half-way is never taken as up to date.
    """

    def wrap(function: Callable[[Config], Result]) -> Callable[[Config], Result]:
        @functools.wraps(function)
        def run(cfg: Config) -> Result:
            owner = distributed.is_main()  # of several training processes, only the main one writes the stamp
            code_version()  # hashed before the stage runs, so an edit made meanwhile is not vouched for
            if owner:
                stamp_path(cfg, stage).unlink(missing_ok=True)
            result = function(cfg)
            if owner:
                record(cfg, stage)
            return result

        return run

    return wrap
