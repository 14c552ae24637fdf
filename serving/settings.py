"""Service settings, read from the environment so `bentoml serve` and a built Bento take them the same way.

The model itself comes only from the BentoML model store entry that `make bento-model` imports from the
export folder. These settings choose its variant (int8 or fp32), bound what a request may ask, and size
the batching and the worker processes. Each field is read from TEXTCLF_<NAME> (the model tag from
TEXTCLF_MODEL); a bad value fails at import, naming the variable.
"""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "TEXTCLF_"
FLAGS = {"": None, "auto": None, "1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True)

    model_tag: str = Field("textclf:latest", validation_alias=f"{PREFIX}MODEL", description="BentoML model tag to serve.")
    quantized: bool | None = Field(
        None, description="true: int8, false: fp32, auto (or unset): int8 when the export has it, else fp32."
    )
    max_items: int = Field(64, ge=1, description="Most texts in one request.")
    max_chars: int = Field(20_000, ge=1, description="Most characters in one text.")
    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1,
        description="16 MiB holds 64 texts of 20,000 characters even when a client's JSON encoder escapes every "
        "character as a \\uXXXX surrogate pair (12 bytes), and refuses anything bigger before parsing it.",
    )
    max_batch_size: int = Field(64, ge=1, description="Most texts that adaptive batching merges into one batch.")
    max_latency_ms: int = Field(2_000, ge=1, description="Longest wait in the batching queue before a 503.")
    inference_batch_size: int = Field(
        16,
        ge=1,
        description="A merged batch is length-sorted and cut into onnxruntime calls of this size, so short texts "
        "are not padded to the longest of 64.",
    )
    concurrent_batches: int = Field(2, ge=1, description="Batches that run at once.")
    workers: int = Field(1, ge=1, description="Worker processes, each with its own model copy and batching queue.")
    abstain_below: float | None = Field(
        None, ge=0, lt=1,
        description="Answer `unknown` under this calibrated top probability; unset takes the export's threshold, 0 never abstains.",
    )
    unseen_scripts_unknown: bool = Field(
        True,
        description="Answer `unknown` for a text with most of its letters in scripts no training language uses "
        "(language-ID exports, which list their scripts); false keeps the model's answer.",
    )

    @field_validator("quantized", mode="before")
    @classmethod
    def _flag(cls, raw: object) -> object:
        if not isinstance(raw, str):
            return raw
        if raw.strip().lower() not in FLAGS:
            raise ValueError("must be true, false or auto")
        return FLAGS[raw.strip().lower()]

    @classmethod
    def from_env(cls) -> ServeSettings:
        """The settings, or a ValueError whose one line names the environment variable and its bad value."""
        try:
            return cls()
        except ValidationError as err:
            raise ValueError("; ".join(_explain(error) for error in err.errors())) from None


def _explain(error: ErrorDetails) -> str:
    name = str(error["loc"][0])
    variable = name if name.startswith(PREFIX) else f"{PREFIX}{name.upper()}"
    if error["type"] == "int_parsing":
        wording = "must be an integer"
    elif error["type"] == "float_parsing":
        wording = "must be a number"
    elif error["type"] == "greater_than_equal":
        wording = f"must be at least {error['ctx']['ge']:g}"
    elif error["type"] == "less_than":
        wording = f"must be under {error['ctx']['lt']:g}"
    elif error["type"] == "bool_parsing":
        wording = "must be true or false"
    elif error["type"] == "value_error":
        wording = str(error["ctx"]["error"])
    else:
        wording = error["msg"].replace("Input should be", "must be", 1)
    return f"environment variable {variable} {wording}, got {error['input']!r}"


SETTINGS = ServeSettings.from_env()
