"""``sparsestat rank``: robust ranking of the items of a CSV of pairwise comparisons."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def _contamination(text: str):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or a fraction in (0, 0.5], got {text!r}") from None
    if not 0.0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 0.5], got {text!r}")
    return value


def _fdr(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def add_parser(subparsers) -> None:
    """Register the ``rank`` sub-command."""
    p = subparsers.add_parser(
        "rank", help="rank items from pairwise comparisons and flag outlier comparisons",
        description="Rank the items of a CSV file of pairwise comparisons (one comparison per "
        "row) with HodgeRank and a sparse outlier term; print the ranking and the flagged "
        "comparisons.",
    )
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument("--left", required=True, help="column of the first item of each comparison")
    p.add_argument("--right", required=True, help="column of the second item")
    p.add_argument("--outcome", help="column of the outcome: +1 first preferred, -1 second, or a "
                   "real margin (default: the first item always won)")
    p.add_argument("--weight", help="column of nonnegative weights (vote counts)")
    p.add_argument("--annotator", help="column of annotator ids: flag whole annotators "
                   "(group-sparse outlier path) instead of single comparisons")
    p.add_argument("--output", help="write the ranking (rank,item,score) to this CSV file")
    p.add_argument("--contamination", type=_contamination, default="auto",
                   help="'auto' (default) or the fraction of comparisons to flag")
    p.add_argument("--fdr", type=_fdr, default=0.1,
                   help="false-discovery rate of the 'auto' rule for real-valued margins "
                   "(default 0.1; 1 flags every |z| >= 3)")
    p.add_argument("--link", choices=["linear", "logistic"], default="linear",
                   help="least squares (default) or Bradley-Terry for +1/-1 outcomes")
    p.add_argument("--manipulation", choices=["promote", "demote", "both", "none"],
                   default="promote",
                   help="targeted attack looked for in +1/-1 votes: items pushed up "
                   "(default), down, either, or none")
    p.add_argument("--per-component", action="store_true",
                   help="rank within connected components instead of failing on a "
                   "disconnected comparison graph")
    p.add_argument("--show", type=int, default=20,
                   help="how many ranked items and flagged comparisons to print (default 20)")
    p.set_defaults(func=run)


def _line_numbers(idx, lines) -> str:
    """File line numbers of data rows ``idx`` (the header is line 1): ``'rows 3 and 5'``."""
    from sparsestat.ranking._ranker import _rows

    return _rows([lines[i] for i in idx])


def _column(header, rows, lines, name, path):
    """The stripped cells of column ``name``; every row must have a non-empty one."""
    from sparsestat.cli import CLIError

    if name not in header:
        raise CLIError(f"column {name!r} not in {path} (columns: {', '.join(header)})")
    j = header.index(name)
    values = [row[j].strip() if len(row) > j else "" for row in rows]
    empty = [i for i, v in enumerate(values) if not v]
    if empty:
        verb = "has" if len(empty) == 1 else "have"
        raise CLIError(f"{_line_numbers(empty, lines)} of {path} {verb} no value in column "
                       f"{name!r}; fill in every cell of that column or drop those rows")
    return values


def _numbers(values, lines, name, path):
    from sparsestat.cli import CLIError

    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except ValueError:
            raise CLIError(f"column {name!r} of {path} must hold numbers; row {lines[i]} has "
                           f"{v!r}") from None
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise CLIError(f"column {name!r} of {path} has a NaN or inf value in "
                       f"{_line_numbers(bad, lines)}; fix or drop those rows")
    return out


def run(args: argparse.Namespace) -> int:
    from sparsestat.cli import CLIError, atomic_write, read_csv_table
    from sparsestat.ranking import RobustPairwiseRanker

    header, rows, lines = read_csv_table(args.data, line_numbers=True)
    left = _column(header, rows, lines, args.left, args.data)
    right = _column(header, rows, lines, args.right, args.data)
    y = None if args.outcome is None else _numbers(
        _column(header, rows, lines, args.outcome, args.data), lines, args.outcome, args.data)
    w = None if args.weight is None else _numbers(
        _column(header, rows, lines, args.weight, args.data), lines, args.weight, args.data)
    ann = None if args.annotator is None else np.array(
        _column(header, rows, lines, args.annotator, args.data), dtype=str)
    # the checks that name rows, with the file's line numbers (the ranker counts from 0)
    same = [i for i, (a, b) in enumerate(zip(left, right)) if a == b]
    if same:
        verb = "compares" if len(same) == 1 else "compare"
        raise CLIError(f"{_line_numbers(same, lines)} of {args.data} {verb} an item with "
                       "itself (self-comparison); remove them")
    if w is not None and np.any(w < 0):
        raise CLIError(f"column {args.weight!r} of {args.data} has a negative weight in "
                       f"{_line_numbers(np.flatnonzero(w < 0), lines)}; weights (vote counts) "
                       "must be >= 0")
    pairs = np.column_stack([np.array(left, dtype=object), np.array(right, dtype=object)])
    pairs = pairs.astype(str)
    ranker = RobustPairwiseRanker(
        contamination=args.contamination, fdr=args.fdr, link=args.link,
        manipulation=None if args.manipulation == "none" else args.manipulation,
        on_disconnected="per_component" if args.per_component else "raise")
    try:
        ranker.fit(pairs, y, sample_weight=w, annotators=ann)
    except ValueError as exc:
        raise CLIError(str(exc)) from None

    n = len(ranker.items_)
    order = np.argsort(-ranker.scores_, kind="stable")
    comp = f", {ranker.n_components_} components" if ranker.n_components_ > 1 else ""
    print(f"{n} items, {len(rows)} comparisons{comp}; {int(ranker.outliers_.sum())} flagged "
          "as outliers")
    print("rank  score      item")
    for r, i in enumerate(order[: args.show], start=1):
        print(f"{r:4d}  {ranker.scores_[i]:+9.4f}  {ranker.items_[i]}")
    if n > args.show:
        print(f"  ... ({n - args.show} more)")
    if ranker.manipulated_items_.size:
        print("items with a targeted-manipulation rate: "
              + ", ".join(map(str, ranker.manipulated_items_[: args.show]))
              + (" ..." if ranker.manipulated_items_.size > args.show else ""))
    if ann is not None:
        bad = ranker.annotator_outliers_
        print(f"flagged annotators ({len(bad)} of {len(ranker.annotators_)}): "
              + (", ".join(map(str, bad[: args.show])) or "none")
              + (" ..." if len(bad) > args.show else ""))
    flagged = np.flatnonzero(ranker.outliers_)
    if flagged.size:
        print("flagged comparisons (row, left, right, outcome, outlier size):")
        yy = np.ones(len(rows)) if y is None else y
        for k in flagged[np.argsort(ranker.entry_times_[flagged], kind="stable")][: args.show]:
            print(f"  {lines[k]:6d}  {left[k]}  {right[k]}  {yy[k]:+g}  {ranker.gamma_[k]:+.4g}")
        if flagged.size > args.show:
            print(f"  ... ({flagged.size - args.show} more)")
    if args.output:
        def write(tmp):
            with open(tmp, "w", newline="") as fh:
                out = csv.writer(fh)
                out.writerow(["rank", "item", "score", "component"])
                for r, i in enumerate(order, start=1):
                    out.writerow([r, ranker.items_[i], f"{ranker.scores_[i]:.10g}",
                                  ranker.component_[i]])
        atomic_write(args.output, write)
        print(f"ranking written to {Path(args.output)}")
    return 0
