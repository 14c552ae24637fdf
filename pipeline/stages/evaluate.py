"""Stage 3: score the trained model on the test split, overall, per class and per language.

Writes reports/<run>/metrics.json, evaluation.md, confusion_matrix.png and per_language.png, and logs
them all to the evaluate stage run. The worst language is named at the top of the report, because an
average over 60 languages can hide one that fails completely. Accuracy is also reported per text length
(spans of 1 word, 2 words and 3-5 words cut from the test sentences, and the sentences), overall and per
language, because a model that is right on sentences can be wrong on the queries users send.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.data.length_buckets import BUCKETS, SENTENCE, length_buckets
from pipeline.data.prepared import read_labels, read_split
from pipeline.machine import describe
from pipeline.metrics import classification_scores
from pipeline.metrics.calibration import Calibration, nll, reliability
from pipeline.metrics.groups import ALL, groups_of, per_group
from pipeline.models.modeling import label_maps, load_trained, model_name
from pipeline.models.torch_inference import torch_logits
from pipeline.runtime.predictor import ArtifactError, softmax
from pipeline.stages import fingerprint, plots, tracking

log = logging.getLogger(__name__)


@dataclass
class EvaluationResult:
    metrics: dict
    report: Path


def _markdown(cfg: Config, metrics: dict, confusions: list[tuple[str, str, int]]) -> str:
    languages = metrics["per_language"]
    lines = [
        f"# Evaluation: {cfg.run_name}",
        "",
        f"Model: `{model_name(cfg.model)}` (kind `{cfg.model.kind}`), max_length {cfg.model.max_length}. Test rows: {metrics['test_rows']}. "
        f"Written by `pipeline evaluate` (`make evaluate`) on {describe()}.",
        "",
        f"**Accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}.**",
    ]
    if metrics.get("worst_language"):
        worst = metrics["worst_language"]
        lines += ["", f"**Worst language: {worst} (accuracy {languages[worst]['accuracy']:.4f}, macro-F1 {languages[worst]['macro_f1']:.4f}).**"]
        lines += [
            "",
            "## Per language (worst first)",
            "",
            f"F1 per language: {metrics['per_language_f1']}.",
            "",
            "| language | rows | accuracy | F1 |",
            "|---|---|---|---|",
            *[
                f"| {name} | {s['n']} | {s['accuracy']:.4f} | {s['macro_f1']:.4f} |"
                for name, s in sorted(languages.items(), key=lambda kv: kv[1]["accuracy"])
            ],
            "",
            "![per language](per_language.png)",
        ]
    lines += _length_markdown(metrics["per_length"])
    transfer = metrics.get("transfer")
    if transfer:
        under = ", ".join(f"{n} {a:.3f}" for n, a in transfer["zero_shot_under_0.5"].items()) or "none"
        lines += [
            "",
            "## Cross-lingual transfer",
            "",
            f"Trained on {', '.join(transfer['train_languages'])} only (data.train_languages). "
            f"Average accuracy: {transfer['trained_accuracy']:.4f} on the training languages, "
            f"**{transfer['zero_shot_accuracy']:.4f} zero-shot** over {transfer['zero_shot_languages']} languages.",
            "",
            f"Zero-shot languages under 0.5 accuracy: {under}.",
        ]
    scripts = metrics.get("per_script")
    if scripts:
        lines += [
            "",
            "## Per script (worst first)",
            "",
            "Mean of the per-language accuracies of each script, and its worst language.",
            "",
            "| script | languages | mean accuracy | worst language |",
            "|---|---|---|---|",
            *[
                f"| {name} | {s['languages']} | {s['accuracy']:.4f} | {s['worst']} {s['worst_accuracy']:.4f} |"
                for name, s in sorted(scripts.items(), key=lambda kv: kv[1]["accuracy"])
            ],
        ]
    per_class = metrics["per_class"]
    lines += [
        "",
        "## Per class",
        "",
        "| label | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
        *[
            f"| {label} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['support']} |"
            for label, s in sorted(per_class.items(), key=lambda kv: kv[1]["f1"])
        ],
        "",
        "## Most frequent confusions",
        "",
        "| true | predicted | count |",
        "|---|---|---|",
        *([f"| {t} | {p} | {n} |" for t, p, n in confusions] or ["| (none) | | 0 |"]),
        "",
        "![confusion matrix](confusion_matrix.png)",
    ]
    return "\n".join(lines + _closest_pairs_markdown(metrics["closest_pairs"]) + _calibration_markdown(metrics)) + "\n"


def per_length(
    test: pd.DataFrame, sentence_logits: np.ndarray, logits_of: Callable[[list[str]], np.ndarray], label2id: dict[str, int],
    seed: int, temperature: float = 1.0, abstain_below: float | None = None,
) -> dict[str, dict]:
    """Accuracy per length bucket, overall and per language: the test split's sentences (already scored) and
    spans cut from them (pipeline/data/length_buckets.py), one span per sentence and bucket. With an abstain
    threshold, also the share each bucket answers and the accuracy of those answers: short texts are where a
    calibrated model is least sure."""
    spans = length_buckets(test, seed)
    short = (spans["bucket"] != SENTENCE).to_numpy()
    logits = np.empty((len(spans), sentence_logits.shape[1]), dtype=np.float32)
    logits[~short] = sentence_logits
    logits[short] = logits_of(spans.loc[short, "text"].tolist())
    right = pd.Series(logits.argmax(axis=-1) == np.array([label2id[x] for x in spans["label"]]), index=spans.index)
    answered = pd.Series(softmax(logits / temperature).max(axis=-1) >= (abstain_below or 0.0), index=spans.index)
    groups = groups_of(spans)
    out = {}
    for bucket in BUCKETS:
        mask = spans["bucket"] == bucket
        languages = {} if set(groups) == {ALL} else right[mask].groupby(groups[mask]).mean().to_dict()
        out[bucket] = {
            "n": int(mask.sum()),
            "accuracy": float(right[mask].mean()),
            "per_language": {name: float(a) for name, a in languages.items()},
            "worst_language": min(languages, key=languages.get) if languages else None,
        }
        if abstain_below is not None:
            kept = mask & answered
            out[bucket] |= {"answered": float(kept.sum() / mask.sum()), "accuracy_answered": float(right[kept].mean()) if kept.any() else None}
    return out


def _four(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"  # None: nothing of that length was answered


def length_key(bucket: str) -> str:
    """An MLflow metric name for a bucket: "3-5 words" -> "3_5_words"."""
    return re.sub(r"\W+", "_", bucket)


def _length_markdown(lengths: dict[str, dict]) -> list[str]:
    lines = [
        "",
        "## Per text length",
        "",
        "Spans of 1 word, 2 words and 3-5 words cut from the test sentences (one per sentence and length; in scripts"
        " written without spaces a word is 2 Han or kana characters, or 4 letters), and the sentences themselves.",
        "",
        "| length | rows | accuracy | worst language |",
        "|---|---|---|---|",
    ]
    for bucket, s in lengths.items():
        worst = f"{s['worst_language']} {s['per_language'][s['worst_language']]:.4f}" if s["worst_language"] else "-"
        lines.append(f"| {bucket} | {s['n']} | {s['accuracy']:.4f} | {worst} |")
    first = next(iter(lengths.values()))
    if "answered" in first:
        lines += [
            "",
            "With the abstain threshold (predict.abstain_below), the share of each length answered, and the accuracy of"
            " those answers (the rest are `unknown`):",
            "",
            "| length | answered | accuracy of answered |",
            "|---|---|---|",
            *[f"| {bucket} | {s['answered']:.4f} | {_four(s['accuracy_answered'])} |" for bucket, s in lengths.items()],
        ]
    languages = lengths[BUCKETS[0]]["per_language"]
    if languages:
        lines += [
            "",
            "Accuracy per language and length (worst single word first):",
            "",
            "| language | " + " | ".join(lengths) + " |",
            "|---|" + "---|" * len(lengths),
            *[
                f"| {name} | " + " | ".join(f"{lengths[b]['per_language'][name]:.3f}" for b in lengths) + " |"
                for name in sorted(languages, key=languages.get)
            ],
        ]
    return lines


def closest_pairs(pairs: Counter, support: Counter, top: int = 12) -> list[dict]:
    """The label pairs the model mixes up most, both directions together, as a share of the pair's test rows.

    A share rather than a count, so a small pair that is confused half the time outranks a big pair with
    more, rarer errors; for language ID these are the close languages (da/no, hr/sr/bs, cs/sk, id/ms).
    """
    both: Counter = Counter()
    for (a, b), n in pairs.items():
        both[tuple(sorted((a, b)))] += n
    rows = []
    for (a, b), n in both.items():
        rows.append({
            "pair": [a, b], "a_as_b": pairs[(a, b)], "b_as_a": pairs[(b, a)], "rows": support[a] + support[b],
            "confused_share": n / max(1, support[a] + support[b]),
        })
    return sorted(rows, key=lambda r: -r["confused_share"])[:top]


def _closest_pairs_markdown(rows: list[dict]) -> list[str]:
    return [
        "",
        "## Closest pairs",
        "",
        "Label pairs by the share of their test rows predicted as the other one (both directions).",
        "",
        "| pair | a as b | b as a | test rows of the pair | confused share |",
        "|---|---|---|---|---|",
        *([f"| {r['pair'][0]} / {r['pair'][1]} | {r['a_as_b']} | {r['b_as_a']} | {r['rows']} | {r['confused_share']:.4f} |"
           for r in rows] or ["| (none) | 0 | 0 | | 0 |"]),
    ]


def _calibration_markdown(metrics: dict) -> list[str]:
    c = metrics["calibration"]
    lines = [
        "",
        "## Calibration",
        "",
        f"Scores are softmax(logits / T) with T = {c['temperature']:.3f}, fitted on the validation split (temperature"
        " scaling: the argmax, so accuracy, is unchanged). On the test split: expected calibration error"
        f" {c['test_ece_before']:.4f} before, {c['test_ece_after']:.4f} after; negative log-likelihood"
        f" {c['test_nll_before']:.4f} before, {c['test_nll_after']:.4f} after.",
        "",
        "![reliability diagram](reliability.png)",
    ]
    abstain = metrics.get("abstain")
    if abstain:
        kept = "-" if abstain["accuracy_kept"] is None else f"{abstain['accuracy_kept']:.4f}"
        dropped = "-" if abstain["accuracy_abstained"] is None else f"{abstain['accuracy_abstained']:.4f}"
        lines += [
            "",
            f"**Abstaining below {abstain['threshold']}** (predict.abstain_below): {abstain['kept']:.2%} of the test"
            f" rows are answered, with accuracy {kept}; the model would have been right on {dropped} of the"
            " rows it answers `unknown` to.",
        ]
    return lines


def _by_script_and_transfer(languages: dict[str, dict], train_languages: list[str]) -> dict:
    """Per-script means for Flores-style codes (`yor_Latn`), and zero-shot against trained languages, so a
    cross-lingual run says plainly where transfer fails instead of averaging it away."""
    extra: dict = {}
    if languages and all(re.fullmatch(r"[a-z]{2,3}_[A-Z][a-z]{3}", n) for n in languages):
        by_script: dict[str, list[str]] = {}
        for name in languages:
            by_script.setdefault(name.split("_")[1], []).append(name)
        extra["per_script"] = {
            script: {
                "languages": len(names),
                "accuracy": float(np.mean([languages[n]["accuracy"] for n in names])),
                "worst": (worst := min(names, key=lambda n: languages[n]["accuracy"])),
                "worst_accuracy": languages[worst]["accuracy"],
            }
            for script, names in by_script.items()
        }
    zero_shot = [n for n in languages if n not in train_languages]
    if train_languages and zero_shot:
        extra["transfer"] = {
            "train_languages": train_languages,
            "trained_accuracy": float(np.mean([languages[n]["accuracy"] for n in languages if n in train_languages])),
            "zero_shot_languages": len(zero_shot),
            "zero_shot_accuracy": float(np.mean([languages[n]["accuracy"] for n in zero_shot])),
            "zero_shot_under_0.5": {
                n: languages[n]["accuracy"] for n in sorted(zero_shot, key=lambda n: languages[n]["accuracy"])
                if languages[n]["accuracy"] < 0.5
            },
        }
    return extra


@fingerprint.stamped("evaluate")
def evaluate(cfg: Config) -> EvaluationResult:
    labels = read_labels(cfg.paths.data)
    test = read_split(cfg.paths.data, "test")
    model, tokenizer = load_trained(cfg.paths.model)
    model_labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if model_labels != labels:
        raise ArtifactError(f"{cfg.paths.model} was trained on other labels than {cfg.paths.data}/labels.json: retrain")
    _, label2id = label_maps(labels)
    references = np.array([label2id[x] for x in test["label"]])
    logits = torch_logits(model, tokenizer, test["text"].tolist(), cfg.model.max_length, cfg.evaluate.batch_size)
    predictions = logits.argmax(axis=-1)
    calibration = Calibration.read(cfg.paths.model)
    probabilities = softmax(logits / calibration.temperature)
    raw_bins, calibrated_bins = reliability(softmax(logits), references), reliability(probabilities, references)

    overall = classification_scores(predictions, references, labels=list(range(len(labels))))
    pc = overall["per_class"]
    per_class = {
        labels[i]: {"precision": pc["precision"][k], "recall": pc["recall"][k], "f1": pc["f1"][k], "support": pc["support"][k]}
        for k, i in enumerate(pc["labels"])
    }
    groups = groups_of(test)
    languages = {} if set(groups) == {ALL} else per_group(references, predictions, groups)
    language_id = bool(languages) and bool((test["label"] == test["language"]).all())
    if language_id:
        # When the label is the language, a language's F1 is its class F1 on the whole test set: texts of
        # other languages predicted as this one count against its precision.
        for name, scores in languages.items():
            scores["macro_f1"] = per_class[name]["f1"]
    worst = min(languages, key=lambda n: (languages[n]["accuracy"], languages[n]["macro_f1"])) if languages else None
    metrics = {
        "run_name": cfg.run_name,
        "test_rows": len(test),
        "accuracy": overall["accuracy"],
        "macro_f1": overall["macro_f1"],
        "macro_precision": overall["macro_precision"],
        "macro_recall": overall["macro_recall"],
        "worst_language": worst,
        "per_language_f1": "class F1 on the whole test set (the label is the language)" if language_id
        else "macro-F1 over the labels in the language's rows",
        "per_language": languages,
        "per_class": per_class,
    }
    metrics |= _by_script_and_transfer(languages, cfg.data.train_languages)
    metrics["calibration"] = {
        "temperature": calibration.temperature,
        "test_ece_before": raw_bins.ece,
        "test_ece_after": calibrated_bins.ece,
        "test_nll_before": nll(logits, references),
        "test_nll_after": nll(logits, references, calibration.temperature),
    }
    if cfg.predict.abstain_below is not None:
        kept = probabilities.max(axis=-1) >= cfg.predict.abstain_below
        right = predictions == references
        metrics["abstain"] = {
            "threshold": cfg.predict.abstain_below,
            "kept": float(kept.mean()),
            "accuracy_kept": float(right[kept].mean()) if kept.any() else None,
            "accuracy_abstained": float(right[~kept].mean()) if (~kept).any() else None,
        }
    metrics["per_length"] = per_length(
        test, logits, lambda texts: torch_logits(model, tokenizer, texts, cfg.model.max_length, cfg.evaluate.batch_size),
        label2id, cfg.data.seed, calibration.temperature, cfg.predict.abstain_below,
    )
    pairs = Counter((labels[r], labels[p]) for r, p in zip(references, predictions, strict=True) if r != p)
    confusions = [(t, p, n) for (t, p), n in pairs.most_common(15)]
    metrics["closest_pairs"] = closest_pairs(pairs, Counter(test["label"]))

    out = cfg.paths.reports
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    plots.confusion_png(references.tolist(), predictions.tolist(), labels, out / "confusion_matrix.png")
    plots.reliability_png(raw_bins, calibrated_bins, calibration.temperature, out / "reliability.png")
    if languages:
        plots.language_bars(languages, out / "per_language.png")
    report = out / "evaluation.md"
    report.write_text(_markdown(cfg, metrics, confusions), encoding="utf-8")

    with tracking.stage_run(cfg, "evaluate"):
        flat = {"test_accuracy": metrics["accuracy"], "test_macro_f1": metrics["macro_f1"]}
        flat |= {f"test_accuracy/{n}": s["accuracy"] for n, s in languages.items()}
        flat |= {f"test_macro_f1/{n}": s["macro_f1"] for n, s in languages.items()}
        flat |= {f"test_accuracy_{length_key(b)}": s["accuracy"] for b, s in metrics["per_length"].items()}
        mlflow.log_metrics(flat)
        if worst:
            mlflow.set_tag("worst_language", worst)
        flat |= {"test_ece_before_calibration": raw_bins.ece, "test_ece_after_calibration": calibrated_bins.ece}
        for name in ("metrics.json", "evaluation.md", "confusion_matrix.png", "per_language.png", "reliability.png"):
            if (out / name).is_file():
                mlflow.log_artifact(str(out / name), artifact_path="reports")
        parent = tracking.parent_run_id()
        now = int(time.time() * 1000)
        mlflow.tracking.MlflowClient().log_batch(
            parent, metrics=[mlflow.entities.Metric(k, v, now, 0) for k, v in flat.items() if "/" not in k]
        )
    log.info("test accuracy %.4f, macro-F1 %.4f, worst language %s", metrics["accuracy"], metrics["macro_f1"], worst)
    return EvaluationResult(metrics, report)
