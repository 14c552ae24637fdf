"""`pipeline <stage> [--config FILE ...] [section.key=value ...]`: a thin command line over the stage functions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import yaml

from pipeline.config import describe, load_config
from pipeline.errors import PipelineError
from pipeline.stages import runner
from pipeline.stages.registry import STAGES

CONFIG_STAGE_HELP = "print the resolved config, or with --describe every key with its type, default and help"
PATH_NAMES = ["data", "artifacts", "model", "checkpoints", "export", "reports"]
PREDICT_HELP = "classify texts from a file or stdin with the exported model (JSONL or CSV out)"
CONFIG_HELP = "YAML config under configs/; repeat to merge several, later ones winning (default: built-in defaults)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pipeline", description="Multilingual text classification pipeline.")
    sub = p.add_subparsers(dest="stage", required=True, metavar="STAGE")
    helps = {name: stage.help for name, stage in STAGES.items()} | {"config": CONFIG_STAGE_HELP}
    for name, help_text in helps.items():
        s = sub.add_parser(name, help=help_text, description=help_text)
        s.add_argument("-c", "--config", action="append", help=CONFIG_HELP)
        s.add_argument("overrides", nargs="*", metavar="section.key=value", help="dotted overrides, e.g. train.epochs=1")
        if name == "config":
            s.add_argument("--path", choices=PATH_NAMES, help="print only this output path of the run (for scripts)")
            s.add_argument("--describe", action="store_true", help="print every key with its type, default and help")
        else:
            s.add_argument("--force", action="store_true", help="rerun the stage even when it is up to date (stale upstream stages run first either way)")
    s = sub.add_parser("predict", help=PREDICT_HELP, description=PREDICT_HELP)
    s.add_argument("input", nargs="?", type=Path, help=".txt (one text per line), .csv, .tsv, .jsonl or .parquet; stdin when absent")
    s.add_argument("-c", "--config", action="append", help="config whose export folder to use; repeatable, as for the stages (default: built-in defaults)")
    s.add_argument("--export", type=Path, default=None, help="export folder (overrides --config)")
    s.add_argument("--column", default="text", help="text column for table inputs")
    s.add_argument("-o", "--output", type=Path, default=None, help="output file; stdout when absent")
    s.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    s.add_argument("--top-k", type=int, default=1)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--fp32", action="store_true", help="use the fp32 model (default: int8 when the export has one)")
    s.add_argument("--abstain-below", type=float, default=None, metavar="P",
                   help="label `unknown` under this calibrated top probability (default: the export's predict.abstain_below; 0 never)")
    s.add_argument("--no-unseen-scripts-unknown", dest="unseen_scripts_unknown", action="store_false",
                   help="keep the model's answer for text mostly in scripts no training language uses (default: `unknown`)")
    return p


def _predict(args: argparse.Namespace) -> None:
    from pipeline.runtime.classify_files import predict_file

    export_dir = args.export or load_config(args.config).paths.export
    count = predict_file(
        export_dir, args.input, args.output, args.column, args.format, args.top_k, args.batch_size, False if args.fp32 else None,
        args.abstain_below, args.unseen_scripts_unknown,
    )
    print(f"classified {count} texts", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pipeline").setLevel(logging.INFO)
    try:
        if args.stage == "predict":
            _predict(args)
            return 0
        if args.stage == "config" and args.describe:
            print(describe(), end="")
            return 0
        cfg = load_config(args.config, args.overrides)
        if args.stage == "config":
            if args.path:
                print(getattr(cfg.paths, args.path))
            else:
                print(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True), end="")
            return 0
        runner.run(cfg, args.stage, args.force)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.stage == "evaluate":  # the headline numbers, whether it ran now or is up to date
        metrics = json.loads((cfg.paths.reports / "metrics.json").read_text(encoding="utf-8"))
        print(json.dumps({k: metrics[k] for k in ("accuracy", "macro_f1", "worst_language")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
