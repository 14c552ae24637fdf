"""Where one sentence's time goes in the Predictor: tokenizing, padding, onnxruntime (per operator, from its own
profiler), softmax, the unseen-script rule, ranking, and the Python between them, in microseconds per sentence at
batches of 1, 32 and 256 on one thread.

`make profile CONFIG=...` writes reports/<run>/profile.md from the run's export and its test sentences. Each batch
size is timed in ROUNDS rounds, the sizes rotated within a round, and the median round is reported: these machines
are noisy, and a figure is only compared with others from the same run.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pipeline.config import load_config
from pipeline.data.prepared import read_split
from pipeline.machine import describe
from pipeline.runtime.predictor import Predictor

BATCHES = (1, 32, 256)
ROUNDS = 3
# sentences timed per batch size and round: batch 1 pays a call per sentence, so fewer keep the run short
SENTENCES = {1: 2000, 32: 8000, 256: 8000}
STEPS = ("tokenize", "pad", "onnxruntime", "softmax", "unseen scripts", "rank")


def time_steps(predictor: Predictor, texts: list[str], batch: int) -> dict[str, float]:
    """Seconds per step over `texts`, as Predictor.predict spends them: tokenizing, padding and onnxruntime per
    length-sorted batch, then softmax, the script rule and ranking once over all the logits; and the whole
    predict() call over the same texts."""
    spent: collections.Counter[str] = collections.Counter()
    order = sorted(texts, key=len)
    logits = []
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        t0 = time.perf_counter()
        if predictor.char_encoder is not None:  # normalizing and the id lookup are one vectorized step there
            feed, _ = predictor.char_encoder(chunk)
            t1 = t2 = time.perf_counter()
        else:
            encodings = predictor.tokenizer.encode_batch_fast(chunk)
            t1 = time.perf_counter()
            feed = predictor._pad({"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings]})
            t2 = time.perf_counter()
        logits.append(predictor.session.run(None, feed)[0])
        t3 = time.perf_counter()
        spent["tokenize"] += t1 - t0
        spent["pad"] += t2 - t1
        spent["onnxruntime"] += t3 - t2
    t3 = time.perf_counter()
    probs = predictor.probabilities(np.concatenate(logits))
    t4 = time.perf_counter()
    predictor.in_unseen_scripts(order)
    t5 = time.perf_counter()
    rule, predictor.unseen_scripts = predictor.unseen_scripts, None  # rank applies the rule too: timed above
    predictor.rank(probs, [False] * len(order), texts=order)
    predictor.unseen_scripts = rule
    t6 = time.perf_counter()
    spent["softmax"], spent["unseen scripts"], spent["rank"] = t4 - t3, t5 - t4, t6 - t5
    started = time.perf_counter()
    predictor.predict(texts, batch_size=batch)
    spent["predict() in all"] = time.perf_counter() - started
    return dict(spent)


def operator_profile(export: Path, variant: str, texts: list[str], batch: int) -> dict[str, float]:
    """onnxruntime's own profiler: microseconds per sentence in each operator type, one thread."""
    predictor = Predictor(export, quantized=variant == "int8", threads=1)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(export / predictor.manifest["models"][variant]), options, providers=["CPUExecutionProvider"])
        order = sorted(texts, key=len)
        for start in range(0, len(order), batch):
            feed, _ = predictor._encode(order[start : start + batch])
            session.run(None, feed)
        trace = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter[str] = collections.Counter()
    for event in trace:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    return {op: us / len(texts) for op, us in per_op.most_common()}


