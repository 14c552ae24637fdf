"""`pipeline <stage> [--config FILE ...] [section.key=value ...]`: a thin command line over the stage functions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import yaml

from pipeline.config import describe, load_config
from pipeline.corpus.formats import FORMATS
from pipeline.errors import PipelineError
from pipeline.stages import runner
from pipeline.stages.registry import STAGES

CONFIG_STAGE_HELP = "print the resolved config, or with --describe every key with its type, default and help"
PATH_NAMES = ["data", "artifacts", "model", "checkpoints", "export", "reports"]
PREDICT_HELP = "classify texts from a file, a folder of shards or stdin with the exported model, streaming"
PREDICT_EPILOG = "Every input column is kept and label, score, truncated (and top_k) added. See docs/corpus.md."
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
    s = sub.add_parser("predict", help=PREDICT_HELP, description=PREDICT_HELP, epilog=PREDICT_EPILOG)
    s.add_argument("input", nargs="?", help=".txt (one text per line), .jsonl, .csv, .tsv or .parquet; a folder or a quoted glob of them"
                   " (shards); stdin when absent")
    s.add_argument("-c", "--config", action="append", help="config whose export folder to use; repeatable, as for the stages (default: built-in defaults)")
    s.add_argument("--export", type=Path, default=None, help="export folder (overrides --config)")
    s.add_argument("--column", default="text", help="text column of table inputs (a .txt input's lines get this name)")
    s.add_argument("-o", "--output", type=Path, default=None,
                   help="output file, in the format its suffix names; an output folder for shards; stdout when absent")
    s.add_argument("--format", choices=list(FORMATS), default=None,
                   help="stdout's format (default jsonl); for shards, the outputs' format (default: each input's own)")
    s.add_argument("--top-k", type=int, default=1, help="also write the K best labels with their scores (column top_k) when K > 1")
    s.add_argument("--batch-size", type=int, default=32, help="texts per onnxruntime call")
    s.add_argument("--fp32", action="store_true", help="use the fp32 model (default: int8 when the export has one)")
    s.add_argument("--abstain-below", type=float, default=None, metavar="P",
                   help="label `unknown` under this calibrated top probability (default: the export's predict.abstain_below; 0 never)")
    s.add_argument("--no-unseen-scripts-unknown", dest="unseen_scripts_unknown", action="store_false",
                   help="keep the model's answer for text mostly in scripts no training language uses (default: `unknown`)")
    s.add_argument("--keep", type=lambda v: frozenset(x.strip() for x in v.split(",") if x.strip()), default=None, metavar="LABELS",
                   help="write only rows with one of these comma-separated labels (and --min-score)")
    s.add_argument("--min-score", type=float, default=0.0, metavar="P", help="write only rows whose score is at least P")
    s.add_argument("--rejected", type=Path, default=None, metavar="PATH", help="write the rows --keep/--min-score leave out here (a folder for shards)")
    s.add_argument("--on-empty", choices=["error", "skip"], default="error", help="an empty text stops the run (default), or is left out and counted")
    s.add_argument("--processes", default="1", metavar="N", help="worker processes, each with its own model on cores/N threads; auto: one per core")
    s.add_argument("--threads", type=int, default=None, metavar="T", help="onnxruntime threads per process (default: cores / processes)")
    s.add_argument("--prefix", default="", help="put this before the added columns' names (label, score, top_k, truncated)")
    s.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="classify on a Ray cluster: its address, auto (the one `ray start` began here) or local (a private one); needs the ray extra")
    return p


def _predict(args: argparse.Namespace) -> None:
    from pipeline.corpus import job
    from pipeline.corpus.options import PredictOptions

    options = PredictOptions.of(
        export=args.export or load_config(args.config).paths.export, source=args.input, output=args.output,
        rejected=args.rejected, column=args.column, format=args.format, top_k=args.top_k, batch_size=args.batch_size,
        fp32=args.fp32, abstain_below=args.abstain_below, unseen_scripts_unknown=args.unseen_scripts_unknown,
        keep=args.keep, min_score=args.min_score, on_empty=args.on_empty, processes=args.processes, threads=args.threads,
        prefix=args.prefix, ray=args.ray,
    )
    summary, seconds = job.run(options)
    print(summary.line(seconds, options.filters), file=sys.stderr)


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
