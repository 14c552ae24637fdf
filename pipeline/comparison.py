"""Side-by-side table of finished runs from their reports: overall, per language, size and time.

Reads reports/<run>/metrics.json (evaluate) and reports/<run>/train.json (train) only, so it compares
exactly what those stages measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def load(reports: Path, run: str) -> dict:
    metrics_file, train_file = reports / run / "metrics.json", reports / run / "train.json"
    for file in (metrics_file, train_file):
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: run `make train evaluate CONFIG=...` for run {run!r} first")
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
    languages = sorted({lang for n in names for lang in runs[n]["metrics"]["per_language"]})
    if languages:
        lines += ["", "Accuracy per language:", "", "| language | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for lang in languages:
            cells = [runs[n]["metrics"]["per_language"].get(lang, {}).get("accuracy") for n in names]
            lines.append(f"| {lang} | " + " | ".join("-" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", help="run names (reports/<run>/)")
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    try:
        print(table({run: load(args.reports, run) for run in args.runs}), end="")
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
