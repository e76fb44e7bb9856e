"""The documentation: every public name is in the API reference with a runnable example,
every package name the guide pages mention is documented there, the getting-started examples
give the printed results, and the Sphinx site builds without a single warning, with the
notebooks executed, mathematics rendered by the site's own MathJax and nothing loaded from the
network (the docstring examples themselves run as doctests: ``--doctest-modules``).

The site is built once per test session (the ``site`` fixture) and the notebook tests check
the notebooks executed by that build (``tests/test_notebooks.py``): the notebooks run once.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOCS_TOOLS = ("sphinx", "numpydoc", "myst_nb", "pydata_sphinx_theme", "jupyter_cache",
              "sphinx-mathjax-offline")
# the guide pages: every top-level page and the user guide
GUIDE_PAGES = sorted(DOCS.glob("*.md")) + sorted((DOCS / "user_guide").glob("*.md"))
# the docs build and the notebook checks run on one xdist worker (``--dist loadgroup``)
site_group = pytest.mark.xdist_group("docs-site")

# module -> does it need an optional dependency
PUBLIC_MODULES = {
    "sparsestat": None,
    "sparsestat.datasets": None,
    "sparsestat.covariance": None,
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
    objects = _public_objects(module_name)
    entries = _api_entries()
    listed = entries.get(module_name, set())
    # a name re-exported at the top level is documented once, as sparsestat.<name>
    top = importlib.import_module("sparsestat")
    public = {name for name, obj in objects.items()
              if module_name == "sparsestat" or name not in entries.get("sparsestat", set())
              or getattr(top, name, None) is not obj}
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


@dataclasses.dataclass
class Site:
    """One build of the site, with the notebooks executed into a fresh jupyter-cache."""

    returncode: int
    log: str
    warnings: str
    html: Path
    notebook_cache: Path


def _build_site(out: Path) -> Site:
    cache = out / "jupyter_cache"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), "-w", str(out / "warnings.txt"),
         "-D", f"nb_execution_cache_path={cache}", str(DOCS), str(out / "html")],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "MPLBACKEND": "Agg"})
    warnings = out / "warnings.txt"
    return Site(proc.returncode, proc.stdout + proc.stderr,
                warnings.read_text() if warnings.exists() else "", out / "html", cache)


def _tools_missing() -> list[str]:
    return [m for m in DOCS_TOOLS if importlib.util.find_spec(m) is None]


_BUILT: list[Site] = []  # this process's build: ``site`` is also imported by test_notebooks


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Site | None:
    """The site built once per test run; ``None`` when the docs extra is not installed.

    Under pytest-xdist the workers share one build: the first to ask builds it (under a file
    lock) and the others read it.
    """
    if _tools_missing():
        return None
    if not _BUILT:
        _BUILT.append(_build_once(tmp_path_factory))
    return _BUILT[0]


def _build_once(tmp_path_factory) -> Site:
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:
        return _build_site(tmp_path_factory.mktemp("site"))
    import fcntl

    out = tmp_path_factory.getbasetemp().parent / f"site-{run_id}"
    out.mkdir(exist_ok=True)
    with open(out / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = out / "build.json"
        if record.exists():
            return Site(**{k: Path(v) if k in ("html", "notebook_cache") else v
                           for k, v in json.loads(record.read_text()).items()})
        built = _build_site(out)
        record.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v
                                      for k, v in dataclasses.asdict(built).items()}))
        return built


def _built(site: Site | None) -> Site:
    if site is None:
        pytest.skip(f"the docs extra is not installed ({', '.join(_tools_missing())} missing): "
                    'pip install -e ".[docs]"')
    return site


@site_group
def test_docs_build_without_warnings(site):
    site = _built(site)
    assert site.returncode == 0, f"sphinx-build failed:\n{site.log[-6000:]}"
    assert site.warnings.strip() == "", site.warnings[-6000:]
    out = site.html
    # every user guide page, notebook and API entry became a page
    for page in ("index", "getting_started", "api", "cli", "benchmarks", "parallel", "notebooks",
                 "gallery", "validation", *(p.stem for p in GUIDE_PAGES if p.parent == DOCS)):
        assert (out / f"{page}.html").is_file(), page
    index = (out / "index.html").read_text(encoding="utf-8")
    main = index[index.index("<main"):index.index("</main>")]
    for page in ("getting_started", "notebooks", "gallery", "validation", "benchmarks"):
        assert f'href="{page}.html"' in main, f"the index page does not link {page}"
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert (out / "_generated" / "notebooks" / f"{notebook.stem}.html").is_file(), notebook.name
    for module, names in _api_entries().items():
        for name in names:
            assert (out / "_generated" / "api" / f"{module}.{name}.html").is_file(), name


def _html_pages(site: Site) -> dict[str, str]:
    return {str(p.relative_to(site.html)): p.read_text(encoding="utf-8")
            for p in sorted(site.html.rglob("*.html"))}


_REMOTE_ASSET = re.compile(
    r"<(?:script|img|iframe)\b[^>]*\bsrc=[\"'](?:https?:)?//|"
    r"<link\b[^>]*\bhref=[\"'](?:https?:)?//[^>]*>", re.IGNORECASE)


@site_group
def test_site_loads_nothing_from_the_network(site):
    """No page loads a script, style sheet or image from elsewhere: no CDN."""
    site = _built(site)
    pages = _html_pages(site)
    assert len(pages) > 20
    offending = {name: _REMOTE_ASSET.findall(html) for name, html in pages.items()}
    offending = {name: found for name, found in offending.items() if found}
    assert not offending, f"pages that load remote assets: {offending}"
    with_cdn = [name for name, html in pages.items() if "cdn" in html.lower()]
    assert not with_cdn, f"pages that mention a CDN: {with_cdn}"


_DISPLAY_MATH = re.compile(r'<div class="math notranslate nohighlight">')
_MATHJAX_SCRIPT = re.compile(r'<script[^>]*src="((?:\.\./)*_static/mathjax/tex-chtml\.js)"')


@site_group
@pytest.mark.parametrize("page", ["paths", "outliers", "noisy_labels", "ranking", "knockoffs",
                                  "dessilbi"])
def test_guide_pages_render_their_equations_with_the_shipped_mathjax(site, page):
    site = _built(site)
    html = (site.html / f"{page}.html").read_text(encoding="utf-8")
    assert len(_DISPLAY_MATH.findall(html)) >= 2, f"{page}: its key equations as display math"
    script = _MATHJAX_SCRIPT.search(html)
    assert script, f"{page}.html does not load MathJax from the site's _static/mathjax"
    assert (site.html / script.group(1)).is_file()
    # the chtml output loads its fonts relative to the script
    assert list((site.html / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))


@site_group
def test_code_blocks_wrap_instead_of_overflowing(site):
    site = _built(site)
    css = (site.html / "_static" / "sparsestat.css").read_text(encoding="utf-8")
    rule = re.search(r"div\.highlight pre\s*\{([^}]*)\}", css)
    assert rule and "pre-wrap" in rule.group(1)
    assert 'href="_static/sparsestat.css' in (site.html / "paths.html").read_text(encoding="utf-8")


# the API pages of scikit-learn, NumPy and SciPy, written out (not read from the build's
# inventories): a link from our pages must point exactly there
EXTERNAL_URL = {
    "sklearn": "https://scikit-learn.org/stable/modules/generated/{name}.html#{name}",
    "numpy": "https://numpy.org/doc/stable/reference/generated/{name}.html#{name}",
    "scipy": "https://docs.scipy.org/doc/scipy/reference/generated/{name}.html#{name}",
}
_EXTERNAL_ROLE = re.compile(r"\{py:\w+\}`~?((sklearn|numpy|scipy)\.[\w.]+)`")


def _external_references() -> dict[str, set[str]]:
    """``{page: names}`` of the scikit-learn / NumPy / SciPy objects the pages link by role."""
    found = {}
    for path in GUIDE_PAGES:
        names = {m.group(1) for m in _EXTERNAL_ROLE.finditer(path.read_text(encoding="utf-8"))}
        if names:
            found[path.stem] = names
    return found


@site_group
def test_links_to_scikit_learn_numpy_and_scipy(site):
    site = _built(site)
    references = _external_references()
    assert sum(len(v) for v in references.values()) >= 5
    missing = []
    for page, names in references.items():
        html = (site.html / f"{page}.html").read_text(encoding="utf-8")
        for name in names:
            url = EXTERNAL_URL[name.split(".")[0]].format(name=name)
            if f'href="{url}"' not in html:
                missing.append(f"{page}: {name}")
    assert not missing, f"not linked to their documentation: {missing}"
    # and the "See Also" sections of the docstrings
    api = (site.html / "_generated" / "api" / "sparsestat.LBIRegressor.html").read_text()
    assert 'href="' + EXTERNAL_URL["sklearn"].format(name="sklearn.linear_model.Lasso") in api


_PACKAGE_NAME = re.compile(r"\bsparsestat(?:\.[A-Za-z_]\w*)+")


def _resolve(dotted: str):
    """The module or object a dotted name refers to, or ``None``."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _documented_objects() -> list[object]:
    return [getattr(importlib.import_module(module), name)
            for module, names in _api_entries().items()
            if module not in PUBLIC_MODULES or _available(module)
            for name in names]


def test_every_package_name_in_the_guide_is_in_the_api_reference():
    """A name ``sparsestat.x.y`` written in a guide page exists, and a public one (no part
    starting with ``_``) is documented in the API reference (a module: one of its objects
    is). Private names are the implementation notes of the pages and only have to exist."""
    documented = _documented_objects()
    unresolved, undocumented = [], []
    for path in GUIDE_PAGES:
        for name in sorted(set(_PACKAGE_NAME.findall(path.read_text(encoding="utf-8")))):
            if name.split(".")[1] == "torch" and importlib.util.find_spec("torch") is None:
                continue
            obj = _resolve(name)
            if obj is None:
                unresolved.append(f"{path.name}: {name}")
                continue
            if any(part.startswith("_") for part in name.split(".")):
                continue
            if inspect.ismodule(obj):
                ok = any((getattr(o, "__module__", "") + ".").startswith(obj.__name__ + ".")
                         for o in documented)
            else:
                ok = any(o is obj for o in documented)
            if not ok:
                undocumented.append(f"{path.name}: {name}")
    assert not unresolved, f"names in the guide that do not exist: {unresolved}"
    assert not undocumented, f"names in the guide missing from docs/api.rst: {undocumented}"
