"""Sphinx configuration for the sparsestat documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``).
The build is offline and fast: no intersphinx inventories are downloaded and the
notebooks are rendered as committed (without executing them; ``tests/test_notebooks.py``
runs them).
"""

from __future__ import annotations

import os
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
    "sphinx.ext.mathjax",
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
nb_execution_mode = "off"  # rendered as committed; tests/test_notebooks.py executes them
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_links_external_new_tab = False

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sparsestat {release}"
html_static_path = []
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
html_sidebars = {page: [] for page in ("index", "getting_started", "benchmarks", "parallel", "cli")}
html_last_updated_fmt = None

# nothing is fetched from the network while building
intersphinx_mapping: dict = {}
linkcheck_ignore = [r".*"]


# -- source rewriting ----------------------------------------------------------------------
# 1. The user guide pages link the notebooks as ``../notebooks/NAME.ipynb`` (right when the
#    page is read on its own); in the site they point to the rendered copy.
# 2. ``benchmarks.md`` collects the benchmark sections of the user guide pages: a line
#    ``<!-- benchmark-section: PAGE.md -->`` is replaced by the section of PAGE.md whose
#    heading contains "Benchmark" (up to the next heading of the same or a higher level),
#    its own heading dropped and its sub-headings placed under the including heading.
# 3. ``cli.md`` shows the ``--help`` of every sub-command, generated from the parser.
import re  # noqa: E402

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


def _rewrite_source(app, docname, source):
    text = source[0]
    depth = docname.count("/")
    target = "../" * depth + "_generated/notebooks/"
    text = _NB_LINK.sub(lambda m: f"]({target}{m.group(1)})", text)
    if docname == "cli":
        text = text.replace(_CLI_MARK, _cli_help())
    if docname == "benchmarks":
        text = _BENCH_MARK.sub(lambda m: _benchmark_section(m.group(1), docname), text)
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
    app.connect("source-read", _rewrite_source)
    app.connect("autodoc-skip-member", _skip_foreign_members)
    return {"parallel_read_safe": True}
