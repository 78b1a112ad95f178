"""docs/lucent.ipynb runs top to bottom (in a temporary folder, with the project's kernel)."""
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "lucent.ipynb"


def test_the_lucent_notebook_runs_top_to_bottom(tmp_path):
    notebook = nbformat.read(shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name), as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "P(giant panda) = " in text and "whole notebook: " in text
    assert (tmp_path / "panda.svg").is_file() and (tmp_path / "panda_transparent.png").is_file()
