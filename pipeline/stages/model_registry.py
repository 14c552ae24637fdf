"""Logging the export folder to MLflow as a pyfunc model and registering it.

The logged model carries the runtime's code only (pipeline/runtime, pipeline/errors.py and the package's
__init__), the same slice the Bento ships, so loading it needs neither torch nor the training code.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import mlflow
import numpy
import onnxruntime
import pandas as pd
import tokenizers

import pipeline
from pipeline.runtime.pyfunc import ExportedClassifier

PACKAGE = Path(pipeline.__file__).parent
RUNTIME_FILES = ("__init__.py", "compat.py", "errors.py", "runtime")


def log_and_register(export_dir: Path, registered_name: str) -> str:
    """Log the export folder as a pyfunc model in the active run; register it when a name is given."""
    requirements = [f"{m.__name__}=={m.__version__}" for m in (onnxruntime, tokenizers, numpy, pd)]
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "pipeline"
        code.mkdir()
        for name in RUNTIME_FILES:
            source = PACKAGE / name
            if source.is_dir():
                shutil.copytree(source, code / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, code / name)
        info = mlflow.pyfunc.log_model(
            name="classifier",
            python_model=ExportedClassifier(),
            artifacts={"export": str(export_dir)},
            code_paths=[str(code)],
            pip_requirements=requirements,
            registered_model_name=registered_name or None,
        )
    return info.model_uri
