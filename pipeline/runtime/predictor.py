"""Classify texts with the exported ONNX model; the one inference path for the service, the CLI and MLflow.

It reads only the export folder: the manifest (labels, max length, checksums), the tokenizer, and the
ONNX graph. It feeds the graph only the inputs the graph declares, truncates long texts explicitly and
says so per text, and pads each batch only to its longest text.

The tokenizer is read with `tokenizers` from the tokenizer.json that transformers saved, not through
transformers' AutoTokenizer: everything a fast tokenizer does when encoding (normaliser, pre-tokenizer,
model, special tokens) is in that file, and importing transformers imports torch, which the service and
the MLflow pyfunc must not carry. A test checks that both give the same ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from pipeline.errors import PipelineError
from pipeline.runtime.char_encoder import CharEncoder
from pipeline.runtime.scripts import UnseenScripts

MANIFEST = "manifest.json"
# The label a prediction gets when its calibrated top probability is under the export's abstain threshold, or
# when most of its text's letters are in scripts no training language is written in.
UNKNOWN = "unknown"


class ArtifactError(PipelineError):
    """The export folder is missing, incomplete or corrupt; the message names the file."""


class InputError(PipelineError, ValueError):
    """A request asks for what the model cannot answer, such as more top labels than it has."""


@dataclass
class Prediction:
    """label is UNKNOWN when the model abstained or the text is in a script training never saw; score and top_k
    still hold the model's own ranking, so a caller can see what it would have said and how sure it was."""

    label: str
    score: float
    top_k: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "top_k": self.top_k, "truncated": self.truncated}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(export_dir: Path, verify: bool = True) -> dict[str, Any]:
    """Load the manifest and, by default, check that every listed file exists with its recorded sha256."""
    path = export_dir / MANIFEST
    if not export_dir.is_dir():
        raise ArtifactError(f"export folder not found: {export_dir}. Run `make export` first.")
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: {export_dir} is not a complete export. Run `make export`.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{path} is not valid JSON: {err}") from err
    for key in ("labels", "max_length", "models", "files"):
        if key not in manifest:
            raise ArtifactError(f"{path} lacks the key {key!r}")
    if verify:
        for name, expected in manifest["files"].items():
            file = export_dir / name
            if not file.is_file():
                raise ArtifactError(f"{file} is listed in the manifest but missing")
            if sha256(file) != expected:
                raise ArtifactError(f"{file} is corrupt: its sha256 differs from the manifest")
    return manifest


def load_tokenizer(export_dir: Path, max_length: int) -> tuple[Tokenizer, int]:
    """The export's tokenizer, truncating at max_length, and the id its padding uses.

    Truncation is set once here, before any thread shares the tokenizer: changing it per call mutates the
    Rust object, and two batches tokenizing at once in the service collided there ("Already borrowed").
    """
    path = export_dir / "tokenizer.json"
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: the export has no fast tokenizer. Run `make export`.")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as err:  # noqa: BLE001 - tokenizers raises a bare Exception for a bad file
        raise ArtifactError(f"{path}: the tokenizer cannot be loaded: {err}") from err
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    pad = _pad_token(export_dir)
    pad_id = tokenizer.token_to_id(pad) if pad else None
    return tokenizer, pad_id or 0


def _pad_token(export_dir: Path) -> str | None:
    """The pad token transformers recorded in tokenizer_config.json (a string, or a dict with its content)."""
    path = export_dir / "tokenizer_config.json"
    if not path.is_file():
        return None
    try:
        pad = json.loads(path.read_text(encoding="utf-8")).get("pad_token")
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{path} is not valid JSON: {err}") from err
    return pad.get("content") if isinstance(pad, dict) else pad


