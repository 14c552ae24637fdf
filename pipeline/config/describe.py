"""`pipeline config --describe`: every key a config file or an override can set, read from the models, so
the help cannot drift from what load_config accepts."""

from __future__ import annotations

import json
import textwrap
import types
import typing
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipeline.config.errors import union_members
from pipeline.config.sections import MODEL_KINDS, Config

BASE_HELP = (
    "Another YAML file that this one builds on, relative to this file (chains allowed). This file's keys "
    "replace the base's, key by key; a list replaces the whole list. Several --config files merge the same "
    "way, left to right."
)
BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def describe() -> str:
    """`key: type (bounds) = default`, then the help indented, for `base` and every dotted key of Config; the
    model section once per kind, under a line naming the kind."""
    lines = ["# Keys of a config file, also settable as section.key=value: type (bounds) = default, then help."]
    lines += _entry("base", "path", "", BASE_HELP)
    for prefix, model in sections():
        kind = model_kind(model)
        if kind is not None:
            lines += ["", f"# {prefix}* when {prefix}kind={kind}: {' '.join((model.__doc__ or '').split())}"]
        for name, info in model.model_fields.items():
            key = f"{prefix}{name}"
            if holds_sections(info):
                lines += ["", *_entry(key, "section", "", info.description or "")]
            else:
                default = " (required)" if info.is_required() else f" = {json.dumps(info.get_default(call_default_factory=True))}"
                lines += _entry(key, _type_name(info.annotation) + _bounds(info), default, info.description or "")
    return "\n".join(lines) + "\n"


def sections(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """(dotted prefix, model) for the top level and every section under it, depth first: each kind of the model
    section (all with the prefix `model.`), and the items of a list of sections (data.extra_train) as
    `data.extra_train[].`. A section that several kinds share (model.tokenizer) comes once, after the first. The
    docs' configuration reference (docs/config_reference.py) renders these too."""
    seen: set[tuple[str, type[BaseModel]]] = set()
    for found in _walk(model, prefix):
        if found not in seen:
            seen.add(found)
            yield found


def _walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, type[BaseModel]]]:
    yield prefix, model
    for name, info in model.model_fields.items():
        section = _section(info)
        if section is not None:
            yield from _walk(section, f"{prefix}{name}.")
        for member in union_members(info.annotation).values():
            yield from _walk(member, f"{prefix}{name}.")
        item = _item_section(info)
        if item is not None:
            yield from _walk(item, f"{prefix}{name}[].")


def model_kind(model: type[BaseModel]) -> str | None:
    """The `kind` a member of the model union stands for; None for any other section."""
    return next((kind for kind, member in MODEL_KINDS.items() if member is model), None)


def holds_sections(info: FieldInfo) -> bool:
    """Whether the field is a section (or one of several, chosen by kind) rather than a value."""
    return _section(info) is not None or bool(union_members(info.annotation))


def _section(info: FieldInfo) -> type[BaseModel] | None:
    kind = info.annotation
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _item_section(info: FieldInfo) -> type[BaseModel] | None:
    """The section each item of a `list[Section]` field is, e.g. data.extra_train."""
    args = typing.get_args(info.annotation) if typing.get_origin(info.annotation) is list else ()
    return args[0] if args and isinstance(args[0], type) and issubclass(args[0], BaseModel) else None


def _entry(key: str, kind: str, default: str, help_text: str) -> list[str]:
    return [f"{key}: {kind}{default}", textwrap.fill(help_text, width=110, initial_indent="    ", subsequent_indent="    ")]


def _type_name(annotation: Any) -> str:
    """In YAML's words: `eld | files`, `str | null`, `list[str]`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " | ".join(map(str, args))
    if origin in (typing.Union, types.UnionType):
        return " | ".join("null" if arg is type(None) else _type_name(arg) for arg in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return annotation.__name__


def _bounds(info: FieldInfo) -> str:
    found = [f"{sign} {getattr(rule, name)}" for rule in info.metadata for name, sign in BOUNDS if hasattr(rule, name)]
    return f" ({', '.join(found)})" if found else ""
