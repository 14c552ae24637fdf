"""Service settings, read from the environment so `bentoml serve` and a built Bento take them the same way.

The model itself comes only from the BentoML model store entry that `make bento-model` imports from the
export folder. These settings choose its variant (int8 or fp32), bound what a request may ask, size
the batching and the worker processes, and hold the API keys. Each field is read from TEXTCLF_<NAME> (the
model tag from TEXTCLF_MODEL, the keys of a file from TEXTCLF_API_KEY_FILE); a bad value fails at import,
naming the variable, and never showing a key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.runtime.cores import usable_cores

PREFIX = "TEXTCLF_"
FLAGS = {"": None, "auto": None, "1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
# What a client can send after `Bearer ` in one header token: printable ASCII, no spaces.
KEY = re.compile(r"[\x21-\x7e]+")
# Variables whose value must never appear in a message.
SECRET_VARIABLES = {f"{PREFIX}API_KEY"}


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
    workers: int = Field(
        default_factory=usable_cores,
        ge=1,
        description="Worker processes, each with its own model copy, batching queue and share of the cores; default "
        "one per core this process may run on. A second event loop mattered more than bigger batches for this "
        "small model (docs/scaling-out.md). In a container limited by a CPU quota "
        "rather than by cores, set it to the quota.",
    )
    abstain_below: float | None = Field(
        None, ge=0, lt=1,
        description="Answer `unknown` under this calibrated top probability; unset takes the export's threshold, 0 never abstains.",
    )
    unseen_scripts_unknown: bool = Field(
        True,
        description="Answer `unknown` for a text with most of its letters in scripts no training language uses "
        "(language-ID exports, which list their scripts); false keeps the model's answer.",
    )
    api_key: SecretStr | None = Field(
        None,
        description="The key every route but the probes and /metrics asks for, as `Authorization: Bearer <key>`; "
        "with neither this nor a key file, no key is needed.",
    )
    file_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (),
        validation_alias=f"{PREFIX}API_KEY_FILE",
        description="The keys of TEXTCLF_API_KEY_FILE, a file of keys, one a line (blank lines and # comments "
        "skipped), read once at start; each is accepted, so old and new keys both work while rotating.",
    )

    @field_validator("quantized", mode="before")
    @classmethod
    def _flag(cls, raw: object) -> object:
        if not isinstance(raw, str):
            return raw
        if raw.strip().lower() not in FLAGS:
            raise ValueError("must be true, false or auto")
        return FLAGS[raw.strip().lower()]

    @field_validator("api_key", mode="before")
    @classmethod
    def _one_key(cls, raw: object) -> object:
        """Surrounding whitespace goes (a secret mounted from a file often ends in a newline); a set but empty
        variable is refused, since serving without a key by mistake is worse than not starting."""
        if not isinstance(raw, str):
            return raw
        key = raw.strip()
        if not key:
            raise ValueError("is empty: unset it to serve without a key")
        if not KEY.fullmatch(key):
            raise ValueError("must be printable ASCII without spaces")
        return key

    @field_validator("file_keys", mode="before")
    @classmethod
    def _read_key_file(cls, raw: object) -> object:
        """Read once here, so a missing, unreadable or empty file stops the server at start, naming the file."""
        if not isinstance(raw, str):
            return raw
        if not raw.strip():
            raise ValueError("must name a file of API keys")
        try:
            text = Path(raw).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError("names a file that does not exist") from None
        except UnicodeDecodeError:
            raise ValueError("names a file that is not UTF-8 text") from None
        except OSError as err:
            raise ValueError(f"names a file that cannot be read ({err.strerror})") from None
        keys = []
        for number, line in enumerate(text.splitlines(), start=1):
            key = line.strip()
            if not key or key.startswith("#"):
                continue
            if not KEY.fullmatch(key):
                raise ValueError(f"names a file whose line {number} is not a key (printable ASCII without spaces)")
            keys.append(key)
        if not keys:
            raise ValueError("names a file with no key in it (only blank lines and # comments)")
        return tuple(keys)

    @property
    def api_keys(self) -> tuple[str, ...]:
        """Every key the server accepts: TEXTCLF_API_KEY and those of TEXTCLF_API_KEY_FILE; none, no key needed."""
        keys = (self.api_key, *self.file_keys) if self.api_key is not None else self.file_keys
        return tuple(key.get_secret_value() for key in keys)

    @classmethod
    def from_env(cls) -> ServeSettings:
        """The settings, or a ValueError whose one line names the environment variable and its bad value (not
        the value of TEXTCLF_API_KEY)."""
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
    if variable in SECRET_VARIABLES:
        return f"environment variable {variable} {wording}"
    return f"environment variable {variable} {wording}, got {error['input']!r}"


SETTINGS = ServeSettings.from_env()
