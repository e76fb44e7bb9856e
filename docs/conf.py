"""Sphinx configuration for the sparsestat documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``).
The build is offline: MathJax is served from the site itself (the ``sphinx-mathjax-offline``
package ships it), links to scikit-learn, NumPy and SciPy come from small inventories
written here, and nothing is downloaded.

The notebooks are executed once per change of their code, into the jupyter-cache at
``nb_execution_cache_path`` (``docs/_build/.jupyter_cache``; delete it to run them again
after the package changed). myst-nb renders each notebook page from that cache, and the
gallery page shows its figures. The tests build the site with a fresh cache and check the
executed notebooks in it (``tests/test_docs.py``, ``tests/test_notebooks.py``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import sparsestat  # noqa: E402

project = "sparsestat"
author = "The sparsestat developers"
copyright = "The sparsestat developers"
version = release = sparsestat.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: no CDN
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_templates"]
templates_path = ["_templates"]

# -- generated sources (ignored by git) ----------------------------------------------------
# The notebooks live in ``notebooks/`` at the repository root; Sphinx reads only files
# below ``docs/``, so they are copied (when changed) to ``docs/_generated/notebooks``.
GENERATED = DOCS / "_generated"
_NB_SRC = ROOT / "notebooks"
_NB_DST = GENERATED / "notebooks"
_NB_DST.mkdir(parents=True, exist_ok=True)
_wanted = {p.name for p in _NB_SRC.glob("*.ipynb")}
for _stale in _NB_DST.glob("*.ipynb"):
    if _stale.name not in _wanted:
        _stale.unlink()
for _name in sorted(_wanted):
    _src, _dst = _NB_SRC / _name, _NB_DST / _name
    if not _dst.exists() or _dst.read_bytes() != _src.read_bytes():
        shutil.copyfile(_src, _dst)

# -- autodoc / autosummary / numpydoc ------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options: dict = {}
autodoc_typehints = "none"  # types are in the numpydoc Parameters sections
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- MyST / notebooks ----------------------------------------------------------------------
# "cache": every notebook runs once per change of its code (``_execute_notebooks`` runs them
# all at the start of the build), its outputs are stored in the jupyter-cache and the pages
# are rendered from there; a notebook that fails to run fails the build.
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 300  # seconds per cell
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_excludepatterns: list[str] = []
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_links_external_new_tab = False

# a notebook that imports torch where it is not installed is shown unexecuted
_TORCH_IMPORT = re.compile(r"^\s*(import|from)\s+(torch|sparsestat\.torch)\b", re.MULTILINE)


def _code(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


if importlib.util.find_spec("torch") is None:
    nb_execution_excludepatterns += [
        f"_generated/notebooks/{path.name}" for path in sorted(_NB_DST.glob("*.ipynb"))
        if _TORCH_IMPORT.search(_code(path))]


# -- mathematics -----------------------------------------------------------------------------
# sphinx-mathjax-offline copies MathJax into the site; the path is relative to _static
mathjax_path = "mathjax/tex-chtml.js"

# -- links to scikit-learn, NumPy and SciPy ------------------------------------------------
# Their inventories are not downloaded: for the names these pages and the docstrings refer to,
# a small inventory is written below from each project's URL scheme for its API pages.
_EXTERNAL_NAMES = {
    "sklearn": ("scikit-learn", "https://scikit-learn.org/stable/",
                "modules/generated/{name}.html#{name}", {
                    "py:class": [
                        "sklearn.linear_model.HuberRegressor",
                        "sklearn.linear_model.Lasso",
                        "sklearn.linear_model.LassoCV",
                        "sklearn.linear_model.LinearRegression",
                        "sklearn.linear_model.LogisticRegression",
                        "sklearn.linear_model.LogisticRegressionCV",
                        "sklearn.linear_model.RANSACRegressor",
                        "sklearn.linear_model.TheilSenRegressor",
                        "sklearn.metrics.RocCurveDisplay",
                        "sklearn.model_selection.GridSearchCV",
                        "sklearn.pipeline.Pipeline",
                        "sklearn.preprocessing.StandardScaler",
                        "sklearn.semi_supervised.SelfTrainingClassifier",
                    ],
                    "py:function": [
                        "sklearn.linear_model.lars_path",
                        "sklearn.linear_model.lasso_path",
                        "sklearn.model_selection.cross_val_score",
                        "sklearn.utils.estimator_checks.parametrize_with_checks",
                    ]}),
    "numpy": ("NumPy", "https://numpy.org/doc/stable/",
              "reference/generated/{name}.html#{name}", {
                  "py:class": ["numpy.ndarray"],
                  "py:function": ["numpy.linalg.lstsq", "numpy.unique"],
                  "py:data": [("numpy.inf", "reference/constants.html#numpy.inf")]}),
    "scipy": ("SciPy", "https://docs.scipy.org/doc/scipy/",
              "reference/generated/{name}.html#{name}", {
                  "py:class": ["scipy.sparse.csr_matrix", "scipy.sparse.csc_matrix"],
                  "py:function": ["scipy.sparse.linalg.cg", "scipy.linalg.cho_factor"]}),
}
INVENTORIES = GENERATED / "inventories"


def _write_inventory(path: Path, project: str, pattern: str, names: dict) -> None:
    """An ``objects.inv`` (Sphinx inventory version 2) listing ``names`` by role."""
    import zlib

    lines = []
    for role, entries in names.items():
        for entry in entries:
            name, uri = entry if isinstance(entry, tuple) else (entry, pattern.format(name=entry))
            lines.append(f"{name} {role} 1 {uri} -\n")
    header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
              "# The remainder of this file is compressed using zlib.\n")
    data = header.encode() + zlib.compress("".join(sorted(lines)).encode())
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


INVENTORIES.mkdir(parents=True, exist_ok=True)
intersphinx_mapping = {}
for _key, (_project, _url, _pattern, _names) in _EXTERNAL_NAMES.items():
    _write_inventory(INVENTORIES / f"{_key}.inv", _project, _pattern, _names)
    intersphinx_mapping[_key] = (_url, str(INVENTORIES / f"{_key}.inv"))
linkcheck_ignore = [r".*"]

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sparsestat {release}"
html_static_path = ["_static"]
html_css_files = ["sparsestat.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 8,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
# pages without sub-pages need no section navigation on the left
html_sidebars = {page: [] for page in ("index", "getting_started", "benchmarks", "parallel",
                                       "cli", "gallery")}
html_last_updated_fmt = None


# -- source rewriting ----------------------------------------------------------------------
# 1. The user guide pages link the notebooks as ``../notebooks/NAME.ipynb`` (right when the
#    page is read on its own); in the site they point to the rendered copy.
# 2. ``benchmarks.md`` collects the benchmark sections of the user guide pages: a line
#    ``<!-- benchmark-section: PAGE.md -->`` is replaced by the section of PAGE.md whose
#    heading contains "Benchmark" (up to the next heading of the same or a higher level),
#    its own heading dropped and its sub-headings placed under the including heading.
# 3. ``cli.md`` shows the ``--help`` of every sub-command, generated from the parser.
# 4. ``gallery.md``: the line ``<!-- notebook-gallery -->`` becomes the figures of every
#    executed notebook, as thumbnails linking to the notebook's page.
from sphinx.util import logging as _sphinx_logging  # noqa: E402

_logger = _sphinx_logging.getLogger("sparsestat.docs")
_NB_LINK = re.compile(r"\]\((?:\.\./)+notebooks/([\w.-]+\.ipynb)\)")
_BENCH_MARK = re.compile(r"^<!-- benchmark-section: ([\w.-]+\.md) -->$", re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _benchmark_section(page: str, docname: str) -> str:
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    start = level = None
    fenced = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m is None:
            continue
        if start is None and "benchmark" in m.group(2).lower():
            start, level = i, len(m.group(1))
        elif start is not None and len(m.group(1)) <= level:
            lines = lines[:i]
            break
    if start is None:
        _logger.warning(
            f"{page} has no section whose heading contains 'Benchmark': add one there, "
            f"or remove the line '<!-- benchmark-section: {page} -->' from {docname}.md",
            location=docname)
        return ""
    out, fenced = [], False
    for line in lines[start + 1:]:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m is not None:  # one level below the "## Capability" heading of benchmarks.md
            line = "#" * (3 + len(m.group(1)) - level - 1) + " " + m.group(2)
        out.append(line)
    return "\n".join(out).strip() + f"\n\nFrom the [{page[:-3]} guide]({page}).\n"


_CLI_MARK = "<!-- cli-help -->"


def _cli_help() -> str:
    """``--help`` of ``sparsestat`` and each sub-command, as Markdown."""
    import argparse

    from sparsestat.cli import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "92"
    try:
        parser = build_parser()
        parts = [("sparsestat", parser)]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parts += [(f"sparsestat {name}", sub) for name, sub in action.choices.items()]
        return "\n".join(f"## `{title}`\n\n```text\n{p.format_help().rstrip()}\n```\n"
                         for title, p in parts)
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _notebook_title(path: Path) -> str:
    """The first level-1 heading of a notebook (the cache stores only its code cells)."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if m:
                return m.group(1).strip()
    return ""


