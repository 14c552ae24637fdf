"""Compare model kinds: `make compare` trains each on the same config, then tabulates the finished runs.

Every kind in KINDS (the from-scratch BERT, the course kinds and char_ngram) shares one config (its data, tokenizer
and training settings, kind by kind: `model.kind` switches the model and keeps the keys that kind reads);
configs passed with `--with` (the default's char n-gram language ID) are trained as they are, on their own data,
and tabulated beside them, so the table shows which model wins and what each one trained on.

The table reads reports/<run>/metrics.json (evaluate) and train.json (train), so it shows exactly what
those stages measured; int8 ONNX throughput is measured here, for all runs one after another in one
process, so the speeds are comparable as ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from pipeline.config import COURSE_KINDS, load_config
from pipeline.errors import MissingOutputError
from pipeline.machine import describe

KINDS = ("from_scratch", *COURSE_KINDS, "char_ngram")


def load(reports: Path, run: str) -> dict:
    metrics_file, train_file = reports / run / "metrics.json", reports / run / "train.json"
    for file in (metrics_file, train_file):
        if not file.is_file():
            raise MissingOutputError(f"{file} is missing: run `make train evaluate CONFIG=...` for run {run!r} first")
    return {"metrics": json.loads(metrics_file.read_text()), "train": json.loads(train_file.read_text())}


def table(runs: dict[str, dict]) -> str:
    names = list(runs)
    lines = [
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| test accuracy | " + " | ".join(f"{runs[n]['metrics']['accuracy']:.4f}" for n in names) + " |",
        "| test macro-F1 | " + " | ".join(f"{runs[n]['metrics']['macro_f1']:.4f}" for n in names) + " |",
        "| test rows | " + " | ".join(str(runs[n]["metrics"]["test_rows"]) for n in names) + " |",
        "| worst language | "
        + " | ".join(
            f"{w} ({runs[n]['metrics']['per_language'][w]['accuracy']:.3f})" if (w := runs[n]["metrics"]["worst_language"]) else "-"
            for n in names
        )
        + " |",
        "| parameters | " + " | ".join(f"{runs[n]['train']['parameters'] / 1e6:.1f} M" for n in names) + " |",
        "| training time | " + " | ".join(f"{runs[n]['train']['train_seconds'] / 60:.1f} min" for n in names) + " |",
    ]
    if any("int8_texts_per_second" in runs[n] for n in names):
        rates = [runs[n].get("int8_texts_per_second") for n in names]
        lines.append("| int8 ONNX texts/s | " + " | ".join("parity gate failed" if r is None else f"{r:.0f}" for r in rates) + " |")
    languages = sorted({lang for n in names for lang in runs[n]["metrics"]["per_language"]})
    if languages:
        lines += ["", "Accuracy per language:", "", "| language | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for lang in languages:
            cells = [runs[n]["metrics"]["per_language"].get(lang, {}).get("accuracy") for n in names]
            lines.append(f"| {lang} | " + " | ".join("-" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def int8_rate(export_dir: Path, texts: list[str], batch_size: int = 32) -> float:
    from pipeline.runtime.predictor import Predictor

    predictor = Predictor(export_dir)
    predictor.predict(texts[:batch_size], batch_size=batch_size)  # warm-up
    started = time.perf_counter()
    predictor.predict(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - started)


def compare(
    config: Path, kinds: tuple[str, ...], output: Path, overrides: tuple[str, ...] = (), others: tuple[Path, ...] = ()
) -> Path:
    """Train, evaluate and export every kind on one config, and each of `others` as it is, into one MLflow
    experiment, then write the table. Stages run through the runner, so a rerun retrains only what changed."""
    from pipeline.data.prepared import read_split
    from pipeline.errors import ParityError
    from pipeline.stages import runner

    base = load_config(config, list(overrides))
    experiment = f"mlflow.experiment={base.mlflow.experiment}-compare"
    configs = {
        kind: load_config(config, overrides, [f"model.kind={kind}", f"run_name={base.run_name}-{kind}", experiment,
                                              f"export.registered_model_name={base.run_name}-{kind}"])
        for kind in kinds
    }
    for other in others:
        cfg = load_config(other, [*overrides, experiment])
        configs[f"{cfg.run_name} ({cfg.model.kind})"] = cfg
    runs, failures = {}, {}
    for kind, cfg in configs.items():
        runner.run(cfg, "evaluate")
        try:
            runner.run(cfg, "export")
        except ParityError as err:
            failures[kind] = str(err)
        runs[kind] = cfg
    texts = read_split(runs[kinds[0]].paths.data if kinds else next(iter(runs.values())).paths.data, "test")["text"].tolist()
    loaded = {}
    for kind, cfg in runs.items():
        loaded[kind] = load(cfg.paths.reports.parent, cfg.run_name)
        if kind not in failures:
            loaded[kind]["int8_texts_per_second"] = int8_rate(cfg.paths.export, texts)
    header = [
        "# Model comparison",
        "",
        f"Produced by `python -m tools.comparison --train {config}"
        f"{''.join(f' --with {o}' for o in others)} {' '.join(f'--set {o}' for o in overrides)}`"
        f" (`make compare`) on {dt.date.today().isoformat()}, on {describe()}.",
        f"Every kind trained on the same data ({config}), with the same seed, early stopping and epochs budget"
        + (f"; {', '.join(str(o) for o in others)} trained as configured, on its own data;" if others else ";"),
        "int8 ONNX texts/s: the exported int8 model on the whole test split in batches of 32, measured one after",
        "another in one process.",
        "",
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    notes = [f"\n{kind}: {message}" for kind, message in failures.items()]
    output.write_text("\n".join(header) + "\n" + table(loaded) + "".join(notes), encoding="utf-8")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="*", help="run names (reports/<run>/) to tabulate; none with --train")
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--train", type=Path, metavar="CONFIG", help="train every model kind on CONFIG first")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    parser.add_argument("--with", dest="others", action="append", type=Path, default=[], metavar="CONFIG",
                        help="also train this config as it is and tabulate it beside the kinds (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override, repeatable")
    parser.add_argument("--output", type=Path, default=Path("reports/model-comparison.md"))
    args = parser.parse_args(argv)
    try:
        if args.train:
            print(compare(args.train, tuple(args.kinds), args.output, tuple(args.set), tuple(args.others)).read_text(), end="")
            return 0
        print(table({run: load(args.reports, run) for run in args.runs}), end="")
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
