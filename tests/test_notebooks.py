"""Every notebook in ``notebooks/`` runs top to bottom without error."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TIMEOUT = 300  # seconds per notebook
_TORCH_IMPORT = re.compile(r"^\s*(import|from)\s+(torch|sparsestat\.torch)\b", re.MULTILINE)


def _needs_torch(nb) -> bool:
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    return _TORCH_IMPORT.search(code) is not None


def _kernel_manager(tmp_path):
    """A ``python3`` kernel that runs this very interpreter (the project's .venv)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    if _needs_torch(nb) and importlib.util.find_spec("torch") is None:
        pytest.skip(f"{path.name} needs torch, which is not installed")
    # the kernel inherits this process's environment: no windows, same interpreter
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = nbclient.NotebookClient(
        nb, km=_kernel_manager(tmp_path), timeout=TIMEOUT, kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    # the client does not own the kernel manager it is given: shut the kernel down here, or
    # every notebook's kernel (torch, numba and all) stays alive until pytest exits
    client.execute(cleanup_kc=True)
    errors = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"


def test_notebooks_are_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, (
                    f"{path.name} has stored outputs; clear them before committing "
                    "(jupyter nbconvert --clear-output --inplace)")
