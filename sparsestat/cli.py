"""The ``sparsestat`` command-line interface (also ``python -m sparsestat``).

Each capability contributes a sub-command through a module-level
``add_parser(subparsers)`` function, listed in ``_COMMANDS``, and a demo
section through a ``run_demo(output_dir)`` function, listed in ``_DEMOS``.
Sub-commands report bad input by raising :class:`CLIError`; ``main`` turns
it into one readable line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import numpy as np

from sparsestat import __version__
from sparsestat._csv import ROWS_HELP, CSVError

# modules that define ``add_parser(subparsers)`` for one sub-command each
_COMMANDS: list[str] = [
    "sparsestat.feature_selection._cli",
    "sparsestat.robust._cli",
    "sparsestat.robust._labels_cli",
    "sparsestat.ranking._cli",
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


class CLIError(ValueError):
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


# -------------------------------------------------------------------- sub-command plumbing
FORMATS = ("text", "json", "csv")


def command_parser(subparsers, name: str, help: str, description: str,
                   result: str) -> argparse.ArgumentParser:
    """A sub-command's parser with the input and output options every sub-command shares.

    Adds the positional ``data`` (a CSV file or ``-``) and, in an "input and
    output" group, ``--delimiter``, ``-o/--output``, ``--format`` and ``--show``;
    ``result`` names what the ``csv`` output holds. The epilog states the row
    convention.
    """
    p = subparsers.add_parser(
        name, help=help, description=description,
        epilog=f"{ROWS_HELP} Output: the text report on stdout; --format json writes the whole "
        f"result as one JSON object, --format csv {result}; -o FILE writes it to FILE "
        "(format from its suffix: .json, .txt or csv) through a temporary file, so an "
        "error never leaves a half-written one, and -o - to stdout. Errors: exit status "
        "2 and one line on stderr; warnings are one line each on stderr.")
    p.add_argument("data", help="CSV file with a header row (UTF-8), or - for standard input")
    io_group = p.add_argument_group("input and output")
    io_group.add_argument("--delimiter", default=",", help="cell separator (default ',')")
    io_group.add_argument("-o", "--output", metavar="FILE",
                          help="write the result to FILE ('-': stdout)")
    io_group.add_argument("--format", choices=FORMATS,
                          help="text, json or csv (default: text on stdout; for -o FILE, "
                          "from the suffix of FILE)")
    io_group.add_argument("--show", type=whole_number(0), default=20, metavar="N",
                          help="rows of each table in the text report (default 20; 0: the "
                          "summary only)")
    return p


def whole_number(minimum: int):
    """An argparse type: a whole number ``>= minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def fraction(high: float = 1.0, *, closed: bool = False, auto: bool = False):
    """An argparse type: a number in ``(0, high)`` (``(0, high]`` when ``closed``), or
    the word ``'auto'`` when ``auto``."""
    interval = f"(0, {high:g}{']' if closed else ')'}"
    what = f"'auto' or a fraction in {interval}" if auto else f"in {interval}"

    def parse(text: str):
        if auto and text == "auto":
            return text
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (0.0 < value <= high if closed else 0.0 < value < high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


@dataclass
class Report:
    """What a sub-command found, ready for any output format.

    Attributes
    ----------
    summary : dict
        Scalars (and short lists) of the JSON object.
    table_name : str
        Key of the main table in the JSON object.
    columns : list of str
        Columns of the main table (the ``csv`` output).
    table : list of list
        Rows of the main table.
    text : list of str
        Lines of the text report (``--show`` applied).
    sections : dict
        Further JSON members (lists of objects).
    """

    summary: dict
    table_name: str
    columns: list[str]
    table: list[list]
    text: list[str]
    sections: dict = field(default_factory=dict)

    def records(self) -> list[dict]:
        """The main table as one dict per row."""
        return [dict(zip(self.columns, row)) for row in self.table]


def _plain(value):
    """A JSON value: numpy scalars as Python numbers, non-finite floats as null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _cell(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else str(value)


def render(report: Report, fmt: str, command: str) -> str:
    """The report in ``fmt``: ``'text'``, ``'json'`` or ``'csv'``."""
    if fmt == "text":
        return "\n".join(report.text) + "\n"
    if fmt == "json":
        obj = {"command": command, **report.summary, report.table_name: report.records(),
               **report.sections}
        return json.dumps(_plain(obj), indent=2, allow_nan=False) + "\n"
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(report.columns)
    out.writerows([_cell(v) for v in row] for row in report.table)
    return buf.getvalue()


def output_format(args: argparse.Namespace) -> str:
    """``--format``, or the default for the destination (stdout: text; a file: its suffix)."""
    if args.format is not None:
        return args.format
    if args.output in (None, "-"):
        return "text"
    return {".json": "json", ".txt": "text"}.get(Path(args.output).suffix.lower(), "csv")


def check_output(args: argparse.Namespace) -> None:
    """Refuse an output path whose folder is missing, before any work is done."""
    if args.output not in (None, "-"):
        parent = Path(args.output).resolve().parent
        if not parent.is_dir():
            raise CLIError(f"output folder {str(parent)!r} of {args.output!r} does not exist; "
                           "create it first")
        if Path(args.output).is_dir():
            raise CLIError(f"--output {args.output!r} is a folder; name a file")


def emit(report: Report, args: argparse.Namespace) -> None:
    """Print or write the report as ``--output`` and ``--format`` ask."""
    fmt = output_format(args)
    if args.output in (None, "-"):
        sys.stdout.write(render(report, fmt, args.command))
        return
    sys.stdout.write(render(report, "text", args.command))
    content = render(report, fmt, args.command)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)

    atomic_write(args.output, write)
    print(f"{fmt} result written to {args.output}")


def in_cli_terms(message: str, options: tuple[str, ...], replace: dict | None = None) -> str:
    """An estimator's advice (``name='value'``) in the words of the command line (``--name value``).

    ``replace`` maps further phrases to their command-line form.

    Examples
    --------
    >>> from sparsestat.cli import in_cli_terms
    >>> in_cli_terms("pass duplicates='keep' or offset=0.", ("duplicates", "offset"))
    'pass --duplicates keep or --offset 0.'
    """
    for phrase, flag in (replace or {}).items():
        message = message.replace(phrase, flag)
    for name in options:
        flag = "--" + name.replace("_", "-")
        message = re.sub(rf"\b{name}=(['\"]?)([\w.+-]+)\1", rf"{flag} \2", message)
    return message


def fit(estimator, options: tuple[str, ...], *fit_args, replace: dict | None = None,
        **fit_kwargs):
    """``estimator.fit(...)`` with its errors and warnings in the command line's terms.

    A ``ValueError`` becomes a :class:`CLIError` (its first line); warnings are
    warned again with the estimator's parameter names ``options`` turned into
    the command line's flags (``main`` prints them on stderr).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator.fit(*fit_args, **fit_kwargs)
        except ValueError as exc:
            raise CLIError(in_cli_terms(_first_line(exc), options, replace)) from None
    for w in caught:
        message = in_cli_terms(str(w.message), options, replace)
        warnings.warn_explicit(message, w.category, w.filename, w.lineno)
    return estimator


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def aligned(columns: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a text table: numbers right-aligned, words (item names, labels) left-aligned."""
    widths = [max([len(c)] + [len(r[k]) for r in rows]) for k, c in enumerate(columns)]
    words = [not all(_is_number(r[k]) for r in rows) for k in range(len(columns))]
    return ["  ".join(v.ljust(w) if left else v.rjust(w)
                      for v, w, left in zip(line, widths, words)).rstrip()
            for line in [columns, *rows]]


def more(n_total: int, n_shown: int, what: str = "rows") -> list[str]:
    """The line that says how many table rows the text report left out (none if all shown)."""
    if n_total <= n_shown:
        return []
    return [f"  ... ({n_total - n_shown} more {what}; use --show, or --format csv / json)"]


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _print_warnings(command: str, caught) -> None:
    """Each warning of the run as one line on stderr (numba's and numpy's deprecations left out)."""
    for w in caught:
        if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning):
            continue
        print(f"sparsestat {command}: warning: {_first_line(w.message)}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at the null device so that the interpreter's final flush does not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status.

    0: done; 2: bad input or parameters (one line on stderr); 130: interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            status = int(args.func(args) or 0)
        except BrokenPipeError:  # e.g. piped into head: stop quietly
            _silence_stdout()
            return 0
        except (CLIError, CSVError, ValueError, TypeError, OSError, ArithmeticError) as exc:
            print(f"sparsestat {args.command}: error: {_first_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"sparsestat {args.command}: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # a bug: still one line, with what it was
            print(f"sparsestat {args.command}: internal error ({type(exc).__name__}): "
                  f"{_first_line(exc)}", file=sys.stderr)
            return 1
    _print_warnings(args.command, caught)
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
