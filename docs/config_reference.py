"""The configuration reference, generated from the pydantic models in pipeline/config/sections.py.

mkdocs runs this file as a hook (mkdocs.yml, `hooks:`). On the page that holds MARKER it puts one table per
section (key, type, default, description), read from the models' fields, so the reference cannot drift from
what load_config accepts; `pipeline config --describe` prints the same fields. `render()` is the whole
reference as Markdown; tests/test_docs.py checks that it names every field of every section model.

The hook also adds the MLflow UI screenshots under reports/ to the site (IMAGES), so the tracking page shows
them without a copy in docs/.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipeline.config.describe import (
    BASE_HELP,
    _bounds,
    _item_section,
    _section,
    _type_name,
    holds_sections,
    model_kind,
    sections,
)
from pipeline.config.errors import union_members
from pipeline.config.sections import Config

MARKER = "<!-- config-reference -->"
ROOT = Path(__file__).resolve().parents[1]
# site path -> repository file
IMAGES = {
    "images/mlflow-ui-runs.png": "reports/mlflow-ui-runs.png",
    "images/mlflow-ui-charts.png": "reports/mlflow-ui-charts.png",
}


def render() -> str:
    """Every section as a heading, its help, and a table of its keys."""
    parts = []
    for prefix, model in sections():
        title = f"`{prefix.rstrip('.')}`" if prefix else "Top level"
        if model_kind(model) is not None:
            title += f" with `kind: {model_kind(model)}`"
        parts.append(f"## {title} ({model.__name__})\n")
        described = _section_help(prefix, model)
        if described:
            parts.append(_cell(described) + "\n")
        rows = ["| key | type | default | description |", "|---|---|---|---|"]
        if not prefix:
            rows.append(f"| `base` | path | none | {_cell(BASE_HELP)} |")
        for name, info in model.model_fields.items():
            rows.append(_row(f"{prefix}{name}", info))
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def _section_help(prefix: str, model: type[BaseModel]) -> str:
    """A section's help: for a list's item or one kind of model its docstring, else the description of the field
    that holds it (else the docstring)."""
    own = " ".join((model.__doc__ or "").split())
    if prefix.endswith("[].") or model_kind(model) is not None:
        return own
    return _field_description(prefix.rstrip(".")) or own


def _field_description(dotted: str) -> str:
    models: list[type[BaseModel]] = [Config]
    info: FieldInfo | None = None
    for part in dotted.split(".") if dotted else []:
        info = next(m.model_fields[part] for m in models if part in m.model_fields)
        inner = _section(info) or _item_section(info)
        models = [inner] if inner else list(union_members(info.annotation).values()) or models
    return (info.description or "") if info is not None else ""


def _row(key: str, info: FieldInfo) -> str:
    if holds_sections(info):
        kind, default = "section", "see below"
    else:
        kind = _types(info.annotation) + html.escape(_bounds(info))
        default = "required" if info.is_required() else f"`{json.dumps(_plain(info.get_default(call_default_factory=True)))}`"
    return f"| `{key}` | {kind} | {default} | {_cell(info.description or '')} |"


def _types(annotation: Any) -> str:
    """`eld` \\| `files`: each alternative in its own code span, the pipes escaped for the table."""
    return " \\| ".join(f"`{part}`" for part in _type_name(annotation).split(" | "))


def _plain(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


def _cell(text: str) -> str:
    """Text for a table cell: HTML and pipes escaped outside code spans, code spans kept."""
    pieces = text.split("`")
    for i in range(0, len(pieces), 2):  # the even pieces are outside code spans
        pieces[i] = html.escape(pieces[i], quote=False).replace("|", "\\|")
    return "`".join(pieces).replace("\n", " ")


# mkdocs hooks


def on_page_markdown(markdown: str, **_: Any) -> str:
    return markdown.replace(MARKER, render()) if MARKER in markdown else markdown


def on_files(files: Any, config: Any, **_: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, source in IMAGES.items():
        files.append(File.generated(config, uri, abs_src_path=str(ROOT / source)))
    return files
