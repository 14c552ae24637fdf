"""The package's layers: arrows go one way, the runtime that serving ships never imports torch, and the tools
(benchmarks, load tests, servers for tests) stay out of the product: `pipeline` never imports them or `serving`,
and neither the wheel nor the Bento carries them."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"
RUNTIME_MODULES = sorted(f"pipeline.runtime.{p.stem}" for p in (PACKAGE / "runtime").glob("*.py") if p.stem != "__init__")
# `pipeline predict` on a corpus: the runtime's Predictor in worker processes or Ray actors, no torch either
CORPUS_MODULES = sorted(f"pipeline.corpus.{p.stem}" for p in (PACKAGE / "corpus").glob("*.py") if p.stem != "__init__")
# For each layer, the pipeline modules it must never import (a prefix matches the whole subpackage).
FORBIDDEN = {
    "runtime": ("pipeline.stages", "pipeline.data", "pipeline.models", "pipeline.config", "pipeline.metrics"),
    "corpus": ("pipeline.stages", "pipeline.data", "pipeline.models", "pipeline.config", "pipeline.metrics"),
    "data": ("pipeline.stages",),
    "models": ("pipeline.stages",),
    "metrics": ("pipeline.stages",),
}
# What no module of the product package imports: the service sits on top of it, and the tools on top of both.
OUTSIDE = ("serving", "tools")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_runtime_modules_are_found():
    assert {"pipeline.runtime.predictor", "pipeline.runtime.pyfunc"} <= set(RUNTIME_MODULES)
    assert {"pipeline.corpus.formats", "pipeline.corpus.parallel", "pipeline.corpus.ray_job"} <= set(CORPUS_MODULES)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_import_against_the_arrows(layer):
    offending = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert not offending, "\n".join(offending)


def test_the_package_never_imports_the_service_or_the_tools():
    offending = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in OUTSIDE)
    ]
    assert not offending, "\n".join(offending)


def test_neither_the_wheel_nor_the_bento_carries_the_tools():
    import tomllib

    import yaml
    from setuptools import find_packages

    root = PACKAGE.parent
    found = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(root, include=found["include"])
    assert "pipeline" in packages and "serving" in packages
    assert not [p for p in packages if p.split(".")[0] in ("tools", "tests", "docs")]
    bento = yaml.safe_load((root / "bentofile.yaml").read_text())
    assert not [pattern for pattern in bento["include"] if pattern.startswith(("tools", "pipeline/*", "pipeline/**"))]


def test_runtime_imports_without_torch():
    """Importing every runtime and corpus module (and the service's settings) in a fresh interpreter loads no torch
    (and the corpus modules no ray: it is imported when a run asks for it, after its settings are in the environment)."""
    code = (
        "import importlib, sys\n"
        f"for name in {RUNTIME_MODULES + CORPUS_MODULES + ['serving.settings', 'serving.body_limit', 'serving.request_log']!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = sorted(m for m in ('torch', 'ray', 'pipeline.config', 'pipeline.stages', 'pipeline.models') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip() == "", f"the runtime pulled in: {result.stdout.strip()}"
