"""ConfigError, and pydantic's validation errors worded for someone editing a YAML file: the dotted key first."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

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


def union_members(annotation: Any) -> dict[str, type[BaseModel]]:
    """The sections of a union chosen by `kind` (the model section), by their tag; empty for any other type."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return {}
    members = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return {m.model_fields["kind"].default: m for m in members if "kind" in m.model_fields}


def untag(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], type[BaseModel]]:
    """`loc` without the tags pydantic puts in it after a union chosen by `kind` (('model', 'char_ngram',
    'hidden_size') is the key model.hidden_size), and the section model its last key is in."""
    out: list[int | str] = []
    parts = list(loc)
    section = model
    while parts:
        part = parts.pop(0)
        out.append(part)
        info = None if isinstance(part, int) else section.model_fields.get(str(part))
        if info is None:
            continue
        annotation = info.annotation
        members = union_members(annotation)
        if members and parts and parts[0] in members:
            section = members[str(parts.pop(0))]
        elif typing.get_origin(annotation) is list and _is_section(typing.get_args(annotation)[0]):
            section = typing.get_args(annotation)[0]
        elif _is_section(annotation):
            section = annotation
    return tuple(out), section


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def explain(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One error as `<dotted key> must be ...; got <value>`; an unknown key lists the keys known beside it."""
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):
        return str(cause)  # a cross-field rule, whose message names its keys
    loc, _ = untag(model, error["loc"])
    key = dotted(loc)
    if error["type"] == "extra_forbidden":
        section = untag(model, error["loc"][:-1])[1]
        known = ", ".join(sorted(section.model_fields))
        kind = section.model_fields["kind"].default if "kind" in section.model_fields else None
        if kind is None:
            return f"unknown key {key}; known keys here: {known}"
        others = [tag for tag, member in union_members(_annotation_at(model, loc[:-1])).items() if loc[-1] in member.model_fields]
        elsewhere = f" ({loc[-1]} is a key of model.kind={' and '.join(others)})" if others else ""
        return f"unknown key {key} for {dotted(loc[:-1])}.kind={kind}{elsewhere}; known keys here: {known}"
    if error["type"] == "union_tag_invalid":
        return f"{key}.kind must be one of {error['ctx']['expected_tags']}; got {error['ctx']['tag']!r}"
    if error["type"] == "literal_error":
        wording = f"must be one of {error['ctx']['expected']}"
    else:
        wording = _WORDING.get(error["type"]) or error["msg"].replace("Input should be", "must be", 1)
    return f"{key} {wording}; got {error['input']!r}"


def _annotation_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    """The declared type of the field at an untagged `loc` (the union itself for the model section)."""
    section = untag(model, loc[:-1])[1]
    return section.model_fields[str(loc[-1])].annotation


def one_line(err: ValidationError, model: type[BaseModel], place: Callable[[ErrorDetails], str]) -> str:
    """The first error in full, prefixed with where it came from, then the keys of any others.

    The CLI prints a PipelineError as one line; the first error is the one to fix, the rest are named so
    that a second run holds no surprise.
    """
    first, *rest = err.errors()
    line = f"{place({**first, 'loc': untag(model, first['loc'])[0]})}: {explain(first, model)}"
    if rest:
        line += f" (and {len(rest)} more: {', '.join(dotted(untag(model, e['loc'])[0]) or 'config' for e in rest)})"
    return line

