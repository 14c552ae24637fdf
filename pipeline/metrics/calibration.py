"""Temperature scaling (Guo et al., 2017): one number that makes the model's confidence mean what it says.

A classifier trained with cross-entropy to near-zero loss is overconfident: its top probability is close to
1 even when it is wrong, so a threshold on it ("answer only above 0.9") keeps nearly everything. Dividing the
logits by a temperature T fitted on the validation split (minimum negative log-likelihood) fixes the scale
without changing any argmax, so accuracy is untouched and the threshold becomes meaningful. Pure numpy: the
runtime applies it, and the runtime carries no torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import MissingOutputError

CALIBRATION_FILE = "calibration.json"  # beside the trained model

# log T is searched in this range: T from 0.05 to 20 covers any sane model; the ends mean a broken fit.
_LOG_T_RANGE = (-3.0, 3.0)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels at this temperature."""
    return float(-log_softmax(logits / temperature)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, steps: int = 60) -> float:
    """The T minimising validation NLL, by golden-section search on log T.

    NLL is convex in 1/T, so it has a single minimum and the search finds it to about 1e-6 in log T.
    """
    if len(labels) == 0:
        raise ValueError("cannot fit a temperature on an empty split")
    low, high = _LOG_T_RANGE
    ratio = (np.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(logits, labels, np.exp(a)), nll(logits, labels, np.exp(b))
    for _ in range(steps):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(logits, labels, np.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(logits, labels, np.exp(b))
    return float(np.exp((low + high) / 2))


@dataclass
class ReliabilityBins:
    """Per confidence bin: how sure the model said it was, how often it was right, and how many texts."""

    edges: list[float]
    confidence: list[float | None]
    accuracy: list[float | None]
    counts: list[int]
    ece: float  # expected calibration error: the count-weighted mean gap between the two

    def to_dict(self) -> dict:
        return asdict(self)


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> ReliabilityBins:
    confidence = probs.max(axis=-1)
    correct = probs.argmax(axis=-1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    conf, acc, counts, gap = [], [], [], 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        counts.append(n)
        if n:
            conf.append(float(confidence[mask].mean()))
            acc.append(float(correct[mask].mean()))
            gap += n * abs(conf[-1] - acc[-1])
        else:
            conf.append(None)
            acc.append(None)
    return ReliabilityBins(edges.tolist(), conf, acc, counts, gap / max(1, len(labels)))


@dataclass
class Calibration:
    """What train writes beside the model (calibration.json) and export copies into the manifest."""

    temperature: float
    validation_nll_before: float
    validation_nll_after: float
    validation_ece_before: float
    validation_ece_after: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def read(cls, model_dir: Path) -> Calibration:
        path = model_dir / CALIBRATION_FILE
        if not path.is_file():
            raise MissingOutputError(f"{path} is missing: the model was trained before calibration existed; retrain (FORCE=1 make train)")
        try:
            return cls(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as err:
            raise MissingOutputError(f"{path} is not a calibration record ({err}); retrain (FORCE=1 make train)") from err


def calibrate(logits: np.ndarray, labels: np.ndarray) -> Calibration:
    temperature = fit_temperature(logits, labels)
    before = np.exp(log_softmax(logits))
    after = np.exp(log_softmax(logits / temperature))
    return Calibration(
        temperature=temperature,
        validation_nll_before=nll(logits, labels),
        validation_nll_after=nll(logits, labels, temperature),
        validation_ece_before=reliability(before, labels).ece,
        validation_ece_after=reliability(after, labels).ece,
    )
