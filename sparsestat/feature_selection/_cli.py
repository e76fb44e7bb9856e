"""``sparsestat select``: knockoff feature selection at a target FDR on a CSV file."""

from __future__ import annotations

import argparse

import numpy as np


def add_parser(subparsers) -> None:
    """Register the ``select`` sub-command."""
    from sparsestat.cli import command_parser, fraction, whole_number

    p = command_parser(
        subparsers, "select",
        help="select the features that matter, at a target false discovery rate (knockoffs)",
        description="Select the features (columns) of a CSV file that explain a target column "
        "with knockoffs: the expected fraction of false selections is at most --fdr. Print "
        "the selected features with their knockoff statistics.",
        result="the selected features (feature, W, sign; with --n-draws > 1: feature, "
        "e_value, selection_frequency, sign)")
    p.add_argument("--target", required=True,
                   help="column to explain (numbers: a regression target; words: class labels)")
    p.add_argument("--features", help="comma-separated feature columns (default: all other "
                   "columns)")
    p.add_argument("--fdr", type=fraction(), default=0.1,
                   help="target false discovery rate q (default 0.1); knockoff+ needs about "
                   "1/q strong features before it selects any")
    p.add_argument("--knockoffs", choices=["auto", "fixed", "gaussian"], default="auto",
                   help="fixed-X knockoffs (exact FDR for the linear model, needs rows >= "
                   "2 * features + 1), model-X Gaussian knockoffs (any rows, covariance "
                   "estimated), or auto (default: fixed when there are enough rows)")
    p.add_argument("--statistic", choices=["lcd", "lsm", "lbi", "mlr"], default="lcd",
                   help="lasso coefficient difference (default), lasso signed max, LBI "
                   "entry times, or the masked likelihood ratio of a spike-and-slab linear "
                   "model (regression targets)")
    p.add_argument("--task", choices=["auto", "regression", "classification"], default="auto",
                   help="auto (default): a target column of numbers is a regression target, "
                   "one of other labels (words) holds classes; pass classification for "
                   "classes coded as numbers")
    p.add_argument("--n-draws", type=whole_number(1), default=1,
                   help="knockoff draws; more than 1 aggregates them (derandomized knockoffs, "
                   "e-BH at --fdr)")
    p.add_argument("--offset", type=int, choices=[0, 1], default=1,
                   help="1: knockoff+ (FDR control, default); 0: the knockoff filter (a "
                   "modified FDR, selects with fewer strong features)")
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the knockoff draws (default 0)")
    p.set_defaults(func=run)


def load_problem(table, target: str, features: str | None, task: str):
    """``(X, y, names, task)``: the features, the target and the task it is read for.

    ``task='auto'`` reads a column of numbers as a regression target and any
    other column as class labels.
    """
    from sparsestat._csv import CSVError

    table.index(target, "target column")
    names = table.names(features, (target,), "--features")
    X = table.matrix(names)
    constant = [n for n, col in zip(names, X.T) if np.all(col == col[0])]
    if constant:
        raise CSVError(f"column {constant[0]!r} of {table.name} is constant"
                       f"{f' (and {len(constant) - 1} more)' if len(constant) > 1 else ''}: "
                       "a constant feature carries no information; leave it out with "
                       "--features")
    if task == "classification":
        return X, np.array(table.text(target), dtype=str), names, task
    try:
        return X, table.numbers(target), names, "regression"
    except CSVError:
        if task == "regression":
            raise
    return X, np.array(table.text(target), dtype=str), names, "classification"


def run(args: argparse.Namespace) -> int:
    """Fit the selector on the CSV file and report; exit status 0."""
    from sparsestat._csv import read_table
    from sparsestat.cli import check_output, emit, fit
    from sparsestat.feature_selection import KnockoffSelector

    check_output(args)
    table = read_table(args.data, args.delimiter)
    X, y, names, task = load_problem(table, args.target, args.features, args.task)
    n, p = X.shape
    knockoffs = args.knockoffs
    if knockoffs == "auto":
        knockoffs = "fixed" if n >= 2 * p + 1 else "gaussian"
    sel = KnockoffSelector(fdr=args.fdr, knockoffs=knockoffs, statistic=args.statistic,
                           task=task, n_draws=args.n_draws, offset=args.offset,
                           random_state=args.random_state)
    fit(sel, ("knockoffs", "offset", "statistic", "task", "n_draws"), X, y)
    emit(report(sel, names, n, args.show), args)
    return 0


def report(sel, names, n_rows: int, show: int):
    """The :class:`~sparsestat.cli.Report` of a fitted :class:`KnockoffSelector`."""
    from sparsestat.cli import Report, aligned, more

    names = np.asarray(names, dtype=object)
    draws = sel.n_draws > 1
    stat = sel.e_values_ if draws else sel.W_
    order = np.lexsort((np.arange(stat.size), -stat))
    chosen = [j for j in order if sel.support_[j]]
    if draws:
        columns = ["feature", "e_value", "selection_frequency", "sign"]
        rows = [[str(names[j]), float(stat[j]), float(sel.selection_frequency_[j]),
                 int(sel.signs_[j])] for j in chosen]
        threshold = "e-BH"
    else:
        columns = ["feature", "W", "sign"]
        rows = [[str(names[j]), float(stat[j]), int(sel.signs_[j])] for j in chosen]
        threshold = f"threshold T = {sel.threshold_:.4g}"
    kind = {"fixed": "fixed-X", "gaussian": "model-X Gaussian"}[sel.knockoffs]
    text = [f"{len(chosen)} of {names.size} features selected at FDR {sel.fdr:g} ({kind} "
            f"knockoffs, statistic {sel.statistic}, {'knockoff+' if sel.offset else 'knockoff'}"
            f" {threshold}; {n_rows} rows)"]
    if show and rows:
        text += aligned(columns, [[r[0], *(f"{v:.4g}" if isinstance(v, float) else f"{v:+d}"
                                           for v in r[1:])] for r in rows[:show]])
        text += more(len(rows), show, "features")
    every = [{"feature": str(names[j]), ("e_value" if draws else "W"): float(stat[j]),
              "selected": bool(sel.support_[j])} for j in order]
    summary = {"n_rows": n_rows, "n_features": int(names.size), "fdr": sel.fdr,
               "knockoffs": sel.knockoffs, "statistic": sel.statistic, "offset": sel.offset,
               "n_draws": sel.n_draws,
               "threshold": None if draws else float(sel.threshold_),
               "n_selected": len(chosen), "selected_features": [r[0] for r in rows]}
    return Report(summary, "selected", columns, rows, text, {"features": every})
