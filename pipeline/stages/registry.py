"""The stages, in one place: name, help, entry function, the config keys it reads, upstream stages, outputs.

The CLI builds its subcommands and finds each stage's function here, the fingerprint reads what a stage
depends on and writes, the runner (pipeline/stages/runner.py) runs stale upstream stages first, and
`make help` lists them (`python -m pipeline.stages.registry`). A new stage is one entry here and one module.

This module imports nothing heavy: `pipeline --help` and `make help` should not pay for torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Config


@dataclass(frozen=True)
class Stage:
    """What a stage reads (config sections or dotted keys, upstream stages) and writes (files or folders)."""

    name: str
    help: str
    entry: str  # "module:function", imported when the stage runs
    keys: tuple[str, ...]
    upstream: tuple[str, ...]
    outputs: Callable[[Config], tuple[Path, ...]]

    def function(self) -> Callable[[Config], object]:
        module, name = self.entry.split(":")
        return getattr(importlib.import_module(module), name)


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "prepare",
            "read, clean and split the data; make the tokenizer; report coverage",
            "pipeline.stages.prepare:prepare",
            # the model keys that choose or shape the tokenizer, not the model's sizes
            ("data", "model.kind", "model.name_or_path", "model.max_length", "model.text_prefix", "model.tokenizer"),
            (),
            lambda c: (c.paths.data, c.paths.reports / "data.json", c.paths.reports / "data.md"),
        ),
        Stage(
            "train",
            "train the model",
            "pipeline.stages.train:train",
            ("model", "train"),
            ("prepare",),
            lambda c: (c.paths.model, c.paths.reports / "train.json"),
        ),
        Stage(
            "evaluate",
            "score the trained model on the test split, per class, per language and per text length",
            "pipeline.stages.evaluate:evaluate",
            ("evaluate", "predict"),
            ("train",),
            lambda c: (c.paths.reports / "metrics.json", c.paths.reports / "evaluation.md"),
        ),
        Stage(
            "export",
            "export to ONNX fp32 + int8, check parity with PyTorch, register in MLflow",
            "pipeline.stages.export:export",
            ("export", "predict"),
            ("train",),
            lambda c: (c.paths.export, c.paths.reports / "parity.json"),
        ),
        Stage(
            "explain",
            "attention heatmaps per layer and head, and a t-SNE map of sentence embeddings",
            "pipeline.stages.explain:explain",
            (),
            ("train",),
            lambda c: (c.paths.reports / "explain.md",),
        ),
    )
}


def upstream_of(name: str) -> list[str]:
    """Every stage `name` depends on, directly or not, each after its own upstream stages (`name` excluded)."""
    order: list[str] = []

    def visit(stage: str) -> None:
        for before in STAGES[stage].upstream:
            visit(before)
            if before not in order:
                order.append(before)

    visit(name)
    return order


def help_lines() -> list[str]:
    """One line per stage with what runs first, for `make help`."""
    return [
        f"  {s.name:<10} {s.help}" + (f" (after {', '.join(s.upstream)})" if s.upstream else "")
        for s in STAGES.values()
    ]


if __name__ == "__main__":
    print("Stages (pipeline <stage>, or make <stage>; a stale upstream stage runs first):")
    print("\n".join(help_lines()))
