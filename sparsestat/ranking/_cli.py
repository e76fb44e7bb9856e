"""``sparsestat rank``: robust ranking of the items of a CSV of pairwise comparisons."""

from __future__ import annotations

import argparse

import numpy as np


def add_parser(subparsers) -> None:
    """Register the ``rank`` sub-command."""
    from sparsestat.cli import command_parser, fraction

    p = command_parser(
        subparsers, "rank",
        help="rank items from pairwise comparisons and flag outlier comparisons",
        description="Rank the items of a CSV file of pairwise comparisons (one comparison per "
        "row) with HodgeRank and a sparse outlier term; print the ranking and the flagged "
        "comparisons (with their row numbers).",
        result="the ranking (rank, item, score, component)")
    p.add_argument("--left", required=True, help="column of the first item of each comparison")
    p.add_argument("--right", required=True, help="column of the second item")
    p.add_argument("--outcome", help="column of the outcome: +1 first preferred, -1 second "
                   "(1 / 0 also, with --link logistic), or a real margin (default: the first "
                   "item always won)")
    p.add_argument("--weight", help="column of nonnegative weights (vote counts)")
    p.add_argument("--annotator", help="column of annotator ids: flag whole annotators "
                   "(group-sparse outlier path) instead of single comparisons")
    p.add_argument("--contamination", type=fraction(0.5, closed=True, auto=True), default="auto",
                   help="'auto' (default) or the fraction of comparisons to flag")
    p.add_argument("--fdr", type=fraction(closed=True), default=0.1,
                   help="false-discovery rate of the 'auto' rule for real-valued margins "
                   "(default 0.1; 1 flags every |z| >= 3)")
    p.add_argument("--link", choices=["linear", "logistic"], default="linear",
                   help="least squares (default) or Bradley-Terry for +1/-1 (or 1/0) outcomes")
    p.add_argument("--manipulation", choices=["promote", "demote", "both", "none"],
                   default="promote",
                   help="targeted attack looked for in +1/-1 votes: items pushed up "
                   "(default), down, either, or none")
    p.add_argument("--per-component", action="store_true",
                   help="rank within connected components instead of failing on a "
                   "disconnected comparison graph")
    p.set_defaults(func=run)


def _check_rows(table, left, right, w, weight_column):
    """The checks that name rows, in the command line's row numbers."""
    from sparsestat._csv import CSVError, rows_phrase

    same = [i for i, (a, b) in enumerate(zip(left, right)) if a == b]
    if same:
        verb = "compares" if len(same) == 1 else "compare"
        raise CSVError(f"{rows_phrase(same)} of {table.name} {verb} an item with itself "
                       "(self-comparison); remove them")
    if w is not None and np.any(w < 0):
        raise CSVError(f"column {weight_column!r} of {table.name} has a negative weight in "
                       f"{rows_phrase(np.flatnonzero(w < 0))}; weights (vote counts) must "
                       "be >= 0")


def run(args: argparse.Namespace) -> int:
    """Fit the ranker on the CSV file and report; exit status 0."""
    from sparsestat._csv import read_table
    from sparsestat.cli import check_output, emit, fit
    from sparsestat.ranking import RobustPairwiseRanker

    check_output(args)
    table = read_table(args.data, args.delimiter)
    left, right = table.text(args.left), table.text(args.right)
    y = None if args.outcome is None else table.numbers(args.outcome)
    w = None if args.weight is None else table.numbers(args.weight)
    ann = None if args.annotator is None else np.array(table.text(args.annotator), dtype=str)
    _check_rows(table, left, right, w, args.weight)
    pairs = np.column_stack([np.array(left, dtype=str), np.array(right, dtype=str)])
    ranker = RobustPairwiseRanker(
        contamination=args.contamination, fdr=args.fdr, link=args.link,
        manipulation=None if args.manipulation == "none" else args.manipulation,
        on_disconnected="per_component" if args.per_component else "raise")
    fit(ranker, ("contamination", "fdr", "link"), pairs, y, sample_weight=w, annotators=ann,
        replace={"on_disconnected='per_component'": "--per-component"})
    outcomes = np.ones(table.n_rows) if y is None else y
    emit(report(ranker, pairs, outcomes, ann is not None, args.show), args)
    return 0


def report(ranker, pairs, y, by_annotator: bool, show: int):
    """The :class:`~sparsestat.cli.Report` of a fitted ranker on comparisons ``pairs``."""
    from sparsestat.cli import Report, aligned, more

    frame = ranker.to_frame()
    ranking = [[int(r), str(i), float(s), int(c)] for r, i, s, c in
               zip(frame["rank"], frame["item"], frame["score"], frame["component"])]
    flagged = np.flatnonzero(ranker.outliers_)
    flagged = flagged[np.argsort(ranker.entry_times_[flagged], kind="stable")]
    comparisons = [{"row": int(k) + 1, "left": str(pairs[k, 0]), "right": str(pairs[k, 1]),
                    "outcome": float(y[k]), "gamma": float(ranker.gamma_[k]),
                    "entry_time": float(ranker.entry_times_[k])} for k in flagged]
    manipulated = [str(v) for v in ranker.manipulated_items_]
    n = len(ranking)
    comp = f", {ranker.n_components_} components" if ranker.n_components_ > 1 else ""
    text = [f"{n} items, {len(y)} comparisons{comp}; {flagged.size} flagged as outliers"]
    if show:
        text += aligned(["rank", "score", "item"],
                        [[str(r[0]), f"{r[2]:+.4f}", r[1]] for r in ranking[:show]])
        text += more(n, show, "items")
    summary = {"n_items": n, "n_comparisons": len(y), "n_components": ranker.n_components_,
               "n_flagged": int(flagged.size), "link": ranker.link,
               "manipulated_items": manipulated}
    if manipulated:
        text.append("items with a targeted-manipulation rate: " + ", ".join(manipulated[:show])
                    + (" ..." if len(manipulated) > show else ""))
    if by_annotator:
        bad = [str(a) for a in ranker.annotator_outliers_]
        summary["flagged_annotators"] = bad
        summary["n_annotators"] = len(ranker.annotators_)
        text.append(f"flagged annotators ({len(bad)} of {len(ranker.annotators_)}): "
                    + (", ".join(bad[:show]) or "none") + (" ..." if len(bad) > show else ""))
    if comparisons and show:
        text.append("flagged comparisons (row, left, right, outcome, outlier size):")
        text += [f"  {c['row']:6d}  {c['left']}  {c['right']}  {c['outcome']:+g}  "
                 f"{c['gamma']:+.4g}" for c in comparisons[:show]]
        text += more(len(comparisons), show, "comparisons")
    return Report(summary, "ranking", ["rank", "item", "score", "component"], ranking, text,
                  {"flagged_comparisons": comparisons})