def check_top_k(top_k: int, labels: Sequence[str]) -> None:
    """Also for a caller holding only the manifest, such as the parent of `pipeline predict`'s worker processes."""
    if not 1 <= top_k <= len(labels):
        raise InputError(f"top_k must be between 1 and {len(labels)} (the number of labels), got {top_k}")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class Predictor:
    def __init__(
        self,
        export_dir: str | Path,
        quantized: bool | None = None,
        verify: bool = True,
        threads: int = 0,
        busy_wait: bool = True,
        abstain_below: float | None = None,
        unseen_scripts_unknown: bool = True,
    ) -> None:
        """`quantized=None` takes int8 when the export has it and fp32 otherwise (configs whose int8 failed the
        parity gate export fp32 only); True or False insists on that variant.

        Scores are softmax(logits / T), T the temperature train fitted on the validation split (1 for exports
        made before calibration existed). `abstain_below` overrides the export's threshold; 0 never abstains.

        A language-ID export lists the scripts its training text is written in (manifest "scripts"); a text with
        more than half of its letters in other scripts is labelled UNKNOWN whatever its score, since no training
        language is written that way (a text with no letters keeps the model's answer).
        `unseen_scripts_unknown=False` turns that off; exports without the key (topic data, or made before it
        existed) never apply it.

        `busy_wait=False` stops onnxruntime's threads spinning between calls: right for a server, whose HTTP
        and tokenization work needs the same cores (spinning threads take the cycles those need), and wrong for
        a tight batch loop, where spinning saves each call a wake-up."""
        self.export_dir = Path(export_dir)
        self.manifest = read_manifest(self.export_dir, verify=verify)
        if quantized is None:
            quantized = "int8" in self.manifest["models"]
        variant = "int8" if quantized else "fp32"
        if variant not in self.manifest["models"]:
            raise ArtifactError(f"{self.export_dir} has no {variant} model; it has {sorted(self.manifest['models'])}")
        self.variant = variant
        self.labels: list[str] = self.manifest["labels"]
        self.max_length: int = int(self.manifest["max_length"])
        self.temperature = float(self.manifest.get("calibration", {}).get("temperature", 1.0))
        threshold = self.manifest.get("abstain_below") if abstain_below is None else abstain_below
        if threshold is not None and not 0 <= threshold < 1:
            raise InputError(f"abstain_below must be in [0, 1), got {threshold}")
        self.abstain_below: float | None = threshold or None
        scripts = self.manifest.get("scripts")
        if scripts is not None and not (isinstance(scripts, list) and all(isinstance(x, str) for x in scripts)):
            raise ArtifactError(f"{self.export_dir / MANIFEST}: 'scripts' must be a list of script names, got {scripts!r}")
        self.known_scripts: list[str] | None = scripts
        self.unseen_scripts = UnseenScripts(scripts) if unseen_scripts_unknown and scripts is not None else None
        self.tokenizer, self.pad_id = load_tokenizer(self.export_dir, self.max_length)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        if not busy_wait:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model_file = self.export_dir / self.manifest["models"][variant]
        try:
            self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ArtifactError(f"{model_file} cannot be loaded by onnxruntime: {err}") from err
        self.input_names = [i.name for i in self.session.get_inputs()]
        # char_ngram's character tokenizer in numpy: the same ids, a fraction of the time (pipeline/runtime/char_encoder.py)
        char_inputs = set(self.input_names) <= {"input_ids", "attention_mask"}
        self.char_encoder = CharEncoder.of(self.export_dir / "tokenizer.json", self.pad_id, self.max_length) if char_inputs else None
        classes = self.session.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(self.labels):
            raise ArtifactError(f"{model_file} outputs {classes} classes but the manifest lists {len(self.labels)} labels")

    def _encode(self, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], list[bool]]:
        if self.char_encoder is not None and not self.char_encoder.any_special(texts):
            return self.char_encoder(texts)
        # _fast: no character offsets, which nothing here reads and which cost tokenizing time
        encodings = self.tokenizer.encode_batch_fast(list(texts))
        truncated = [bool(e.overflowing) for e in encodings]  # what was cut at max_length comes back as overflow
        padded = self._pad({
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        })
        feed = {}
        for name in self.input_names:
            if name in padded:
                feed[name] = padded[name]
            elif name == "token_type_ids":
                feed[name] = np.zeros_like(padded["input_ids"], dtype=np.int64)
            else:
                raise ArtifactError(f"the ONNX graph wants an input {name!r} the tokenizer does not produce")
        return feed, truncated

    def _pad(self, encoded: dict[str, list[list[int]]]) -> dict[str, np.ndarray]:
        """Right-pad every row to the batch's longest one (dynamic padding)."""
        width = max(len(ids) for ids in encoded["input_ids"])
        pad_values = {"input_ids": self.pad_id}
        padded = {}
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            if key in encoded:
                array = np.full((len(encoded[key]), width), pad_values.get(key, 0), dtype=np.int64)
                for i, row in enumerate(encoded[key]):
                    array[i, : len(row)] = row
                padded[key] = array
        return padded

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> tuple[np.ndarray, list[bool]]:
        """Logits in input order; batches are formed from length-sorted texts so padding stays small."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        truncated = [False] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            feed, cut = self._encode([texts[i] for i in index])
            out[index] = self.session.run(None, feed)[0]
            for i, flag in zip(index, cut, strict=True):
                truncated[i] = flag
        return out, truncated

    def check_top_k(self, top_k: int) -> None:
        check_top_k(top_k, self.labels)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities: the scores every answer reports and the threshold applies to."""
        return softmax(logits / self.temperature)

    @property
    def unseen_scripts_unknown(self) -> bool:
        """Whether texts mostly in scripts training never saw are labelled UNKNOWN (on, and the export has scripts)."""
        return self.unseen_scripts is not None

    def in_unseen_scripts(self, texts: Sequence[str]) -> np.ndarray:
        """One boolean per text: True where the unseen-script rule labels it UNKNOWN (never when the rule is off)."""
        if self.unseen_scripts is None:
            return np.zeros(len(texts), dtype=bool)
        return self.unseen_scripts(texts)

    def rank(
        self, probs: np.ndarray, truncated: Sequence[bool], top_k: int = 1, *, texts: Sequence[str]
    ) -> list[Prediction]:
        """Predictions from the class probabilities of `texts`: the best label (UNKNOWN under the abstain threshold
        or for a text mostly in unseen scripts), its probability, and the top k. The texts are required so that
        no caller can skip the script rule by accident."""
        # argmax for one label; otherwise a stable sort, whose ties fall to the lower index as argmax's do
        ranked = probs.argmax(axis=-1)[:, None] if top_k == 1 else np.argsort(-probs, axis=-1, kind="stable")[:, :top_k]
        scores = np.take_along_axis(probs, ranked, axis=-1)
        answered = (scores[:, 0] >= (self.abstain_below or 0.0)) & ~self.in_unseen_scripts(texts)
        labels = self.labels
        # Lists of Python ints and floats, made by numpy in one step each rather than one conversion per number.
        # Positional arguments, and for one label no inner loop: building the Predictions was most of rank's
        # time per sentence (docs/benchmarks.md).
        if top_k == 1:
            return [
                Prediction(labels[i] if answer else UNKNOWN, score, [{"label": labels[i], "score": score}], bool(cut))
                for i, score, answer, cut in zip(
                    ranked[:, 0].tolist(), scores[:, 0].tolist(), answered.tolist(), truncated, strict=True
                )
            ]
        return [
            Prediction(labels[row[0]] if answer else UNKNOWN, values[0],
                       [{"label": labels[j], "score": v} for j, v in zip(row, values, strict=True)], bool(cut))
            for row, values, answer, cut in zip(ranked.tolist(), scores.tolist(), answered.tolist(), truncated, strict=True)
        ]

    def predict(self, texts: Sequence[str], top_k: int = 1, batch_size: int = 32) -> list[Prediction]:
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise TypeError(f"texts must be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
        self.check_top_k(top_k)
        if not texts:
            return []  # onnxruntime fails on an empty batch
        logits, truncated = self.logits(texts, batch_size)
        return self.rank(self.probabilities(logits), truncated, top_k, texts=texts)