def _executed_notebooks(app) -> dict[str, object]:
    """``{notebook file name: the executed notebook}`` for the notebooks in the cache."""
    if app.config.nb_execution_mode != "cache":
        return {}
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(app.config.nb_execution_cache_path)
    out = {}
    for path in sorted(_NB_DST.glob("*.ipynb")):
        try:
            record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:  # not executed (excluded, or it failed: the build says why)
            continue
        out[path.name] = cache.get_cache_bundle(record.pk).nb
    return out


@contextlib.contextmanager
def _kernel_environment():
    """The environment the notebook kernels start in: they import the package from this
    checkout, as the build does, and draw figures inline (PNG outputs), as in Jupyter, whatever
    ``MPLBACKEND`` the build itself runs with."""
    saved = {key: os.environ.get(key) for key in ("PYTHONPATH", "MPLBACKEND")}
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in (saved["PYTHONPATH"] or "").split(os.pathsep) if p])
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _execute_notebooks(app):
    """Run the notebooks the cache does not hold yet, before any page is read: myst-nb then
    renders every notebook page from the cache, and the gallery shows all their figures."""
    if app.config.nb_execution_mode != "cache":
        return
    from pathlib import PurePosixPath

    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    cache = get_cache(app.config.nb_execution_cache_path)
    # excluded as myst-nb excludes them: the path matches a pattern from the right
    uris = [str(path) for path in sorted(_NB_DST.glob("*.ipynb"))
            if not any(PurePosixPath(path.as_posix()).match(pattern)
                       for pattern in app.config.nb_execution_excludepatterns)]
    for uri in uris:
        cache.add_nb_to_project(uri)
    executor = load_executor("local-serial", cache=cache, logger=_logger)
    with _kernel_environment():
        result = executor.run_and_cache(
            filter_uris=uris, timeout=app.config.nb_execution_timeout, allow_errors=False)
    # pages of notebooks run in this build are read again even if their source did not
    # change (the cache had been cleared): their outputs are new
    _JUST_EXECUTED[:] = [f"_generated/notebooks/{Path(uri).stem}" for uri in result.succeeded]
    _write_gallery_images(app)


