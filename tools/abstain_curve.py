"""`make abstain-curve`: what the abstain threshold buys, measured on languages the model was never taught.

Every SIB-200 language outside the label set sends its sentences (the same ones in every language); an answer
other than `unknown` is a false accept. The threshold is chosen on SIB-200's dev sentences, as the fewest false
accepts that still answer GOAL_KEPT of the in-set ones, and the report gives what it does on the test sentences
(configs/default.yaml's predict.abstain_below is that choice). The in-set languages send theirs, and the
curve shows how many of them the model still answers, and how accurately, at each threshold on the
calibrated top probability. Varieties of an in-set label's macrolanguage (Arabic dialects for `ar`,
Nynorsk for `no`, Indonesian for `ms`, ...) are not out of set: naming them by their macrolanguage is
right, so they are reported apart and never counted either way. A sentence the predictor labels `unknown` for
its script (most of its letters in scripts no training language uses) is never accepted, whatever the threshold.

Writes reports/<run>/abstain.md, abstain.png and abstain.json.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.config import load_config  # noqa: E402
from pipeline.data.language_codes import SIB_FOLDERS  # noqa: E402
from pipeline.machine import describe  # noqa: E402
from pipeline.runtime.predictor import Predictor  # noqa: E402
from tools.langid_bench import make_args, sib_missing, sib_parser  # noqa: E402

# SIB-200 folders in the ISO 639-3 macrolanguage of an eld label (or the same language in another script).
MACRO_SIBLINGS = {
    "ar": ("acm_Arab", "acq_Arab", "aeb_Arab", "ajp_Arab", "apc_Arab", "ars_Arab", "ary_Arab", "arz_Arab", "arb_Latn"),
    "zh": ("zho_Hant", "yue_Hant"),
    "fa": ("prs_Arab",),
    "ku": ("kmr_Latn",),
    "az": ("azb_Arab",),
    "no": ("nno_Latn",),
    "ms": ("ind_Latn", "bjn_Arab", "bjn_Latn", "min_Arab", "min_Latn"),
    "lv": ("ltg_Latn",),
    "hr": ("bos_Latn",),
    "sr": ("bos_Latn",),
}
# The operating point the product asks for: at most GOAL_FALSE_ACCEPT with at least GOAL_KEPT of in-set answered.
GOAL_KEPT, GOAL_FALSE_ACCEPT = 0.95, 0.05
THRESHOLDS = [round(t, 3) for t in (*np.arange(0.0, 0.95, 0.05), 0.95, 0.97, 0.98, *np.arange(0.99, 0.9995, 0.001))]


@dataclass
class CurvePoint:
    threshold: float
    false_accept: float  # mean over out-of-set languages of the share of their sentences given a label
    kept: float  # mean over in-set languages of the share of their sentences answered
    accuracy_kept: float | None  # accuracy over the answered in-set sentences
    worst_false_accept: dict[str, float]  # the five out-of-set languages accepted most, with their rates


def _read(folder: Path, name: str, split: str) -> list[str]:
    frame = pd.read_csv(folder / name / f"{split}.tsv", sep="\t", quoting=3, dtype=str, keep_default_na=False)
    return frame["text"].tolist()


def measure(export: Path, folder: Path, split: str = "test", threshold: float | None = None) -> dict:
    """The curve on the split's sentences, and the point at `threshold` (one of THRESHOLDS), or, without one, at
    the threshold this split would choose: the fewest false accepts among those answering at least GOAL_KEPT of
    the in-set sentences (the most answered when none does)."""
    predictor = Predictor(export, abstain_below=0)
    labels = predictor.labels
    in_set = {lang: SIB_FOLDERS[lang] for lang in labels if lang in SIB_FOLDERS and (folder / SIB_FOLDERS[lang]).is_dir()}
    siblings = sorted({name for lang in labels for name in MACRO_SIBLINGS.get(lang, ()) if (folder / name).is_dir()})
    taken = set(in_set.values()) | set(siblings)
    outside = sorted(p.name for p in folder.iterdir() if (p / f"{split}.tsv").is_file() and p.name not in taken)

    def top(names: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each language's top probabilities (-1 where the script rule answers unknown) and top labels."""
        out = {}
        for name in names:
            texts = _read(folder, name, split)
            logits, _ = predictor.logits(texts)
            probs = predictor.probabilities(logits)
            out[name] = (np.where(predictor.in_unseen_scripts(texts), -1.0, probs.max(-1)), probs.argmax(-1))
        return out

    inside, outer, near = top(list(in_set.values())), top(outside), top(siblings)
    truth = {name: labels.index(lang) for lang, name in in_set.items()}
    curve = []
    for t in THRESHOLDS:
        rates = {name: float((conf >= t).mean()) for name, (conf, _) in outer.items()}
        kept = {name: conf >= t for name, (conf, _) in inside.items()}
        right = np.concatenate([(pred == truth[name])[kept[name]] for name, (_, pred) in inside.items()])
        curve.append(CurvePoint(
            threshold=t,
            false_accept=float(np.mean(list(rates.values()))),
            kept=float(np.mean([k.mean() for k in kept.values()])),
            accuracy_kept=float(right.mean()) if len(right) else None,
            worst_false_accept=dict(sorted(rates.items(), key=lambda kv: -kv[1])[:5]),
        ))
    answering = [p for p in curve if p.kept >= GOAL_KEPT]
    if threshold is not None:
        chosen = next(p for p in curve if p.threshold == threshold)
    elif answering:
        chosen = min(answering, key=lambda p: (p.false_accept, -p.kept))
    else:
        chosen = max(curve, key=lambda p: (p.kept, -p.false_accept))
    return {
        "export": str(export),
        "split": split,
        "in_set_languages": len(in_set),
        "out_of_set_languages": outside,
        "siblings": siblings,
        "sibling_kept_at_chosen": {name: float((near[name][0] >= chosen.threshold).mean()) for name in near},
        "sibling_labels": {name: labels[int(np.bincount(near[name][1]).argmax())] for name in near},
        "curve": [asdict(p) for p in curve],
        "chosen": asdict(chosen),
        "unseen_scripts_rule": predictor.unseen_scripts_unknown,
        "sentences": {"in_set": sum(len(v[0]) for v in inside.values()), "out_of_set": sum(len(v[0]) for v in outer.values()),
                      "siblings": sum(len(v[0]) for v in near.values())},
    }


