"""A new user following only the README reaches each capability's result: every Python
example of README.md runs as written, in a fresh namespace, and prints what its comments say.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

# README sections whose example is a fragment that needs the user's own data or model
# (kept short on purpose); they are marked here so the gap stays visible in the test report
FRAGMENTS: dict[str, str] = {}


def _examples() -> list[tuple[str, str]]:
    """(section heading, code) for every ```python block of the README."""
    out, section = [], "top"
    text = README.read_text(encoding="utf-8")
    for m in re.finditer(r"^## ([^\n]+)$|^```python\n(.*?)^```", text, re.M | re.S):
        if m.group(1):
            section = m.group(1).strip()
        else:
            out.append((section, m.group(2)))
    return out


EXAMPLES = _examples()


def test_every_capability_section_has_an_example():
    sections = {s for s, _ in EXAMPLES}
    headings = re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), re.M)
    capability_sections = [h for h in headings if h.strip() != "At a glance"]
    missing = [h for h in capability_sections if h.strip() not in sections]
    assert not missing, f"README sections without a ```python example: {missing}"


def _expected_prints(code: str) -> list[list[str]]:
    """For each ``print(...)  # [...]`` line, the printed list the comment promises."""
    promised = []
    for line in code.splitlines():
        m = re.match(r"\s*print\(.*\)\s*#\s*(\[[^\]]*\])", line)
        if m:
            promised.append(m.group(1))
    return promised


@pytest.mark.parametrize("section,code", EXAMPLES, ids=[s for s, _ in EXAMPLES])
def test_readme_example_runs(section, code, monkeypatch):
    if section in FRAGMENTS:
        pytest.xfail(f"README example of {section!r} is a fragment: {FRAGMENTS[section]}")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md [{section}]", "exec"), {"__name__": "__readme__"})
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:  # pragma: no cover
        pass
    printed = out.getvalue()
    for promise in _expected_prints(code):
        assert promise in printed, (
            f"README [{section}] promises {promise} in a comment, but printed:\n{printed}")
