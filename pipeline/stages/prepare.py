"""Stage 1: read the configured source, clean and split it, make the tokenizer, and report coverage.

Outputs in data/processed/<run>/: {train,validation,test}.jsonl, labels.json (the single source of
id2label for every later stage), tokenizer/, and fingerprint.json; the data report goes to reports/<run>/.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import pandas as pd

from pipeline.config import Config
from pipeline.data.cleaning import SPLITS, CleanData, clean
from pipeline.data.sources import read_source
from pipeline.data.tokenization import Coverage, build_tokenizer, coverage
from pipeline.stages import fingerprint, tracking

log = logging.getLogger(__name__)


@dataclass
class PrepareResult:
    data_dir: Path
    labels: list[str]
    counts: dict[str, int]
    fingerprint: str
    coverage: list[Coverage]


def _write(cfg: Config, data: CleanData) -> str:
    out = cfg.paths.data
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()  # of the content: the same rows give the same fingerprint, whatever made them
    for split in SPLITS:
        path = out / f"{split}.jsonl"
        data.splits[split].to_json(path, orient="records", lines=True, force_ascii=False)
        digest.update(path.read_bytes())
    (out / "labels.json").write_text(json.dumps({"labels": data.labels}, ensure_ascii=False, indent=2), encoding="utf-8")
    return digest.hexdigest()


def _report(cfg: Config, data: CleanData, cov: list[Coverage], data_fingerprint: str, origin: str) -> Path:
    reports = cfg.paths.reports
    reports.mkdir(parents=True, exist_ok=True)
    counts = {s: len(data.splits[s]) for s in SPLITS}
    summary = {
        "origin": origin,
        "fingerprint": data_fingerprint,
        "counts": counts,
        "labels": len(data.labels),
        "dropped": dict(data.dropped),
        "warnings": data.warnings,
        "coverage": [asdict(c) for c in cov],
    }
    (reports / "data.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = [
        f"# Data report: {cfg.run_name}",
        "",
        f"Source: `{origin}`. Fingerprint: `{data_fingerprint[:16]}`. Written by `pipeline prepare`.",
        "",
        "| split | rows |",
        "|---|---|",
        *[f"| {s} | {n} |" for s, n in counts.items()],
        "",
        f"{len(data.labels)} labels.",
        "",
        "## Dropped rows",
        "",
        "| reason | rows |",
        "|---|---|",
        *([f"| {k} | {v} |" for k, v in sorted(data.dropped.items())] or ["| (none) | 0 |"]),
    ]
    if cfg.data.exclude_labels:
        lines += ["", f"Excluded by `data.exclude_labels`: {', '.join(cfg.data.exclude_labels)}."]
    if data.warnings:
        lines += ["", "## Short texts", "", *[f"- {w}" for w in data.warnings]]
    tokenizer_name = cfg.model.name_or_path if cfg.model.kind == "pretrained" else f"{cfg.model.tokenizer.kind} trained on train"
    lines += [
        "",
        f"## Tokenizer coverage ({tokenizer_name})",
        "",
        "`[UNK]` rate is the share of tokens that are unknown; over 5% is flagged: the model cannot read those texts.",
        "",
        "| language | texts | [UNK] rate | tokens/char | |",
        "|---|---|---|---|---|",
        *[f"| {c.group} | {c.texts} | {c.unk_rate:.1%} | {c.tokens_per_char:.2f} | {'**over 5%**' if c.warn else ''} |" for c in cov],
    ]
    path = reports / "data.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@fingerprint.stamped("prepare")
def prepare(cfg: Config) -> PrepareResult:
    with tracking.stage_run(cfg, "prepare"):
        raw = read_source(cfg.data)
        data = clean(raw, cfg.data)
        data_fingerprint = _write(cfg, data)
        tokenizer = build_tokenizer(cfg.model, data.splits["train"]["text"].tolist())
        tokenizer.save_pretrained(cfg.paths.data / "tokenizer")
        cov = coverage(tokenizer, pd.concat(data.splits.values()))
        for c in cov:
            if c.warn:
                log.warning("tokenizer coverage: %s has %.1f%% [UNK] tokens; the model cannot read it", c.group, 100 * c.unk_rate)
        (cfg.paths.data / "fingerprint.json").write_text(
            json.dumps({"fingerprint": data_fingerprint}, indent=2)
        )
        report = _report(cfg, data, cov, data_fingerprint, raw.origin)
        counts = {s: len(data.splits[s]) for s in SPLITS}
        run = mlflow.active_run()
        tracking.log_params_once({**{k: v for k, v in cfg.flat().items() if k.startswith("data.")}, "data_fingerprint": data_fingerprint}, run.info.run_id)
        mlflow.log_metrics({f"rows_{s}": n for s, n in counts.items()} | {"labels": len(data.labels)})
        mlflow.log_metrics({f"dropped/{_metric_key(k)}": v for k, v in data.dropped.items()})
        mlflow.log_metrics({f"unk_rate/{_metric_key(c.group)}": c.unk_rate for c in cov})
        mlflow.log_artifact(str(cfg.paths.data / "labels.json"))
        mlflow.log_artifact(str(report), artifact_path="reports")
        mlflow.log_artifact(str(cfg.paths.reports / "data.json"), artifact_path="reports")
    log.info("prepared %s: %s, %d labels", cfg.paths.data, counts, len(data.labels))
    return PrepareResult(cfg.paths.data, data.labels, counts, data_fingerprint, cov)


def _metric_key(text: str) -> str:
    """MLflow metric names allow only letters, digits, _ - . / and spaces."""
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in text)[:200]

