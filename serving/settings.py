"""Service settings, read from the environment so `bentoml serve` and a built Bento take them the same way.

The model itself comes only from the BentoML model store entry that `make bento-model` imports from the
export folder. These settings choose its variant (int8 or fp32), bound what a request may ask, and size
the batching and the worker processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from err
    if value < 1:
        raise ValueError(f"environment variable {name} must be at least 1, got {value}")
    return value


def _flag(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip().lower() in ("", "auto"):
        return None
    if raw.strip().lower() in ("1", "true", "yes"):
        return True
    if raw.strip().lower() in ("0", "false", "no"):
        return False
    raise ValueError(f"environment variable {name} must be true, false or auto, got {raw!r}")


@dataclass(frozen=True)
class ServeSettings:
    model_tag: str
    quantized: bool | None  # None: int8 when the export has it, else fp32
    max_items: int
    max_chars: int
    max_body_bytes: int
    max_batch_size: int
    max_latency_ms: int
    inference_batch_size: int
    concurrent_batches: int
    workers: int

    @classmethod
    def from_env(cls) -> ServeSettings:
        return cls(
            model_tag=os.environ.get("TEXTCLF_MODEL", "textclf:latest"),
            quantized=_flag("TEXTCLF_QUANTIZED"),
            max_items=_int("TEXTCLF_MAX_ITEMS", 64),
            max_chars=_int("TEXTCLF_MAX_CHARS", 20_000),
            # 16 MiB holds 64 texts of 20,000 characters even when a client's JSON encoder escapes every
            # character as a \uXXXX surrogate pair (12 bytes), and refuses anything bigger before parsing it.
            max_body_bytes=_int("TEXTCLF_MAX_BODY_BYTES", 16 * 1024 * 1024),
            max_batch_size=_int("TEXTCLF_MAX_BATCH_SIZE", 64),
            max_latency_ms=_int("TEXTCLF_MAX_LATENCY_MS", 2_000),
            # A merged batch is length-sorted and cut into onnxruntime calls of this size, so short texts
            # are not padded to the longest of 64.
            inference_batch_size=_int("TEXTCLF_INFERENCE_BATCH_SIZE", 16),
            concurrent_batches=_int("TEXTCLF_CONCURRENT_BATCHES", 2),
            # Worker processes, each with its own model copy and its own batching queue.
            workers=_int("TEXTCLF_WORKERS", 1),
        )


SETTINGS = ServeSettings.from_env()
