"""The evaluation report's figures, drawn headless (Agg) so they work on servers and in CI."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from pipeline.metrics.calibration import ReliabilityBins  # noqa: E402
from pipeline.stages.fonts import all_scripts  # noqa: E402


@all_scripts
def confusion_png(references: list[int], predictions: list[int], labels: list[str], path: Path) -> Path:
    """Row-normalised, so a small class's errors are as visible as a large one's."""
    matrix = confusion_matrix(references, predictions, labels=list(range(len(labels))), normalize="true")
    size = max(6.0, 0.22 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7 if len(labels) > 20 else 9)
    ax.set_yticks(range(len(labels)), labels, fontsize=7 if len(labels) > 20 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (each row sums to 1)")
    if len(labels) <= 15:
        for (i, j), value in np.ndenumerate(matrix):
            if value >= 0.01:
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white" if value > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@all_scripts
def language_bars(scores: dict[str, dict[str, float]], path: Path) -> Path:
    """Accuracy and macro-F1 per language, worst first, so a bad language is the first thing seen."""
    names = sorted(scores, key=lambda n: scores[n]["accuracy"])
    accuracy = [scores[n]["accuracy"] for n in names]
    f1 = [scores[n]["macro_f1"] for n in names]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.25 * len(names) + 2), 4.5))
    x = np.arange(len(names))
    ax.bar(x - 0.2, accuracy, width=0.4, label="accuracy")
    ax.bar(x + 0.2, f1, width=0.4, label="F1")
    ax.set_xticks(x, names, rotation=90, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Test scores per language (worst first)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reliability_png(before: ReliabilityBins, after: ReliabilityBins, temperature: float, path: Path) -> Path:
    """Reliability diagram: accuracy against stated confidence per bin, before and after temperature scaling.

    On the diagonal a model's "90% sure" is right 90% of the time; bars under it are overconfidence.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True)
    for ax, bins, title in ((axes[0], before, "raw softmax"), (axes[1], after, f"temperature {temperature:.2f}")):
        edges = np.array(bins.edges)
        width = edges[1] - edges[0]
        filled = [i for i, acc in enumerate(bins.accuracy) if acc is not None]
        ax.bar(edges[:-1][filled], [bins.accuracy[i] for i in filled], width=width, align="edge", edgecolor="black",
               label="accuracy in bin")
        ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top probability)")
        ax.set_title(f"{title}: ECE {bins.ece:.4f}")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Reliability on the test split")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
