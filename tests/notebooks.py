"""Running the collector's notebooks (collect/notebook.py) headless, as a student would."""

import nbformat
from nbclient import NotebookClient


def run_notebook(path) -> nbformat.NotebookNode:
    """The notebook at path, run in its directory by a fresh Python kernel (nbclient); an
    error in any cell fails (nbclient's CellExecutionError)."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    return notebook


def outputs(notebook, kind: str) -> list[str]:
    """The code cells' outputs of one MIME type (image/png, text/plain), in order."""
    return [
        output["data"][kind] for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs if kind in output.get("data", {})
    ]  # fmt: skip
