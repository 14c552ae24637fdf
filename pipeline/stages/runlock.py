"""One pipeline process per run_name at a time: an exclusive `flock` on artifacts/<run>/.lock.

Two processes on one run would write the same folders: a fresh `train` deletes the checkpoints another
is resuming from, two exports rmtree each other's staging folder, and both rewrite mlflow.json (the
parent run). The second process is refused at once rather than queued: a user who started the same run
twice almost always did so by mistake, and waiting behind an hour-long training hides that.

`flock` rather than a PID file: the kernel drops the lock when its holder exits, SIGKILL included, so a
crash never leaves a stale lock to delete by hand. The holder's PID is written into the file only to
name it in the refusal.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import PipelineError

LOCK_FILE = ".lock"


class RunLockedError(PipelineError):
    """Another live process holds this run's lock."""


def lock_path(cfg: Config) -> Path:
    return cfg.paths.artifacts / LOCK_FILE


@contextmanager
def run_lock(cfg: Config, stage: str) -> Iterator[Path]:
    """Hold the run's lock for one `pipeline <stage>` (its upstream stages included); raise RunLockedError if another
    process has it."""
    path = lock_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No O_TRUNC: until the lock is ours, the file holds the current holder's PID, which the refusal names.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "a process that has not written its PID yet"
            raise RunLockedError(
                f"run {cfg.run_name!r} is in use by {holder} (lock {path}); "
                "wait for it to finish or use another run_name"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"PID {os.getpid()} (pipeline {stage})\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # a finished holder is not named by a refusal that races the next one
    finally:
        os.close(fd)  # closing the only descriptor releases the flock