def measure(export: Path, texts: list[str]) -> dict:
    """Each batch size with the export's encoder (the numpy character encoder for a char_ngram export) and, when
    that is not the Rust tokenizer, with the Rust tokenizer too: the before and after of the same run, in rounds
    that rotate both the batch sizes and the two."""
    predictor = Predictor(export, threads=1)
    char_encoder = predictor.char_encoder
    encoders = ("numpy", "rust") if char_encoder is not None else ("rust",)
    cases = [(b, e) for b in BATCHES for e in encoders]
    rounds: dict[tuple[int, str], list[dict[str, float]]] = {case: [] for case in cases}
    for r in range(ROUNDS):
        for batch, encoder in cases[r % len(cases) :] + cases[: r % len(cases)]:
            predictor.char_encoder = char_encoder if encoder == "numpy" else None
            sample = texts[: SENTENCES[batch]]
            seconds = time_steps(predictor, sample, batch)
            rounds[(batch, encoder)].append({k: v / len(sample) * 1e6 for k, v in seconds.items()})
    predictor.char_encoder = char_encoder
    median = {case: sorted(found, key=lambda r: r["predict() in all"])[len(found) // 2] for case, found in rounds.items()}
    return {
        "variant": predictor.variant,
        "mean_characters": float(np.mean([len(t) for t in texts])),
        "per_step_us": {b: median[(b, encoders[0])] for b in BATCHES},
        "rust_tokenizer_us": {b: median[(b, "rust")] for b in BATCHES} if char_encoder is not None else None,
        "operators_us_batch32": operator_profile(export, predictor.variant, texts[: SENTENCES[32]], 32),
        "memory": memory_bound(export, predictor, texts),
    }


def memory_bound(export: Path, predictor: Predictor, texts: list[str]) -> dict | None:
    """What memory allows for the table rows a sentence reads (a char_ngram export; None for other models).

    A sentence of T tokens reads T - n + 1 rows for each n-gram order n, each hidden_size bytes in int8 (4 times
    that in fp32), at hashed, so random, places in the table. Two references, measured here on one core with numpy:
    streaming bandwidth (a copy of 256 MB), and random row reads (rows of the same width taken at random from a
    table of the same size), the access pattern the Gather has.
    """
    config = json.loads((export / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "char_ngram" or predictor.char_encoder is None:
        return None
    width = config["hidden_size"] * (1 if predictor.variant == "int8" else 4)
    table_rows = config["vocab_size"] + config["ngram_buckets"]
    tokens = predictor.char_encoder(texts)[0]["attention_mask"].sum(axis=1)
    rows = float(np.mean(sum(np.maximum(tokens - n + 1, 0) for n in config["ngram_orders"])))
    # Every array is written before it is timed: a fresh allocation's first touch costs page faults, and numpy's
    # zeros are the kernel's shared zero page until written. The best of 3 tries.
    source, target = np.ones(256 * 2**20, dtype=np.uint8), np.ones(256 * 2**20, dtype=np.uint8)
    stream = 2 * source.nbytes / min(_seconds(lambda: np.copyto(target, source)) for _ in range(3))  # read and write
    table = np.ones((table_rows, width), dtype=np.uint8)
    index = np.random.default_rng(0).integers(table_rows, size=2_000_000)
    out = np.ones((len(index), width), dtype=np.uint8)
    random_rows = len(index) / min(_seconds(lambda: table.take(index, axis=0, out=out)) for _ in range(3))
    return {
        "rows_per_sentence": rows,
        "bytes_per_sentence": rows * width,
        "table_mb": table_rows * width / 2**20,
        "stream_bytes_per_s": stream,
        "random_rows_per_s": random_rows,
        "bound_stream": stream / (rows * width),
        "bound_random": random_rows / rows,
    }


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def markdown(result: dict, command: str, run: str) -> str:
    per_step = result["per_step_us"]
    lines = [
        f"# Where a sentence's time goes: {run}",
        "",
        f"Produced by `{command}` on {describe()}. Export variant: {result['variant']}, one onnxruntime thread. "
        f"Test sentences of the run, {result['mean_characters']:.0f} characters on average; microseconds per "
        f"sentence, the median of {ROUNDS} rotated rounds.",
        "",
        "| step | " + " | ".join(f"batch {b}" for b in BATCHES) + " |",
        "|---|" + "---|" * len(BATCHES),
    ]
    for step in (*STEPS, "Python between them"):
        row = []
        for b in BATCHES:
            steps = per_step[b]
            value = steps["predict() in all"] - sum(steps[s] for s in STEPS) if step == "Python between them" else steps[step]
            row.append(f"{value:.1f}")
        lines.append(f"| {step} | " + " | ".join(row) + " |")
    lines.append("| **predict() in all** | " + " | ".join(f"**{per_step[b]['predict() in all']:.1f}**" for b in BATCHES) + " |")
    lines.append("| sentences/s | " + " | ".join(f"{1e6 / per_step[b]['predict() in all']:,.0f}" for b in BATCHES) + " |")
    rust = result["rust_tokenizer_us"]
    if rust is not None:
        lines += [
            "",
            "Tokenizing and padding are one vectorized step of the numpy character encoder (pipeline/runtime/char_encoder.py), "
            "shown as tokenize. The same run with the Rust tokenizer (tokenizer.json) and the padding in Python, as before it:",
            "",
            "| step | " + " | ".join(f"batch {b}" for b in BATCHES) + " |",
            "|---|" + "---|" * len(BATCHES),
            *[f"| {step} | " + " | ".join(f"{rust[b][step]:.1f}" for b in BATCHES) + " |" for step in ("tokenize", "pad", "onnxruntime")],
            "| **predict() in all** | " + " | ".join(f"**{rust[b]['predict() in all']:.1f}**" for b in BATCHES) + " |",
            "| sentences/s | " + " | ".join(f"{1e6 / rust[b]['predict() in all']:,.0f}" for b in BATCHES) + " |",
            "| numpy encoder's speed-up | " + " | ".join(
                f"{rust[b]['predict() in all'] / per_step[b]['predict() in all']:.2f}x" for b in BATCHES) + " |",
        ]
    memory = result["memory"]
    if memory is not None:
        best = max(1e6 / per_step[b]["predict() in all"] for b in BATCHES)
        lines += [
            "",
            "## What memory allows",
            "",
            f"A sentence reads {memory['rows_per_sentence']:.0f} rows of the n-gram table on average "
            f"({memory['bytes_per_sentence'] / 1024:.1f} KB; the table is {memory['table_mb']:.0f} MB), at hashed, random "
            f"places. Measured on one core with numpy: streaming {memory['stream_bytes_per_s'] / 1e9:.1f} GB/s allows "
            f"{memory['bound_stream']:,.0f} sentences/s; random row reads of that width, "
            f"{memory['random_rows_per_s'] / 1e6:.0f} million rows/s, allow {memory['bound_random']:,.0f}. The best "
            f"figure above, {best:,.0f} sentences/s, is {best / memory['bound_random']:.0%} of the random-read bound "
            f"and {best / memory['bound_stream']:.1%} of the streaming one.",
        ]
    ops = result["operators_us_batch32"]
    total = sum(ops.values())
    lines += [
        "",
        "## onnxruntime's operators at batch 32",
        "",
        "From onnxruntime's profiler (kernel time only), microseconds per sentence, by operator type.",
        "",
        "| operator | µs/sentence | share |",
        "|---|---|---|",
        *[f"| {op} | {us:.2f} | {us / total:.0%} |" for op, us in list(ops.items())[:12]],
        f"| all | {total:.2f} | 100% |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("configs/default.yaml"))
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))]
    result = measure(cfg.paths.export, texts)
    out = cfg.paths.reports / "profile.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(result, f"make profile CONFIG={args.config}", cfg.run_name), encoding="utf-8")
    (cfg.paths.reports / "profile.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
