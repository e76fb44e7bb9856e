"""The documentation: every public name is in the API reference with a runnable example,
the getting-started examples give the printed results, and the Sphinx site builds without
a single warning (the docstring examples themselves run as doctests: ``--doctest-modules``).
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# module -> does it need an optional dependency
PUBLIC_MODULES = {
    "sparsestat": None,
    "sparsestat.datasets": None,
    "sparsestat.plotting": "matplotlib",
    "sparsestat.torch": "torch",
    "sparsestat.torch.prune": "torch",
}


def _public_objects(module_name: str) -> dict[str, object]:
    """Public classes and functions of a module: its ``__all__``, or what it defines."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items() if not n.startswith("_")
                 and getattr(obj, "__module__", None) == module_name]
    out = {}
    for name in names:
        obj = getattr(module, name)  # a name that does not resolve is an error here
        if inspect.isclass(obj) or inspect.isfunction(obj):
            out[name] = obj
    return out


def _available(module_name: str) -> bool:
    extra = PUBLIC_MODULES[module_name]
    return extra is None or importlib.util.find_spec(extra) is not None


def _api_entries() -> dict[str, set[str]]:
    """``{module: names}`` listed by the autosummary directives of docs/api.rst."""
    entries: dict[str, set[str]] = {}
    module = None
    in_summary = False
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\.\. currentmodule:: (\S+)", line)
        if m:
            module = m.group(1)
            continue
        if line.startswith(".. autosummary::"):
            in_summary = True
            continue
        if in_summary:
            if not line.strip() or line.strip().startswith(":"):
                continue
            if line.startswith("   "):
                entries.setdefault(module, set()).add(line.strip())
                continue
            in_summary = False
    return entries


@pytest.mark.parametrize("module_name", list(PUBLIC_MODULES))
def test_api_reference_lists_every_public_name(module_name):
    if not _available(module_name):
        pytest.skip(f"{module_name} needs {PUBLIC_MODULES[module_name]}")
    public = set(_public_objects(module_name))
    listed = _api_entries().get(module_name, set())
    assert public - listed == set(), (
        f"public names of {module_name} missing from docs/api.rst: {sorted(public - listed)}")
    assert listed - public == set(), (
        f"docs/api.rst lists names that {module_name} does not export: {sorted(listed - public)}")


def _examples_section(doc: str) -> str:
    m = re.search(r"^Examples\n-{8}\n(.*?)(?=^\S.*\n-{3,}\n|\Z)", inspect.cleandoc(doc),
                  re.S | re.M)
    return m.group(1) if m else ""


@pytest.mark.parametrize("module_name", list(PUBLIC_MODULES))
def test_every_public_object_has_a_runnable_example(module_name):
    if not _available(module_name):
        pytest.skip(f"{module_name} needs {PUBLIC_MODULES[module_name]}")
    missing = []
    for name, obj in _public_objects(module_name).items():
        examples = _examples_section(obj.__doc__ or "")
        parsed = doctest.DocTestParser().get_examples(examples)
        if not parsed:
            missing.append(name)
    assert not missing, (
        f"{module_name}: no numpydoc 'Examples' section with '>>>' lines in the docstring of "
        f"{missing}")


def test_getting_started_examples_print_what_the_page_says():
    result = doctest.testfile(
        str(DOCS / "getting_started.md"), module_relative=False, verbose=False,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted >= 5
    assert result.failed == 0


def test_docs_build_without_warnings(tmp_path):
    for module in ("sphinx", "numpydoc", "myst_nb", "pydata_sphinx_theme"):
        pytest.importorskip(module, reason='the docs extra is not installed: pip install -e ".[docs]"')
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"sphinx-build failed:\n{log[-6000:]}"
    assert "WARNING" not in log and "ERROR" not in log, log[-6000:]
    # every user guide page, notebook and API entry became a page
    for page in ("index", "getting_started", "api", "cli", "benchmarks", "parallel", "notebooks"):
        assert (out / f"{page}.html").is_file(), page
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert (out / "_generated" / "notebooks" / f"{notebook.stem}.html").is_file(), notebook.name
    for module, names in _api_entries().items():
        for name in names:
            assert (out / "_generated" / "api" / f"{module}.{name}.html").is_file(), name
