"""Run the validation studies and assemble ``docs/validation.md``.

Usage::

    python -m validation.run                 # every study (make validate)
    python -m validation.run --only outliers # one study; the page is reassembled
    python -m validation.run --quick         # few replicates, a smoke run

Each study is a module ``validation/validate_<name>.py`` with a ``TITLE`` and a
``run(quick: bool) -> str`` that returns its markdown section (text and tables).
The section is written to ``validation/results/<name>.md``; the page is the
header below followed by every stored section in name order, so a study can be
rerun alone without losing the others' tables.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PAGE = HERE.parent / "docs" / "validation.md"

HEADER = """# Validation: the error rates, measured

Every error rate the documentation promises (false flags per data set, FDR, the estimated
noise rate) is measured here over a grid of designs the tests were not tuned on: ratios n/p
down to 2, independent, AR(1) and block-correlated features, Gaussian, heavy-tailed and
heteroscedastic noise, sparse and dense signals. Each cell is a mean over simulated
replicates with its standard error in parentheses. The scripts are in `validation/`;
`make validate` reruns all of them and rewrites this page (`python -m validation.run --only
NAME` reruns one study). A fast subset of each study runs in the test suite.
"""


def studies() -> list[str]:
    return sorted(m.name[len("validate_"):] for m in pkgutil.iter_modules([str(HERE)])
                  if m.name.startswith("validate_"))


def assemble() -> None:
    parts = [HEADER.rstrip() + "\n"]
    for name in studies():
        f = RESULTS / f"{name}.md"
        if f.exists():
            parts.append(f.read_text().rstrip() + "\n")
    tmp = PAGE.with_suffix(".md.tmp")
    tmp.write_text("\n".join(parts))
    os.replace(tmp, PAGE)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=None,
                    help="run only this study (repeatable); see validation/validate_*.py")
    ap.add_argument("--quick", action="store_true", help="few replicates (smoke run)")
    ap.add_argument("--no-write", action="store_true",
                    help="print the sections instead of storing them")
    args = ap.parse_args(argv)
    names = args.only or studies()
    unknown = sorted(set(names) - set(studies()))
    if unknown:
        print(f"unknown study {', '.join(unknown)}; available: {', '.join(studies())}",
              file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        mod = importlib.import_module(f"validation.validate_{name}")
        start = time.perf_counter()
        section = mod.run(quick=args.quick).rstrip() + "\n"
        took = time.perf_counter() - start
        section += (f"\n*Measured by `python -m validation.run --only {name}"
                    f"{' --quick' if args.quick else ''}` in {took / 60:.1f} min on "
                    f"{platform.machine()} with {os.cpu_count()} cores.*\n")
        print(f"[validation] {name}: {took:.0f} s", file=sys.stderr)
        if args.no_write:
            print(section)
        else:
            (RESULTS / f"{name}.md").write_text(section)
    if not args.no_write:
        assemble()
    return 0


if __name__ == "__main__":
    sys.exit(main())
