"""``sparsestat labels``: flag the likely mislabeled rows of a CSV file."""

from __future__ import annotations

import argparse

import numpy as np


def add_parser(subparsers) -> None:
    """Register the ``labels`` sub-command."""
    from sparsestat.cli import command_parser, fraction, whole_number

    p = command_parser(
        subparsers, "labels",
        help="flag the rows whose class label is likely wrong (noisy labels)",
        description="Flag the likely mislabeled rows of a CSV file holding a label column and "
        "either features (numbers) or, with --pred-probs, a classifier's out-of-sample class "
        "probabilities (one column per class, named after the class). Print the flagged "
        "rows with the label the data suggest.",
        result="the flagged rows (row, label, suggested_label, margin, "
        "neighbour_disagreement, entry_time)")
    p.add_argument("--label", required=True, help="column of the (possibly wrong) class labels")
    p.add_argument("--features", help="comma-separated feature (or probability) columns "
                   "(default: all other columns)")
    p.add_argument("--pred-probs", action="store_true",
                   help="the columns are out-of-sample class probabilities (e.g. from "
                   "cross_val_predict(..., method='predict_proba')), one per class and named "
                   "after it; each row sums to 1")
    p.add_argument("--contamination", type=fraction(auto=True), default="auto",
                   help="'auto' (default: as many rows as the estimated noise rate) or the "
                   "fraction of rows to flag")
    p.add_argument("--neighbors", type=whole_number(1), default=15,
                   help="nearest neighbours of each row in the noise-rate estimate "
                   "(default 15)")
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the split into pieces (default 0)")
    p.set_defaults(func=run)


def probability_columns(table, names: list[str], labels: np.ndarray) -> np.ndarray:
    """The probability columns in the order of ``np.unique(labels)``, matched by name."""
    from sparsestat._csv import CSVError, rows_phrase

    classes = np.unique(labels).tolist()
    missing = [c for c in classes if c not in names]
    extra = [n for n in names if n not in classes]
    if missing or extra:
        raise CSVError(
            f"with --pred-probs, name one probability column after each class: the labels "
            f"are {', '.join(map(repr, classes[:8]))}{' ...' if len(classes) > 8 else ''}; "
            + (f"no column for {missing[0]!r}" if missing else f"column {extra[0]!r} is no "
               "class") + " (choose the columns with --features)")
    P = table.matrix(classes)
    for bad, what in ((np.any(P < 0, axis=1), "a negative probability"),
                      (np.abs(P.sum(axis=1) - 1.0) > 1e-3, "probabilities that do not sum to 1")):
        rows = np.flatnonzero(bad)
        if rows.size:
            verb = "has" if rows.size == 1 else "have"
            raise CSVError(f"{rows_phrase(rows)} of {table.name} {verb} {what}; each row of "
                           "the probability columns must hold class probabilities that sum "
                           "to 1 (predict_proba's output)")
    return P


def run(args: argparse.Namespace) -> int:
    """Fit the detector on the CSV file and report; exit status 0."""
    from sparsestat._csv import read_table
    from sparsestat.cli import check_output, emit, fit
    from sparsestat.robust import NoisyLabelDetector

    check_output(args)
    table = read_table(args.data, args.delimiter)
    y = np.array(table.text(args.label, "label column"), dtype=str)
    names = table.names(args.features, (args.label,), "--features")
    det = NoisyLabelDetector(args.contamination, n_neighbors=args.neighbors,
                             random_state=args.random_state)
    if args.pred_probs:
        fit(det, ("contamination",), None, y, pred_probs=probability_columns(table, names, y),
            replace={"pred_probs": "the probability columns"})
    else:
        fit(det, ("contamination",), table.matrix(names), y)
    emit(report(det, y, args.show), args)
    return 0


def report(det, y, show: int):
    """The :class:`~sparsestat.cli.Report` of a fitted :class:`NoisyLabelDetector`."""
    from sparsestat.cli import Report, aligned, more

    flagged = np.flatnonzero(det.outliers_)
    # most suspect first: the label's fitted score furthest behind the best one
    flagged = flagged[np.lexsort((flagged, -det.margins_[flagged]))]
    columns = ["row", "label", "suggested_label", "margin", "neighbour_disagreement",
               "entry_time"]
    rows = [[int(i) + 1, str(y[i]), str(det.suggested_labels_[i]), float(det.margins_[i]),
             float(det.neighbour_disagreement_[i]), float(det.entry_times_[i])]
            for i in flagged]
    text = [f"{len(rows)} of {y.size} rows flagged as likely mislabeled (estimated noise rate "
            f"{det.noise_rate_:.3g}; {det.classes_.size} classes)"]
    if show and rows:
        text += aligned(columns[:-1], [[str(r[0]), r[1], r[2], f"{r[3]:.3g}", f"{r[4]:.2f}"]
                                       for r in rows[:show]])
        text += more(len(rows), show)
    summary = {"n_rows": int(y.size), "n_flagged": len(rows), "noise_rate": det.noise_rate_,
               "classes": [str(c) for c in det.classes_],
               "flagged_rows": [r[0] for r in sorted(rows)]}
    return Report(summary, "flagged", columns, rows, text)
