"""The course notebooks (weeks 3-4) run headless and offline from top to bottom, on the project's own modules.

Executing them takes minutes, so that part carries the `notebooks` marker and `.ci/run` runs it after the slow
checks; the cheap checks (committed without outputs, exercises at the end, listed in the README) run in `make test`.
"""

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
COURSE = [
    "01_neural_networks",
    "02_cnns_basics",
    "03_rnns_sequences",
    "04_transformer_architecture",
    "05_attention_mechanism",
    "06_embeddings_tokenization",
    "07_huggingface_intro",
]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def test_only_course_notebooks_are_numbered():
    assert [p.stem for p in NOTEBOOKS] == [name for name in COURSE if (ROOT / "notebooks" / f"{name}.ipynb").exists()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_ends_with_exercises(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    assert notebook.cells[0].cell_type == "markdown", "a notebook starts with what it teaches"
    assert notebook.cells[-1].cell_type == "markdown" and "Exercises" in notebook.cells[-1].source
    # Every notebook checks a hand-written piece against PyTorch or Hugging Face.
    assert any("assert" in cell.source for cell in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_listed_in_readme(path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Course notebooks", 1)[1].split("\n## ", 1)[0]
    assert f"notebooks/{path.name}" in section


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_headless(path, tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_ROOT", str(tmp_path))
    # Earlier tests' mlflow.set_tracking_uri() exported their store to os.environ; the kernel must not inherit it.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    # The README gives these times; printed with -s (make test-notebooks), never asserted.
    print(f"\n{path.stem}: {time.perf_counter() - start:.0f} s")
    assert not list(path.parent.glob("mlruns")), "a notebook wrote into the repository"
