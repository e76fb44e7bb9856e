"""The ``sparsestat`` command-line interface (also ``python -m sparsestat``).

Each capability contributes a sub-command through a module-level
``add_parser(subparsers)`` function, listed in ``_COMMANDS``, and a demo
section through a ``run_demo(output_dir)`` function, listed in ``_DEMOS``.
Sub-commands report bad input by raising :class:`CLIError`; ``main`` turns
it into one readable line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

from sparsestat import __version__

# modules that define ``add_parser(subparsers)`` for one sub-command each
_COMMANDS: list[str] = [
    "sparsestat.ranking._cli",
    "sparsestat.robust._cli",
]

# (title, "module:function") called as function(output_dir: Path) -> None
_DEMOS: list[tuple[str, str]] = [
    ("Sparse regression paths (LBI / ISS)", "sparsestat.linear_model._demo:run_demo"),
    ("Robust ranking from pairwise comparisons", "sparsestat.ranking._demo:run_demo"),
    ("Robust regression and outliers (stackloss)", "sparsestat.robust._demo:run_demo"),
    ("Noisy labels and few-shot credibility (digits)", "sparsestat.semi_supervised._demo:run_demo"),
    ("Knockoffs: feature selection at a target FDR", "sparsestat.feature_selection._demo:run_demo"),
    ("DessiLBI: a sparse network on the digits (torch)", "sparsestat._demo_dessilbi:run_demo"),
]


class CLIError(Exception):
    """Bad input for a sub-command: printed as one line, exit status 2."""


def can_draw(picture: str) -> bool:
    """Whether matplotlib is installed to draw a demo's ``picture``; if not, say so in one line.

    matplotlib is an optional extra (``sparsestat[plot]``): without it a demo prints
    its numbers and skips its figure.
    """
    if importlib.util.find_spec("matplotlib") is not None:
        return True
    print(f'   ({picture} skipped: matplotlib missing; pip install "sparsestat[plot]")')
    return False


def atomic_write(path: str | os.PathLike, write) -> None:
    """Write a file through a temporary sibling so no half-written file is left.

    Parameters
    ----------
    path : path-like
        Destination file.
    write : callable
        ``write(tmp_path)`` writes the content to ``tmp_path``.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CLIError(f"output folder {str(parent)!r} does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_csv_table(path: str | os.PathLike, line_numbers: bool = False):
    """Read a CSV file with a header row into a pandas-free mapping of columns.

    Blank lines are skipped.

    Returns
    -------
    header : list of str
    rows : list of list of str
    lines : list of int
        Only with ``line_numbers=True``: the file line on which each row ends (the
        header is line 1), for error messages that point into the file.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise CLIError(f"input file {str(path)!r} not found")
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CLIError(f"input file {str(path)!r} is empty") from None
        rows, lines = [], []
        for row in reader:
            if row:
                rows.append(row)
                lines.append(reader.line_num)
    if not rows:
        raise CLIError(f"input file {str(path)!r} has a header but no data rows")
    return (header, rows, lines) if line_numbers else (header, rows)


def _run_demo(args: argparse.Namespace) -> int:
    out = Path(args.output_dir).resolve()
    if out.exists() and not out.is_dir():
        raise CLIError(f"--output-dir {str(out)!r} exists and is not a folder; choose another path")
    out.mkdir(parents=True, exist_ok=True)
    print(f"sparsestat {__version__} demo; figures go to {out}")
    started = time.perf_counter()
    from sparsestat._threads import one_thread

    # every demo problem is small: one BLAS thread is faster than several competing ones
    with one_thread("blas"):
        for title, target in _DEMOS:
            module_name, func_name = target.split(":")
            print(f"\n== {title} ==")
            start = time.perf_counter()
            getattr(import_module(module_name), func_name)(out)
            print(f"   ({time.perf_counter() - start:.1f} s)")
    figures = sorted(p.name for p in out.glob("*.png"))
    if figures:
        print(f"\nFigures written to {out}: {', '.join(figures)}")
    print(f"Demo finished in {time.perf_counter() - started:.0f} s.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparsestat",
        description="Find what is sparse in your problem: features, outliers, noisy labels, "
        "bad comparisons.",
    )
    parser.add_argument("--version", action="version", version=f"sparsestat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="tour the capabilities on bundled data")
    demo.add_argument(
        "--output-dir", default="sparsestat-demo",
        help="folder for the demo's figures (created; default: ./sparsestat-demo)",
    )
    demo.set_defaults(func=_run_demo)
    for module_name in _COMMANDS:
        import_module(module_name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"sparsestat {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"sparsestat {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
