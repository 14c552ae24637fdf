"""`pipeline <stage> [--config FILE] [section.key=value ...]`: a thin command line over the stage functions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable

import yaml

from pipeline.config import Config, ConfigError, load_config

STAGES: dict[str, str] = {
    "prepare": "read, clean and split the data; make the tokenizer; report coverage",
    "train": "train the model (runs prepare first when its output is missing or stale)",
    "evaluate": "score the trained model on the test split, per class and per language",
    "export": "export to ONNX fp32 + int8, check parity with PyTorch, register in MLflow",
    "config": "print the resolved config",
}


def _entry(stage: str) -> Callable[[Config], object]:
    # Imported lazily: `pipeline config` should not pay for importing torch and transformers.
    if stage == "prepare":
        from pipeline.prepare import prepare

        return prepare
    if stage == "train":
        from pipeline.train import train

        return train
    if stage == "evaluate":
        from pipeline.evaluation import evaluate

        return evaluate
    if stage == "export":
        from pipeline.export import export

        return export
    return lambda cfg: print(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True), end="")


def _expected_errors() -> tuple[type[BaseException], ...]:
    from pipeline.export import ParityError
    from pipeline.model_source import ModelSourceError
    from pipeline.predictor import ArtifactError
    from pipeline.sources import DataError

    return (ConfigError, DataError, FileNotFoundError, ArtifactError, ParityError, ModelSourceError)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pipeline", description="Multilingual text classification pipeline.")
    sub = p.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, help_text in STAGES.items():
        s = sub.add_parser(name, help=help_text, description=help_text)
        s.add_argument("-c", "--config", default=None, help="YAML config under configs/ (default: built-in defaults)")
        s.add_argument("overrides", nargs="*", metavar="section.key=value", help="dotted overrides, e.g. train.epochs=1")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pipeline").setLevel(logging.INFO)
    try:
        cfg = load_config(args.config, args.overrides)
        result = _entry(args.stage)(cfg)
    except _expected_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.stage == "evaluate":
        print(json.dumps({k: result.metrics[k] for k in ("accuracy", "macro_f1", "worst_language")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
