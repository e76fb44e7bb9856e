"""Every notebook in ``notebooks/`` runs top to bottom without error and draws its figures,
and the site shows them.

The notebooks are executed once, by the docs build (``site`` in ``tests/test_docs.py``, with a
fresh jupyter-cache): the tests here read the executed notebooks from that cache and check the
rendered pages. Without the docs extra they execute each notebook themselves with nbclient.
"""

import base64
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
from test_docs import site, site_group  # noqa: F401  (the shared build, its xdist group)

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TIMEOUT = 300  # seconds per cell
_TORCH_IMPORT = re.compile(r"^\s*(import|from)\s+(torch|sparsestat\.torch)\b", re.MULTILINE)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def _execute_with_nbclient(nb, monkeypatch, tmp_path):
    """Run the notebook here (no docs build to take it from); figures drawn inline."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = nbclient.NotebookClient(
        nb, km=_kernel_manager(tmp_path), timeout=TIMEOUT, kernel_name="python3",
        allow_errors=True, resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    # the client does not own the kernel manager it is given: shut the kernel down here, or
    # every notebook's kernel (torch, numba and all) stays alive until pytest exits
    client.execute(cleanup_kc=True)
    return nb


def _from_the_build(site, nb, name):
    """The notebook as the docs build executed it, from the build's jupyter-cache."""
    from jupyter_cache import get_cache

    cache = get_cache(str(site.notebook_cache))
    try:
        record = cache.match_cache_notebook(nb)
    except KeyError:
        uri = str(Path("docs") / "_generated" / "notebooks" / name)
        tracebacks = [r.traceback for r in cache.list_project_records() if r.uri.endswith(uri)]
        pytest.fail(f"the docs build has no executed {name}: "
                    f"{tracebacks[0] if tracebacks and tracebacks[0] else site.log[-3000:]}")
    return cache.get_cache_bundle(record.pk).nb


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def _figures(nb) -> list[bytes]:
    return [base64.b64decode(out["data"]["image/png"]) for out in _outputs(nb)
            if "image/png" in out.get("data", {})]


@site_group
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, site, monkeypatch, tmp_path):  # noqa: F811
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    if _needs_torch(nb) and importlib.util.find_spec("torch") is None:
        pytest.skip(f"{path.name} needs torch, which is not installed")
    if site is None:
        executed = _execute_with_nbclient(nb, monkeypatch, tmp_path)
    else:
        executed = _from_the_build(site, nb, path.name)
    errors = [out for out in _outputs(executed) if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
    # every code cell ran, and the notebook drew its figures
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code_cells if cell.source.strip())
    figures = _figures(executed)
    assert figures, f"{path.name} shows no figure (a plot drawn without inline display?)"
    assert all(png.startswith(_PNG_SIGNATURE) for png in figures)
    if site is not None:
        # its page shows every figure, from an image file of the site
        html = (site.html / "_generated" / "notebooks" / f"{path.stem}.html").read_text()
        images = re.findall(r'<img[^>]*src="([^"]+)"', html)
        assert len(images) == len(figures), (path.name, images)
        page_dir = site.html / "_generated" / "notebooks"
        assert all((page_dir / src).resolve().is_file() for src in images), images


@site_group
def test_gallery_shows_every_figure_and_links_its_notebook(site):  # noqa: F811
    if site is None:
        pytest.skip('the docs extra is not installed: pip install -e ".[docs]"')
    from jupyter_cache import get_cache

    cache = get_cache(str(site.notebook_cache))
    executed = {Path(r.uri).name: cache.get_cache_bundle(r.pk).nb
                for r in cache.list_cache_records()}
    assert executed, "the build executed no notebook"
    html = (site.html / "gallery.html").read_text(encoding="utf-8")
    thumbs = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(?:<span[^>]*>)?<img[^>]*src="([^"]+)"',
                        html)
    expected = sum(len(_figures(nb)) for nb in executed.values())
    assert len(thumbs) == expected
    for name, nb in executed.items():
        page = f"_generated/notebooks/{Path(name).stem}.html"
        linked = [src for href, src in thumbs if href == page]
        assert len(linked) == len(_figures(nb)), name
        # the thumbnails are the notebook's own figures, in order
        assert [(site.html / src).read_bytes() for src in linked] == _figures(nb), name


def test_notebooks_are_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, (
                    f"{path.name} has stored outputs; clear them before committing "
                    "(jupyter nbconvert --clear-output --inplace)")
