"""Sparse regression paths: units, estimation error and selection of LBIRegressorCV.

Three tables over designs the tests were not tuned on:

1. units -- ``fit(X, c * y + d)`` for ``c`` in 1e-8 ... 1e8 must return ``c`` times the
   coefficients with the same iterations and entry order (the largest relative deviation
   over the grid of scales is reported, with the worst iteration-count difference);
2. estimation error and selection of ``LBIRegressorCV`` against scikit-learn's
   ``LassoCV`` on the same data, over n/p from 0.5 to 100 and four correlation designs;
3. the same under heavy-tailed and heteroscedastic noise and a dense signal.
"""

from __future__ import annotations

import warnings

import numpy as np

from validation._designs import (fmt, make_design, make_noise, make_signal, markdown_table,
                                 mean_se)

TITLE = "Sparse regression paths (LBIRegressor, LBIRegressorCV)"
SCALES = (1e-8, 1e-4, 1e4, 1e8)


def _problem(n, p, correlation, noise, signal, rng, snr=4.0):
    X = make_design(n, p, correlation, rng)
    beta = make_signal(p, signal, rng, n_true=5, amplitude=1.0)
    mu = X @ beta
    y = mu + make_noise(n, noise, rng, X) * np.std(mu) / np.sqrt(snr) + 3.0
    return X, y, beta


def _units(X, y):
    """Largest relative coefficient deviation and iteration difference over the scales."""
    from sparsestat import LBIRegressor

    ref = LBIRegressor(n_times=50).fit(X, y)
    order = np.argsort(ref.entry_times_, kind="stable")
    worst, iters, same_order = 0.0, 0, True
    for c in SCALES:
        fit = LBIRegressor(n_times=50).fit(X, c * y - 2.0 * c)
        dev = np.abs(fit.coef_ / c - ref.coef_).max() / max(np.abs(ref.coef_).max(), 1e-300)
        worst = max(worst, float(dev))
        iters = max(iters, abs(fit.n_iter_ - ref.n_iter_))
        same_order &= bool(np.array_equal(np.argsort(fit.entry_times_, kind="stable"), order))
    return worst, iters, same_order


def _selection(X, y, beta, seed):
    from sklearn.linear_model import LassoCV

    from sparsestat import LBIRegressorCV

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {"LBIRegressorCV": LBIRegressorCV(cv=5, n_times=50).fit(X, y),
                "LassoCV": LassoCV(cv=5, alphas=50, random_state=seed).fit(X, y)}
    true = beta != 0
    for name, est in fits.items():
        sel = est.coef_ != 0
        err = np.linalg.norm(est.coef_ - beta) / np.linalg.norm(beta)
        fdp = (sel & ~true).sum() / max(sel.sum(), 1)
        tpr = (sel & true).sum() / max(true.sum(), 1)
        out[name] = (err, fdp, tpr)
    return out


def _cell(n, p, correlation, noise, signal, reps, seed):
    rows = {"LBIRegressorCV": [], "LassoCV": []}
    for r in range(reps):
        rng = np.random.default_rng(seed + r)
        X, y, beta = _problem(n, p, correlation, noise, signal, rng)
        for name, vals in _selection(X, y, beta, seed + r).items():
            rows[name].append(vals)
    return {k: np.asarray(v) for k, v in rows.items()}


def _selection_rows(cells):
    rows = []
    for label, res in cells:
        a, b = res["LBIRegressorCV"], res["LassoCV"]
        rows.append([*label,
                     fmt(*mean_se(a[:, 0])), fmt(*mean_se(b[:, 0])),
                     fmt(*mean_se(a[:, 1])), fmt(*mean_se(b[:, 1])),
                     fmt(*mean_se(a[:, 2])), fmt(*mean_se(b[:, 2]))])
    return rows


def run(quick: bool = False) -> str:
    reps = 3 if quick else 20
    p = 40
    ratios = (0.5, 2, 10, 100) if not quick else (2, 10)
    corrs = ("iid", "ar0.3", "ar0.8", "block0.5") if not quick else ("iid", "ar0.8")

    unit_rows = []
    for ratio in ratios:
        for corr in corrs:
            rng = np.random.default_rng(1000 + int(ratio * 10))
            X, y, _ = _problem(int(ratio * p), p, corr, "gaussian", "sparse", rng)
            worst, iters, same = _units(X, y)
            unit_rows.append([f"{ratio:g}", corr, f"{worst:.1e}", iters, "yes" if same else "no"])

    cells = []
    for ratio in ratios:
        for corr in corrs:
            res = _cell(int(ratio * p), p, corr, "gaussian", "sparse", reps, 2000)
            cells.append(((f"{ratio:g}", corr), res))
    noise_cells = []
    for noise in ("gaussian", "t5", "hetero"):
        for signal in ("sparse", "dense"):
            res = _cell(10 * p, p, "ar0.3", noise, signal, reps, 3000)
            noise_cells.append(((noise, signal), res))

    head = ["rel. error LBI", "rel. error lasso", "FDP LBI", "FDP lasso", "TPR LBI",
            "TPR lasso"]
    return "\n\n".join([
        f"## {TITLE}",
        "The path runs on a standardized target, so its answer must not depend on the units "
        "of `y`: for each design below one data set is refitted with `y` multiplied by "
        f"{', '.join(f'{c:g}' for c in SCALES)} and shifted, and the table gives the largest "
        "relative change of `coef_ / c` and of the iteration count (the promise: below 1e-8 "
        "and 0, the same entry order). The other tables compare the cross-validated model "
        "(`LBIRegressorCV(cv=5)`) with scikit-learn's `LassoCV(cv=5)` on the same data: "
        "relative estimation error `‖β̂ − β‖ / ‖β‖`, false discovery proportion and true "
        f"positive rate of the selected support; p = {p}, 5 true coefficients of size 1 "
        f"(dense: all p coefficients drawn N(0, 1/p)), signal-to-noise ratio 4, {reps} "
        "replicates per cell.",
        "**Units** (Gaussian noise, sparse signal)",
        markdown_table(["n/p", "correlation", "max rel. change of coef", "iteration change",
                        "same entry order"], unit_rows),
        "**Estimation and selection against LassoCV** (Gaussian noise, sparse signal)",
        markdown_table(["n/p", "correlation", *head], _selection_rows(cells)),
        "**Noise laws and dense signals** (n/p = 10, AR(1) 0.3)",
        markdown_table(["noise", "signal", *head], _selection_rows(noise_cells)),
    ])
