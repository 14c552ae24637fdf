"""The homework notebook runs headless from top to bottom, and is committed without outputs."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "homework_pipeline.ipynb"


def test_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_ROOT", str(tmp_path))
    # Earlier tests' mlflow.set_tracking_uri() exported their store to os.environ; the kernel must not inherit it.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for c in notebook.cells for o in c.get("outputs", []))
    assert "accuracy" in outputs and "agreement" in outputs
    assert (tmp_path / "artifacts" / "notebook" / "export" / "manifest.json").is_file()
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and not (NOTEBOOK.parent / "mlruns").exists()
