"""``sparsestat outliers``: robust regression of a CSV column, flagged rows printed."""

from __future__ import annotations

import argparse
import csv
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
    p = subparsers.add_parser(
        "outliers", help="robust linear regression; flag the outlying rows of a CSV file",
        description="Regress one column of a CSV file on others with the mean-shift outlier "
        "model; print the flagged rows (1-based data-row numbers and their values) and a "
        "one-line summary.",
    )
    p.add_argument("data", help="CSV file with a header row")
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
    p.add_argument("--output", help="write the flagged rows (with their estimated shift) to "
                   "this CSV file")
    p.add_argument("--plot", help="save the path of the shifts gamma to this PNG file")
    p.add_argument("--keep-duplicates", action="store_true",
                   help="fit rows that repeat exactly instead of refusing them")
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the robust start (default 0)")
    p.add_argument("--show", type=int, default=50,
                   help="print at most this many flagged rows (default 50)")
    p.set_defaults(func=run)


def _numeric_column(header, rows, name, path):
    from sparsestat.cli import CLIError

    if name not in header:
        raise CLIError(f"column {name!r} not in {path} (columns: {', '.join(header)})")
    j = header.index(name)
    out = np.empty(len(rows))
    for i, row in enumerate(rows):
        value = row[j].strip() if j < len(row) else ""
        try:
            out[i] = float(value)
        except ValueError:
            shown = repr(value) if value else "an empty cell"
            raise CLIError(f"column {name!r} of {path} must hold numbers; data row {i + 1} has "
                           f"{shown}") from None
    bad = ~np.isfinite(out)
    if bad.any():
        raise CLIError(f"column {name!r} of {path} has a NaN or inf value in data row "
                       f"{int(np.flatnonzero(bad)[0]) + 1}")
    return out


def load_table(path, target: str, features: str | None):
    """Read ``path`` and return ``(X, y, feature_names)``; bad input raises CLIError."""
    from sparsestat.cli import CLIError, read_csv_table

    header, rows = read_csv_table(path)
    if target not in header:
        raise CLIError(f"target column {target!r} not in {path} "
                       f"(columns: {', '.join(header)})")
    if features is None:
        names = [h for h in header if h != target]
    else:
        names = [f.strip() for f in features.split(",") if f.strip()]
        if target in names:
            raise CLIError(f"the target column {target!r} is also listed in --features")
    if not names:
        raise CLIError(f"{path} has no feature column besides the target {target!r}")
    y = _numeric_column(header, rows, target, path)
    X = np.column_stack([_numeric_column(header, rows, name, path) for name in names])
    return X, y, names


def run(args: argparse.Namespace) -> int:
    """Fit the detector on the CSV file and report; exit status 0."""
    from sparsestat.cli import CLIError, atomic_write
    from sparsestat.robust import MeanShiftOutlierDetector

    contamination = _contamination(args.contamination)
    noise_df = _noise_df(args.noise_df)
    X, y, names = load_table(args.data, args.target, args.features)
    for out in (args.output, args.plot):
        if out is not None and not Path(out).resolve().parent.is_dir():
            raise CLIError(f"output folder of {out!r} does not exist; create it first")
    try:
        det = MeanShiftOutlierDetector(
            contamination=contamination, solver=args.solver, noise_df=noise_df,
            duplicates="keep" if args.keep_duplicates else "raise",
            random_state=args.random_state).fit(X, y)
    except ValueError as exc:
        msg = str(exc).splitlines()[0]
        if "duplicated sample" in msg:
            msg = msg.split(" Repeated samples")[0] + " Remove them or pass --keep-duplicates."
        raise CLIError(msg) from None
    flagged = np.flatnonzero(det.outliers_)
    flagged = flagged[np.argsort(det.entry_times_[flagged], kind="stable")]
    _print_rows(det, X, y, names, args.target, flagged, args.show)
    fit = " ".join(f"{c:+.4g}*{n}" for c, n in zip(det.coef_, names))
    tail = "" if det.noise_df_ is None else f", t noise with {det.noise_df_:.3g} df"
    rule = (f"auto: cutoff {det.cutoff_:.2f} SDs{tail}" if contamination == "auto"
            else f"contamination {contamination:g}")
    print(f"{det.n_outliers_} of {y.size} rows flagged as outliers ({rule}, residual scale "
          f"{det.scale_:.4g}); robust fit: {args.target} = {det.intercept_:.4g} {fit}")
    if args.output:
        def write_csv(tmp):
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["row", args.target, *names, "gamma", "entry_time"])
                for i in flagged:
                    w.writerow([i + 1, repr(float(y[i])), *map(repr, map(float, X[i])),
                                repr(float(det.gamma_[i])), repr(float(det.entry_times_[i]))])
        atomic_write(args.output, write_csv)
        print(f"flagged rows written to {args.output}")
    if args.plot:
        save_path_plot(det, args.plot, title=f"{Path(args.data).name}: shifts gamma")
        print(f"path of the shifts saved to {args.plot}")
    return 0


def _print_rows(det, X, y, names, target, flagged, show):
    if flagged.size == 0:
        print("no row flagged")
        return
    cols = ["row", target, *names, "gamma"]
    table = [[str(i + 1), f"{y[i]:.6g}", *(f"{v:.6g}" for v in X[i]),
              f"{det.gamma_[i]:+.4g}"] for i in flagged[:show]]
    widths = [max(len(c), *(len(r[k]) for r in table)) for k, c in enumerate(cols)]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths)))
    for r in table:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))
    if flagged.size > show:
        print(f"... and {flagged.size - show} more (use --show or --output)")


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
    n = det.outliers_.shape[0]
    RegularizationPathDisplay.from_path(
        det.regularization_path_, ax=ax, n_labels=n_labels,
        feature_names=[f"row {i + 1}" for i in range(n)], t_chosen=det.stop_time_,
        name=title or "MeanShiftOutlierDetector")
    ax.set_ylabel("shift gamma_i")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
