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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipeline.config.describe import BASE_HELP, _bounds, _item_section, _section, _type_name
from pipeline.config.sections import Config

MARKER = "<!-- config-reference -->"
ROOT = Path(__file__).resolve().parents[1]
# site path -> repository file
IMAGES = {
    "images/mlflow-ui-runs.png": "reports/mlflow-ui-runs.png",
    "images/mlflow-ui-charts.png": "reports/mlflow-ui-charts.png",
}


def sections(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """(dotted prefix, model) for the top level and every section under it, depth first; the items of a list
    of sections (data.extra_train) as `data.extra_train[]`."""
    yield prefix, model
    for name, info in model.model_fields.items():
        section = _section(info)
        if section is not None:
            yield from sections(section, f"{prefix}{name}.")
        item = _item_section(info)
        if item is not None:
            yield from sections(item, f"{prefix}{name}[].")


def render() -> str:
    """Every section as a heading, its help, and a table of its keys."""
    described = _section_help()
    parts = []
    for prefix, model in sections():
        title = f"`{prefix.rstrip('.')}`" if prefix else "Top level"
        parts.append(f"## {title} ({model.__name__})\n")
        if described.get(prefix):
            parts.append(_cell(described[prefix]) + "\n")
        rows = ["| key | type | default | description |", "|---|---|---|---|"]
        if not prefix:
            rows.append(f"| `base` | path | none | {_cell(BASE_HELP)} |")
        for name, info in model.model_fields.items():
            rows.append(_row(f"{prefix}{name}", info))
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def _section_help() -> dict[str, str]:
    """A section's help: the description of the field that holds it, else its model's docstring."""
    found: dict[str, str] = {}
    for prefix, model in sections():
        own = (model.__doc__ or "").strip()
        if prefix.endswith("[]."):  # an item of a list: its docstring says what one item is
            found[prefix] = own
        else:
            found[prefix] = _field_description(prefix.rstrip(".")) or own
    return found


def _field_description(dotted: str) -> str:
    model: type[BaseModel] = Config
    info: FieldInfo | None = None
    for part in dotted.split(".") if dotted else []:
        info = model.model_fields[part]
        model = _section(info) or _item_section(info) or model
    return (info.description or "") if info is not None else ""


def _row(key: str, info: FieldInfo) -> str:
    if _section(info) is not None:
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
