"""The README stays a front door, the docs site's nav points at pages that exist, and the generated configuration
reference names every field of every config section. `make docs` (mkdocs build --strict) checks the links."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import yaml
from pydantic import BaseModel

from pipeline.config import sections as sections_module

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_pages(node) -> list[str]:
    """Every page path in mkdocs.yml's nav, however deeply nested."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


def _mkdocs_config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def _generator():
    spec = importlib.util.spec_from_file_location("config_reference", DOCS / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section_models() -> list[type[BaseModel]]:
    """Every pydantic model defined in pipeline/config/sections.py, except the shared base class."""
    return [
        obj
        for _, obj in inspect.getmembers(sections_module, inspect.isclass)
        if issubclass(obj, BaseModel)
        and obj.__module__ == sections_module.__name__
        and obj is not sections_module.Section
        and not obj.__name__.startswith("_")  # the kinds' shared bases: their keys are in each kind's table
    ]


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move the detail into docs/ (at most 150)"


def test_every_nav_page_exists():
    config = _mkdocs_config()
    pages = _nav_pages(config["nav"])
    assert pages, "mkdocs.yml has no nav"
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert not missing, f"pages in mkdocs.yml's nav that docs/ lacks: {missing}"
    # and the other way: a page outside the nav is unreachable (mkdocs --strict warns about it too)
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(on_disk - set(pages)) == []


def test_config_reference_names_every_field():
    generator = _generator()
    rendered = generator.render()
    blocks = {}  # model class name -> the keys of its table
    for block in rendered.split("\n## "):
        heading = re.search(r"\((\w+)\)", block.splitlines()[0].lstrip("# "))
        assert heading, f"a section heading without its model's name: {block.splitlines()[0]}"
        blocks[heading.group(1)] = re.findall(r"^\| `([^`]+)` \|", block, flags=re.MULTILINE)
    models = _section_models()
    assert {"Config", "DataConfig", "CharNgramModel", "PretrainedModel", "TrainConfig"} <= {m.__name__ for m in models}
    for model in models:
        assert model.__name__ in blocks, f"{model.__name__} has no table in the configuration reference"
        keys = blocks[model.__name__]
        for field in model.model_fields:
            assert any(key == field or key.endswith(f".{field}") for key in keys), (
                f"{model.__name__}.{field} is missing from the configuration reference"
            )
        assert all(re.fullmatch(r"[\w.\[\]]+", key) for key in keys), keys


def test_config_reference_hook_fills_its_page():
    generator = _generator()
    page = (DOCS / "configuration-reference.md").read_text(encoding="utf-8")
    assert generator.MARKER in page
    filled = generator.on_page_markdown(page)
    assert generator.MARKER not in filled and "| `data.source` |" in filled