def plot(result: dict, path: Path) -> Path:
    curve = result["curve"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    t = [p["threshold"] for p in curve]
    left.plot(t, [p["kept"] for p in curve], label="in-set sentences answered")
    left.plot(t, [p["false_accept"] for p in curve], label="out-of-set false accepts")
    left.plot(t, [np.nan if p["accuracy_kept"] is None else p["accuracy_kept"] for p in curve], label="accuracy of the answered in-set")
    left.axvline(result["chosen"]["threshold"], color="grey", linestyle="--", label="threshold chosen on dev")
    left.set_xlabel("abstain below (calibrated top probability)")
    left.set_ylim(0, 1.02)
    left.legend(fontsize=8, loc="lower left")
    left.set_title("Share against threshold")
    right.plot([p["false_accept"] for p in curve], [p["kept"] for p in curve], marker=".")
    chosen = result["chosen"]
    right.scatter([chosen["false_accept"]], [chosen["kept"]], color="red", zorder=3, label=f"threshold {chosen['threshold']}")
    right.set_xlabel(f"false-accept rate ({len(result['out_of_set_languages'])} out-of-set languages)")
    right.set_ylabel("in-set kept")
    right.set_title("Kept against false accepts")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"  # None: nothing in set was answered at that threshold


def choose_and_test(export: Path, folder: Path) -> dict:
    """The test curve, with the point at the threshold chosen on dev (its dev point under "dev")."""
    dev = measure(export, folder, "dev")
    result = measure(export, folder, "test", threshold=dev["chosen"]["threshold"])
    return result | {"dev": dev["chosen"], "dev_sentences": dev["sentences"]}


def _goal_line(result: dict) -> str:
    """Whether the goal is met on test at the threshold chosen on dev."""
    point = result["chosen"]
    rule = "with" if result["unseen_scripts_rule"] else "without"
    met = "met" if point["false_accept"] <= GOAL_FALSE_ACCEPT and point["kept"] >= GOAL_KEPT else "missed"
    worst = ", ".join(f"{n} {r:.2f}" for n, r in point["worst_false_accept"].items())
    return (
        f"**Goal** (at most {GOAL_FALSE_ACCEPT:.0%} false accepts with at least {GOAL_KEPT:.0%} of in-set sentences answered,"
        f" {rule} the unseen-script rule): **{met}** on test. At {point['threshold']}, {point['kept']:.4f} answered and"
        f" {point['false_accept']:.4f} false accepts; most accepted: {worst}."
    )


def markdown(result: dict, command: str) -> str:
    chosen, dev = result["chosen"], result["dev"]
    shown = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999)
    rows = [p for p in result["curve"] if p["threshold"] in shown or p == chosen]
    siblings = ", ".join(
        f"{n} ({result['sibling_labels'][n]}, {result['sibling_kept_at_chosen'][n]:.2f} answered)" for n in result["siblings"]
    )
    return "\n".join([
        "# Abstaining: false accepts on languages outside the label set",
        "",
        f"Produced by `{command}` on {describe()}. Export: `{result['export']}`.",
        "",
        f"{result['sentences']['out_of_set']} SIB-200 test sentences in {len(result['out_of_set_languages'])} languages the"
        f" model has no label for, and {result['sentences']['in_set']} in its {result['in_set_languages']} languages. A"
        " false accept is an out-of-set sentence given any label; the rate is the mean over the out-of-set"
        " languages (each counts once). Thresholds apply to the"
        " calibrated top probability (softmax of the logits over the temperature fitted at training).",
        "",
        f"**Threshold {chosen['threshold']}, chosen on SIB-200 dev** ({result['dev_sentences']['in_set']} in-set and"
        f" {result['dev_sentences']['out_of_set']} out-of-set sentences): "
        + (f"the fewest false accepts that answer at least {GOAL_KEPT:.0%} of in-set sentences there"
           if dev["kept"] >= GOAL_KEPT else f"no threshold answers {GOAL_KEPT:.0%} of in-set sentences there, this one the most")
        + f", {dev['false_accept']:.4f} with {dev['kept']:.4f} answered. On test:"
        f" false accepts {chosen['false_accept']:.4f}, in-set answered {chosen['kept']:.4f} with accuracy"
        f" {_share(chosen['accuracy_kept'])}.",
        "",
        _goal_line(result),
        "",
        "Test sentences:",
        "",
        "| abstain below | false-accept rate | in-set answered | accuracy of answered |",
        "|---|---|---|---|",
        *(f"| {p['threshold']}{' (chosen on dev)' if p == chosen else ''} | {p['false_accept']:.4f} | {p['kept']:.4f}"
          f" | {_share(p['accuracy_kept'])} |" for p in rows),
        "",
        "![abstain curve](abstain.png)",
        "",
        f"Not counted either way, as varieties of an in-set label's macrolanguage (majority label, share answered at"
        f" the chosen threshold): {siblings or 'none'}.",
        "",
        "Out-of-set languages: " + ", ".join(result["out_of_set_languages"]) + ".",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    args = sib_parser(__doc__.split("\n")[0]).parse_args(argv)
    if sib_missing(args.sib, "the curve"):
        return 2
    cfg = load_config(args.config, args.overrides)
    result = choose_and_test(cfg.paths.export, args.sib)
    out = cfg.paths.reports
    out.mkdir(parents=True, exist_ok=True)
    (out / "abstain.json").write_text(json.dumps(result, indent=2))
    plot(result, out / "abstain.png")
    (out / "abstain.md").write_text(markdown(result, f"make abstain-curve CONFIG={args.config}{make_args(args.overrides)}"), encoding="utf-8")
    print((out / "abstain.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
