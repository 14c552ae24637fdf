"""The evaluation report's figures, drawn headless (Agg) so they work on servers and in CI."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

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
