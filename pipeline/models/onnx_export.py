"""ONNX export of the models written here in plain PyTorch (the char n-gram model and the course models), checked
with onnxruntime against the PyTorch logits before anyone relies on it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import Tensor, nn
from transformers import PreTrainedModel

from pipeline.errors import ParityError

INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["logits"]
ATOL = 1e-4


class _LogitsOnly(nn.Module):
    """The exporter traces positional tensors to a tensor; the HF model takes keywords and returns a ModelOutput."""

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def right_padded_batch(
    vocab_size: int, pad_token_id: int, lengths: list[int], seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Random token ids of the given lengths, right-padded with pad_token_id to the longest, and their mask."""
    generator = torch.Generator().manual_seed(seed)
    seq = max(lengths)
    input_ids = torch.randint(0, vocab_size, (len(lengths), seq), generator=generator)
    attention_mask = (torch.arange(seq).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)).long()
    return input_ids.masked_fill(attention_mask == 0, pad_token_id), attention_mask


def export_onnx(model: PreTrainedModel, path: Path, opset: int = 18) -> None:
    """Write model (in eval mode) to path with dynamic batch and sequence axes, then check it with onnxruntime.

    Uses the TorchScript exporter (dynamo=False): the dynamo exporter needs onnxscript, which the
    pipeline does not install. The trace and the check use batches of different shapes, so a shape
    frozen into the graph by mistake fails the check instead of shipping. Raises ParityError when the
    logits differ by more than ATOL; the file is left in place for inspection.
    """
    config = model.config
    was_training = model.training
    model.eval()
    try:
        traced = tuple(
            t.to(model.device)
            for t in right_padded_batch(config.vocab_size, config.pad_token_id, _lengths(8, config.max_length)[:2])
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about shape checks inside torch's own modules (nn.GRU) and about the
            # constant head size, and the GRU exporter warns on every export that other batch sizes
            # might fail. Whether the trace generalises is what the parity check below decides, on a
            # batch of another size and length than the traced one.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
            torch.onnx.export(
                _LogitsOnly(model).eval(),  # the exporter restores the wrapper's mode, recursively, afterwards
                traced,
                str(path),
                input_names=INPUT_NAMES,
                output_names=OUTPUT_NAMES,
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "logits": {0: "batch"},
                },
                opset_version=opset,
                dynamo=False,
            )
        input_ids, attention_mask = right_padded_batch(
            config.vocab_size, config.pad_token_id, _lengths(12, config.max_length), seed=1
        )
        with torch.no_grad():
            expected = model(
                input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device)
            ).logits.cpu().numpy()
    finally:
        model.train(was_training)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(OUTPUT_NAMES, {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})
    difference = float(np.abs(actual - expected).max())
    if not difference <= ATOL:  # also catches NaN
        raise ParityError(
            f"ONNX export {path} disagrees with PyTorch: logits differ by up to {difference:.3g} "
            f"(allowed {ATOL}) on a right-padded batch of lengths {attention_mask.sum(-1).tolist()}"
        )


def _lengths(longest: int, max_length: int) -> list[int]:
    """A full row, a half-padded row and a one-token row, none longer than the model accepts."""
    top = min(longest, max_length)
    return [top, max(1, top // 2), 1]
