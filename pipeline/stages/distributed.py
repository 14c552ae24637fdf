"""Training in several processes (torchrun, `accelerate launch`): which process owns the run's files and MLflow.

A launcher starts N copies of `pipeline train` and tells each its place through RANK and WORLD_SIZE. All
of them train (the Trainer gives each process its share of every batch and averages the gradients), but
only the global main process (rank 0) prepares the data, holds the run lock, writes checkpoints, the model
and the stage stamp, and talks to MLflow: otherwise each metric would be logged N times, N processes would
write the same folders, and N parent runs would pile up for one training.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def cpu_only() -> bool:
    """No GPU: the processes must train on CPU over gloo.

    Without this the Trainer, started by torchrun on a machine without CUDA, finds no accelerator, falls
    back to a single-process setup in each copy, and every process trains the whole model on its own.
    """
    import torch  # here: the CLI reads world_size() and is_main() before it pays for importing torch

    return world_size() > 1 and not torch.cuda.is_available()


@contextmanager
def main_first() -> Iterator[None]:
    """Let the main process finish the block (prepare, checkpoint clean-up) before the others enter it."""
    if world_size() == 1:
        yield
        return
    from accelerate import PartialState  # the state the Trainer adopts; it initialises the process group

    with PartialState(cpu=cpu_only()).main_process_first():
        yield
