"""``sparsestat outliers``: robust regression of a CSV column, flagged rows printed."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _contamination(text: str):
    from sparsestat.cli import CLIError

    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"--contamination must be 'auto' or a fraction in (0, 0.5); "
                       f"got {text!r}") from None
    if not 0.0 < value < 0.5:
        raise CLIError(f"--contamination must be a fraction in (0, 0.5); got {text!r}")
    return value


def _noise_df(text: str | None):
    from sparsestat.cli import CLIError

    if text is None or text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or not np.isfinite(value):
        raise CLIError(f"--noise-df must be 'auto' or a positive number of degrees of freedom; "
                       f"got {text!r}")
    return value


def add_parser(subparsers) -> None:
    """Register the ``outliers`` sub-command."""
    from sparsestat.cli import command_parser

    p = command_parser(
        subparsers, "outliers",
        help="robust linear regression; flag the outlying rows of a CSV file",
        description="Regress one column of a CSV file on others with the mean-shift outlier "
        "model; print the flagged rows (their row numbers and values) and a one-line "
        "summary.",
        result="the flagged rows (row, target, features, gamma, entry_time)")
    p.add_argument("--target", required=True, help="column to regress (the response)")
    p.add_argument("--features", help="comma-separated feature columns (default: all other "
                   "columns)")
    p.add_argument("--contamination", default="auto",
                   help="'auto' (default: data-adaptive stopping rule) or the fraction of rows "
                   "to flag")
    p.add_argument("--noise-df",
                   help="heavy-tailed noise: cut off with a Student t law of this many degrees "
                   "of freedom, or 'auto' to match them to the data (default: normal noise)")
    p.add_argument("--solver", choices=["lbi", "iss"], default="lbi",
                   help="path solver (default lbi; iss is exact, for small data)")
    p.add_argument("--plot", help="save the path of the shifts gamma to this PNG file")
    p.add_argument("--duplicates", choices=["warn", "raise", "keep"], default="warn",
                   help="rows that repeat exactly (same features and target): fit them and "
                   "warn on stderr (default, as MeanShiftOutlierDetector), refuse them, or "
                   "fit them silently")
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the robust start (default 0)")
    p.set_defaults(func=run)


def load_table(path, target: str, features: str | None, delimiter: str = ","):
    """Read ``path`` and return ``(X, y, feature_names)``; bad input raises ``CSVError``."""
    from sparsestat._csv import read_table

    table = read_table(path, delimiter)
    table.index(target, "target column")
    names = table.names(features, (target,), "--features")
    return table.matrix(names), table.numbers(target), names


def run(args: argparse.Namespace) -> int:
    """Fit the detector on the CSV file and report; exit status 0."""
    from sparsestat.cli import CLIError, check_output, emit, fit
    from sparsestat.robust import MeanShiftOutlierDetector

    contamination = _contamination(args.contamination)
    noise_df = _noise_df(args.noise_df)
    check_output(args)
    if args.plot is not None and not Path(args.plot).resolve().parent.is_dir():
        raise CLIError(f"output folder of {args.plot!r} does not exist; create it first")
    X, y, names = load_table(args.data, args.target, args.features, args.delimiter)
    det = MeanShiftOutlierDetector(
        contamination=contamination, solver=args.solver, noise_df=noise_df,
        duplicates=args.duplicates, random_state=args.random_state)
    fit(det, ("duplicates", "contamination", "noise_df", "solver"), X, y)
    emit(report(det, X, y, names, args.target, args.show), args)
    if args.plot:
        save_path_plot(det, args.plot, title=f"{Path(args.data).name}: shifts gamma")
        print(f"path of the shifts saved to {args.plot}")
    return 0


def report(det, X, y, names, target, show):
    """The :class:`~sparsestat.cli.Report` of a fitted detector on ``X, y``."""
    from sparsestat.cli import Report, aligned, more

    flagged = np.flatnonzero(det.outliers_)
    flagged = flagged[np.argsort(det.entry_times_[flagged], kind="stable")]
    columns = ["row", target, *names, "gamma", "entry_time"]
    table = [[int(i) + 1, float(y[i]), *map(float, X[i]), float(det.gamma_[i]),
              float(det.entry_times_[i])] for i in flagged]
    text = []
    if show and table:
        text += aligned(columns[:-1], [[str(r[0]), *(f"{v:.6g}" for v in r[1:-2]),
                                        f"{r[-2]:+.4g}"] for r in table[:show]])
        text += more(len(table), show)
    fit = " ".join(f"{c:+.4g}*{n}" for c, n in zip(det.coef_, names))
    tail = "" if det.noise_df_ is None else f", t noise with {det.noise_df_:.3g} df"
    rule = (f"auto: cutoff {det.cutoff_:.2f} SDs{tail}" if det.contamination == "auto"
            else f"contamination {det.contamination:g}")
    text.append(f"{det.n_outliers_} of {y.size} rows flagged as outliers ({rule}, residual "
                f"scale {det.scale_:.4g}); robust fit: {target} = {det.intercept_:.4g} {fit}")
    summary = {"n_rows": int(y.size), "n_flagged": det.n_outliers_,
               "flagged_rows": det.outlier_rows_.tolist(), "target": target,
               "contamination": det.contamination, "cutoff": det.cutoff_,
               "noise_df": det.noise_df_, "scale": det.scale_, "intercept": det.intercept_,
               "coef": dict(zip(names, map(float, det.coef_)))}
    return Report(summary, "flagged", columns, table, text)


def save_path_plot(det, path, title: str | None = None, n_labels: int = 10) -> None:
    """Save the gamma path of a fitted detector as a PNG through an atomic write."""
    from sparsestat.cli import CLIError, atomic_write

    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise CLIError('--plot needs matplotlib: pip install "sparsestat[plot]"') from None
    from sparsestat.plotting import RegularizationPathDisplay

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    # the display names rows from 1 and marks the stop time, as from Python
    RegularizationPathDisplay.from_estimator(det, ax=ax, n_labels=n_labels,
                                             name=title or "MeanShiftOutlierDetector")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
