"""ConfigError, and pydantic's validation errors worded for someone editing a YAML file: the dotted key first."""

from __future__ import annotations

import typing
from collections.abc import Callable

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pipeline.errors import PipelineError


class ConfigError(PipelineError, ValueError):
    """A configuration value is unknown, of the wrong type or impossible."""


# Where pydantic's "Input should be a valid boolean" says less than the YAML spelling; any other error
# keeps pydantic's wording, "Input should be" read as "must be".
_WORDING = {
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "model_type": "must be a mapping of keys",
}


def dotted(loc: tuple[int | str, ...]) -> str:
    """('data', 'languages', 0) -> data.languages[0], the spelling of an override."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def section_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The section model that a location inside `model` points into; an int is an item of a list of sections."""
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        model = typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation
    return model


def explain(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One error as `<dotted key> must be ...; got <value>`; an unknown key lists the keys known beside it."""
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):
        return str(cause)  # a cross-field rule, whose message names its keys
    key = dotted(error["loc"])
    if error["type"] == "extra_forbidden":
        known = section_at(model, error["loc"][:-1]).model_fields
        return f"unknown key {key}; known keys here: {', '.join(sorted(known))}"
    if error["type"] == "literal_error":
        wording = f"must be one of {error['ctx']['expected']}"
    else:
        wording = _WORDING.get(error["type"]) or error["msg"].replace("Input should be", "must be", 1)
    return f"{key} {wording}; got {error['input']!r}"


def one_line(err: ValidationError, model: type[BaseModel], place: Callable[[ErrorDetails], str]) -> str:
    """The first error in full, prefixed with where it came from, then the keys of any others.

    The CLI prints a PipelineError as one line; the first error is the one to fix, the rest are named so
    that a second run holds no surprise.
    """
    first, *rest = err.errors()
    line = f"{place(first)}: {explain(first, model)}"
    if rest:
        line += f" (and {len(rest)} more: {', '.join(dotted(e['loc']) or 'config' for e in rest)})"
    return line