_JUST_EXECUTED: list[str] = []


def _always_read(app, env, added, changed, removed):
    """Docnames to read again although their source did not change: the gallery (its text
    is generated) and the notebooks executed in this build."""
    return ["gallery", *_JUST_EXECUTED]


def _figures(nb):
    """The PNG figures of an executed notebook, as ``(cell index, base64 data)``."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {}).get("image/png")
            if data:
                yield index, data


def _write_gallery_images(app):
    import base64

    GALLERY.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for name, nb in _executed_notebooks(app).items():
        for k, (_, data) in enumerate(_figures(nb)):
            target = GALLERY / f"{name[:-6]}-{k + 1}.png"
            wanted.add(target)
            png = base64.b64decode(data)
            if not target.exists() or target.read_bytes() != png:
                target.write_bytes(png)
    for stale in set(GALLERY.glob("*.png")) - wanted:
        stale.unlink()


def _gallery(app, docname: str) -> str:
    """Markdown: per notebook, its title and a thumbnail of each figure linking to it."""
    depth = docname.count("/")
    up = "../" * depth
    parts = []
    for name, nb in _executed_notebooks(app).items():
        stem = name[:-6]
        thumbs = [f"[![{stem}, figure {k + 1}]({up}_generated/gallery/{stem}-{k + 1}.png)]"
                  f"({up}_generated/notebooks/{name})"
                  for k, _ in enumerate(_figures(nb))]
        if thumbs:
            parts.append(f"## {_notebook_title(_NB_DST / name) or stem}\n\n"
                         f"From the notebook [{name}]({up}_generated/notebooks/{name}).\n\n"
                         ":::{container} sparsestat-gallery\n" + "\n".join(thumbs) + "\n:::\n")
    if not parts:
        return ("The notebooks were not executed in this build (`nb_execution_mode` is "
                f"`{app.config.nb_execution_mode}`), so there are no figures to show.\n")
    return "\n".join(parts)


_GALLERY_MARK = "<!-- notebook-gallery -->"
GALLERY = GENERATED / "gallery"


def _rewrite_source(app, docname, source):
    text = source[0]
    depth = docname.count("/")
    target = "../" * depth + "_generated/notebooks/"
    text = _NB_LINK.sub(lambda m: f"]({target}{m.group(1)})", text)
    if docname == "cli":
        text = text.replace(_CLI_MARK, _cli_help())
    if docname == "benchmarks":
        text = _BENCH_MARK.sub(lambda m: _benchmark_section(m.group(1), docname), text)
    if _GALLERY_MARK in text:
        text = text.replace(_GALLERY_MARK, _gallery(app, docname))
    source[0] = text


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document the members a class gets from sparsestat, not those of scikit-learn's mixins
    (``score``, metadata-routing ``set_*_request``) or of ``torch.optim.Optimizer``: their
    docstrings link into those projects' own documentation."""
    if what != "class" or skip:
        return None
    func = getattr(obj, "fget", obj)
    module = getattr(func, "__module__", None)
    if module is not None and not module.startswith("sparsestat"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _execute_notebooks)
    app.connect("env-get-outdated", _always_read)
    app.connect("source-read", _rewrite_source)
    app.connect("autodoc-skip-member", _skip_foreign_members)
    return {"parallel_read_safe": True}
