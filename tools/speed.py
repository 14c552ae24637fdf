"""Inference speed of one trained run: PyTorch eager fp32, ONNX fp32 and ONNX int8, at batch 1 and 32.

Also the model's FLOPs per text, counted from its shapes, and the share of the machine's peak that the
fastest variant reaches, with the arithmetic written out, so the numbers can be checked by hand.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import Config
from pipeline.data.prepared import read_split
from pipeline.models.modeling import load_trained
from pipeline.models.torch_inference import torch_logits
from pipeline.runtime.cores import usable_cores
from pipeline.runtime.predictor import Predictor

BATCHES = (1, 32)


@dataclass
class Peak:
    cores: int
    ghz: float
    flops_per_cycle: int
    isa: str

    @property
    def flops(self) -> float:
        return self.cores * self.ghz * 1e9 * self.flops_per_cycle

    def arithmetic(self) -> str:
        return (
            f"{self.cores} cores x {self.ghz:.2f} GHz x {self.flops_per_cycle} fp32 FLOPs/cycle ({self.isa}) "
            f"= {self.flops / 1e9:.0f} GFLOP/s"
        )


def machine_peak() -> Peak:
    """fp32 peak from /proc/cpuinfo: two FMA units per core, each 16 (AVX-512) or 8 (AVX2) lanes x 2 FLOPs."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    flags = set(re.search(r"^flags\s*:(.*)$", info, re.M).group(1).split()) if "flags" in info else set()
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)]
    ghz = (max(mhz) / 1000) if mhz else 2.0
    cores = usable_cores()
    if "avx512f" in flags:
        return Peak(cores, ghz, 64, "AVX-512, 2 FMA units")
    if "avx2" in flags:
        return Peak(cores, ghz, 32, "AVX2, 2 FMA units")
    return Peak(cores, ghz, 8, "SSE")


def bert_flops_per_text(config, tokens: float) -> tuple[float, str]:  # noqa: ANN001 - a transformers BertConfig
    """Multiply-adds counted as 2 FLOPs: per layer, Q/K/V/output projections, attention scores and mixing, FFN."""
    h, i, n, layers = config.hidden_size, config.intermediate_size, tokens, config.num_hidden_layers
    projections = 2 * 4 * h * h * n
    attention = 2 * 2 * n * n * h
    ffn = 2 * 2 * h * i * n
    head = 2 * h * h + 2 * h * config.num_labels
    total = layers * (projections + attention + ffn) + head
    text = (
        f"{layers} layers x (projections 2·4·{h}²·{n:.1f} + attention 2·2·{n:.1f}²·{h} + FFN 2·2·{h}·{i}·{n:.1f})"
        f" + pooler and head 2·{h}² + 2·{h}·{config.num_labels} = {total / 1e6:.1f} MFLOPs per text"
    )
    return total, text


def rate(run, texts: list[str], batch: int, seconds: float = 8.0) -> float:  # noqa: ANN001 - callable(texts, batch)
    """Texts/s of `run(texts, batch)` over `seconds`, each call on a batch taken from a different place in the texts."""
    run(texts[:batch], batch)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        start = (done * 7919) % max(1, len(texts) - batch)
        chunk = texts[start : start + batch]
        run(chunk, batch)
        done += len(chunk)
    return done / (time.perf_counter() - started)


def measure(cfg: Config, sample: int = 512, seconds: float = 8.0) -> dict:
    test = read_split(cfg.paths.data, "test")
    texts = test.sample(n=min(sample, len(test)), random_state=0)["text"].tolist()
    model, tokenizer = load_trained(cfg.paths.model)
    fp32 = Predictor(cfg.paths.export, quantized=False)
    variants = {
        "PyTorch eager fp32": lambda t, b: torch_logits(model, tokenizer, t, cfg.model.max_length, b),
        "ONNX fp32": lambda t, b: fp32.logits(t, b),
    }
    if "int8" in fp32.manifest["models"]:  # configs whose int8 failed the parity gate export fp32 only
        int8 = Predictor(cfg.paths.export, quantized=True)
        variants["ONNX int8"] = lambda t, b: int8.logits(t, b)
    rates = {name: {batch: rate(run, texts, batch, seconds) for batch in BATCHES} for name, run in variants.items()}
    tokens = float(np.mean([min(len(ids), cfg.model.max_length) for ids in tokenizer(texts)["input_ids"]]))
    result = {"rates": rates, "tokens_per_text": tokens, "peak": machine_peak()}
    if model.config.model_type in ("bert", "bert_mean_pooling"):
        result["flops"], result["flops_arithmetic"] = bert_flops_per_text(model.config, tokens)
    result["files_mb"] = {
        variant: (cfg.paths.export / name).stat().st_size / 1e6 for variant, name in fp32.manifest["models"].items()
    }
    result["parameters"] = sum(p.numel() for p in model.parameters())
    return result


def markdown(result: dict, title: str = "Inference: PyTorch eager against ONNX fp32 and int8") -> str:
    rates = result["rates"]
    base = rates["PyTorch eager fp32"]
    sizes = ", ".join(f"{variant} {mb:.1f} MB" for variant, mb in result["files_mb"].items())
    lines = [
        f"## {title}",
        "",
        f"{result['parameters'] / 1e6:.1f} M parameters; ONNX files: {sizes}.",
        "",
        f"Test sentences ({result['tokens_per_text']:.1f} tokens on average), each batch padded to its longest text,"
        " one process, onnxruntime and torch on all cores. Ratios are against PyTorch eager at the same batch size.",
        "",
        "| | " + " | ".join(f"texts/s at batch {b} | ratio" for b in BATCHES) + " |",
        "|---|" + "---|---|" * len(BATCHES),
    ]
    for name, by_batch in rates.items():
        cells = " | ".join(f"{by_batch[b]:.0f} | {by_batch[b] / base[b]:.2f}" for b in BATCHES)
        lines.append(f"| {name} | {cells} |")
    if "flops" in result:
        peak: Peak = result["peak"]
        best = max(max(by_batch.values()) for by_batch in rates.values())
        achieved = best * result["flops"]
        lines += [
            "",
            f"FLOPs per text: {result['flops_arithmetic']}.",
            f"Machine peak: {peak.arithmetic()}.",
            f"Fastest variant: {best:.0f} texts/s x {result['flops'] / 1e6:.1f} MFLOPs = {achieved / 1e9:.1f} GFLOP/s,"
            f" **{achieved / peak.flops:.1%} of peak**: a model this small is bound by memory traffic, tokenization"
            " and per-call overhead, not arithmetic.",
        ]
    return "\n".join(lines) + "\n"
