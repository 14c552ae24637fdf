"""`make explain`: attention heatmaps layer by layer and head by head, and a t-SNE map of sentence embeddings.

Works for any trained run: attention maps for models that have attention (the course transformer, a
from-scratch or pretrained Hugging Face BERT, read through `output_attentions`), and the t-SNE map for
every kind. Sentence embeddings are what the classification head sees (the input of `model.classifier`),
so the map shows the space the model actually separates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from transformers import PreTrainedModel, PreTrainedTokenizerBase  # noqa: E402

from pipeline.config import Config  # noqa: E402
from pipeline.data.prepared import read_split  # noqa: E402
from pipeline.models.modeling import load_trained  # noqa: E402
from pipeline.stages import fingerprint, tracking  # noqa: E402
from pipeline.stages.fonts import all_scripts  # noqa: E402

log = logging.getLogger(__name__)
TSNE_ROWS = 1200


@dataclass
class ExplainResult:
    report: Path
    attention_maps: list[Path]
    tsne: Path


def _examples(test: pd.DataFrame, count: int, seed: int) -> pd.DataFrame:
    """One short test sentence from each of `count` different labels: readable token axes, varied scripts."""
    short = test[test["text"].str.len().between(15, 80)]
    pool = short if short["label"].nunique() >= count else test
    firsts = pool.sample(frac=1, random_state=seed).groupby("label").head(1)
    return firsts.head(count)


@all_scripts
def attention_maps(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int, out: Path
) -> list[Path]:
    """One figure per sentence: a grid of layers (rows) by heads (columns), query tokens down, key tokens across."""
    paths = []
    model.eval()
    for i, text in enumerate(texts):
        batch = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
        with torch.inference_mode():
            attentions = model(**batch, output_attentions=True).attentions
        if not attentions:
            return []
        tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
        layers, heads = len(attentions), attentions[0].shape[1]
        size = max(2.2, 0.18 * len(tokens) + 1)
        fig, axes = plt.subplots(layers, heads, figsize=(size * heads, size * layers), squeeze=False)
        for layer in range(layers):
            for head in range(heads):
                ax = axes[layer][head]
                ax.imshow(attentions[layer][0, head].numpy(), cmap="viridis", vmin=0, vmax=1)
                ax.set_title(f"layer {layer + 1} head {head + 1}", fontsize=8)
                ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
                ax.set_yticks(range(len(tokens)), tokens, fontsize=6)
        fig.suptitle(text[:90], fontsize=10)
        fig.tight_layout()
        path = out / f"attention_{i + 1}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def sentence_embeddings(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int, batch_size: int = 64
) -> np.ndarray:
    """The vectors the classification head receives, captured with a forward pre-hook on `model.classifier`."""
    captured: list[torch.Tensor] = []
    hook = model.classifier.register_forward_pre_hook(lambda _module, args: captured.append(args[0].detach()))
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(
                    texts[start : start + batch_size], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
                )
                model(**batch)
    finally:
        hook.remove()
    features = torch.cat(captured)
    return features.reshape(len(texts), -1).float().numpy()


@all_scripts
def tsne_png(embeddings: np.ndarray, labels: list[str], path: Path, seed: int) -> Path:
    points = TSNE(n_components=2, random_state=seed, init="pca", perplexity=min(30, len(labels) - 1)).fit_transform(embeddings)
    names = sorted(set(labels))
    colours = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(11, 9))
    for k, name in enumerate(names):
        mask = np.array([label == name for label in labels])
        ax.scatter(points[mask, 0], points[mask, 1], s=6, color=colours(k % 20), alpha=0.7)
        cx, cy = np.median(points[mask], axis=0)
        ax.annotate(name, (cx, cy), fontsize=8, weight="bold", ha="center")
    ax.set_title(f"t-SNE of sentence embeddings (input of the classification head), {len(labels)} test sentences")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@fingerprint.stamped("explain")
def explain(cfg: Config, examples: int = 4) -> ExplainResult:
    model, tokenizer = load_trained(cfg.paths.model)
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")  # SDPA kernels do not return attention weights
    test = read_split(cfg.paths.data, "test")
    out = cfg.paths.reports / "explain"
    out.mkdir(parents=True, exist_ok=True)
    chosen = _examples(test, examples, cfg.data.seed)
    maps = attention_maps(model, tokenizer, chosen["text"].tolist(), cfg.model.max_length, out)
    sample = test.sample(n=min(TSNE_ROWS, len(test)), random_state=cfg.data.seed)
    embeddings = sentence_embeddings(model, tokenizer, sample["text"].tolist(), cfg.model.max_length)
    tsne = tsne_png(embeddings, sample["label"].tolist(), out / "tsne.png", cfg.data.seed)

    lines = [f"# What the `{cfg.run_name}` model looks at", "", "Written by `make explain` (`pipeline explain`).", ""]
    if maps:
        lines += ["## Attention, layer by layer and head by head", ""]
        lines += [f"![attention {i + 1}](explain/{p.name})" for i, p in enumerate(maps)]
    else:
        lines += [f"Model kind `{cfg.model.kind}` has no attention to show.", ""]
    lines += ["", "## Sentence embeddings", "", "![t-SNE](explain/tsne.png)", ""]
    report = cfg.paths.reports / "explain.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    with tracking.stage_run(cfg, "explain"):
        mlflow.log_artifacts(str(out), artifact_path="reports/explain")
        mlflow.log_artifact(str(report), artifact_path="reports")
    log.info("wrote %s (%d attention maps)", report, len(maps))
    return ExplainResult(report, maps, tsne)
