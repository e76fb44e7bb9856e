"""KnockoffSelector: false discovery rate and power over a grid of designs, and knockpy's
equicorrelated knockoffs side by side on block-correlated features.

Grid (``P = 50`` features, ``Q = 0.2``): fixed-X knockoffs at n/p = 2 (``n = 2p + 1``),
4 and 10; model-X Gaussian knockoffs with the true covariance at n/p = 0.5, 1 and 3;
independent, AR(1) 0.3, AR(1) 0.8 and equicorrelated-block (blocks of 10, correlation
0.5) features; Gaussian and Student-t (5 degrees of freedom) noise; 10 (sparse) or 25
(dense: half the features) true coefficients of size ``5 / sqrt(n)`` and random sign;
s-values ``'sdp'`` and ``'equi'``; statistics ``'lcd'`` and ``'lbi'``. The four
selectors of a cell see the same replicates. A second table estimates the covariance
(Ledoit-Wolf). knockpy's ``KnockoffFilter`` (equicorrelated S, its LCD statistic) runs on
the same data as sparsestat's ``s_method='equi'`` on the block design, together with
sparsestat's pipeline with the closed-form s-values ``min(2 lambda_min, 1)`` on the
boundary of feasibility; where knockpy is not installed its columns read "n/a".
"""

from __future__ import annotations

import warnings
import zlib
from unittest import mock

import numpy as np
from threadpoolctl import threadpool_limits

from sparsestat import KnockoffSelector
from sparsestat.feature_selection import _knockoffs
from sparsestat.feature_selection._svalues import compute_s, equicorrelated_s
from validation._designs import fmt, make_design, make_noise, markdown_table, mean_se

TITLE = "Knockoffs: false discovery rate and power, and knockpy side by side"

P = 50
Q = 0.2
AMPLITUDE = 5.0                     # coefficient size times sqrt(n)
SIGNALS = {"sparse": 10, "dense": 25}
CORRELATIONS = ("iid", "ar0.3", "ar0.8", "block0.5")
NOISES = ("gaussian", "t5")
RATIOS = {"fixed": (2, 4, 10), "gaussian": (0.5, 1, 3)}
METHODS = (("sdp", "lcd"), ("equi", "lcd"), ("sdp", "lbi"), ("equi", "lbi"))
REPLICATES = 50
PEER_REPLICATES = 100


def design_covariance(p: int, correlation: str) -> np.ndarray:
    """Population correlation matrix of :func:`validation._designs.make_design`."""
    j = np.arange(p)
    if correlation == "iid":
        return np.eye(p)
    if correlation.startswith("ar"):
        return float(correlation[2:]) ** np.abs(np.subtract.outer(j, j))
    r = float(correlation[5:])
    block = j // 10
    return np.where(block[:, None] == block[None, :], r, 0.0) + (1.0 - r) * np.eye(p)


def sample_size(sampler: str, ratio: float) -> int:
    """n for a ratio n/p; fixed-X at n/p = 2 gets the least it accepts, 2p + 1."""
    n = int(round(ratio * P))
    return 2 * P + 1 if sampler == "fixed" and ratio == 2 else n


def replicate(rng, n, correlation, noise, k):
    """One data set: ``(X, y, truth)``."""
    X = make_design(n, P, correlation, rng)
    beta = np.zeros(P)
    support = rng.choice(P, k, replace=False)
    beta[support] = AMPLITUDE / np.sqrt(n) * rng.choice([-1.0, 1.0], k)
    return X, X @ beta + make_noise(n, noise, rng, X), beta != 0


def fdp_power(selected, truth) -> tuple[float, float]:
    n_sel = int(selected.sum())
    return (selected & ~truth).sum() / max(1, n_sel), (selected & truth).sum() / truth.sum()


def cell_rng(*label) -> np.random.Generator:
    """A generator seeded by the cell's label, so that each cell is reproducible alone."""
    return np.random.default_rng(zlib.crc32(repr(label).encode()))


def run_cell(sampler, ratio, correlation, noise, signal, methods, replicates, *,
             estimate_sigma=False):
    """``{method: (fdp, power)}`` arrays over the replicates of one cell of the grid.

    ``methods`` maps a name to a function ``(X, y, Sigma, seed) -> selected mask``.
    """
    n = sample_size(sampler, ratio)
    Sigma = None if sampler == "fixed" or estimate_sigma else design_covariance(P, correlation)
    rng = cell_rng(sampler, ratio, correlation, noise, signal, estimate_sigma)
    out = {name: ([], []) for name in methods}
    for r in range(replicates):
        X, y, truth = replicate(rng, n, correlation, noise, SIGNALS[signal])
        for name, select in methods.items():
            fdp, power = fdp_power(select(X, y, Sigma, r), truth)
            out[name][0].append(fdp)
            out[name][1].append(power)
    return {name: (np.array(f), np.array(pw)) for name, (f, pw) in out.items()}


def sparsestat_method(sampler, s_method, statistic):
    def select(X, y, Sigma, seed):
        return KnockoffSelector(fdr=Q, knockoffs=sampler, Sigma=Sigma, s_method=s_method,
                                statistic=statistic, random_state=seed).fit(X, y).support_
    return select


def boundary_compute_s(R, method):
    """The closed-form equicorrelated s-values, on the boundary of feasibility."""
    return equicorrelated_s(R) if method == "equi" else compute_s(R, method)


def boundary_equi_method(sampler):
    """sparsestat's selector with ``s = min(2 lambda_min, 1)`` (2R - diag(s) singular)."""
    select = sparsestat_method(sampler, "equi", "lcd")

    def boundary(X, y, Sigma, seed):
        with mock.patch.object(_knockoffs, "compute_s", boundary_compute_s):
            return select(X, y, Sigma, seed)
    return boundary


def has_knockpy() -> bool:
    try:
        import knockpy  # noqa: F401
    except ImportError:
        return False
    return True


def knockpy_method(sampler):
    """knockpy's KnockoffFilter, equicorrelated S-matrix, LCD statistic."""
    from knockpy import KnockoffFilter

    def select(X, y, Sigma, seed):
        np.random.seed(seed)
        kfilter = KnockoffFilter(ksampler="fx" if sampler == "fixed" else "gaussian",
                                 fstat="lcd", knockoff_kwargs={"method": "equicorrelated"})
        kwargs = {} if Sigma is None else {"Sigma": Sigma}
        return np.asarray(kfilter.forward(X=X, y=y, fdr=Q, **kwargs)).astype(bool)
    return select


def _cell(values) -> str:
    fdp, power = values
    return f"{fmt(*mean_se(fdp), 2)} / {fmt(*mean_se(power), 2)}"


def _over_q(results) -> list[tuple[float, float, str]]:
    """``(fdr, se, label)`` of every cell and method, largest FDR first."""
    rows = []
    for label, cell in results.items():
        for name, (fdp, _) in cell.items():
            rows.append((*mean_se(fdp), f"{label}, {name}"))
    return sorted(rows, reverse=True)


def grid_section(quick: bool) -> tuple[str, list]:
    correlations = ("ar0.3", "block0.5") if quick else CORRELATIONS
    noises = ("gaussian",) if quick else NOISES
    signals = ("sparse",) if quick else tuple(SIGNALS)
    replicates = 5 if quick else REPLICATES
    names = [f"{s} · {st}" for s, st in METHODS]
    parts, everything = [], {}
    for sampler in ("fixed", "gaussian"):
        methods = {f"{s} · {st}": sparsestat_method(sampler, s, st) for s, st in METHODS}
        rows, results = [], {}
        for ratio in RATIOS[sampler]:
            for correlation in correlations:
                for noise in noises:
                    for signal in signals:
                        cell = run_cell(sampler, ratio, correlation, noise, signal, methods,
                                        replicates)
                        label = (f"{sampler} n={sample_size(sampler, ratio)} {correlation} "
                                 f"{noise} k={SIGNALS[signal]}")
                        results[label] = cell
                        rows.append([f"{ratio:g}", sample_size(sampler, ratio), correlation,
                                     noise, SIGNALS[signal]] + [_cell(cell[m]) for m in names])
        everything.update(results)
        head = ("Fixed-X knockoffs" if sampler == "fixed"
                else "Model-X Gaussian knockoffs, true covariance")
        parts.append(f"### {head}: FDR / power\n\n" + markdown_table(
            ["n/p", "n", "correlation", "noise", "true k"] + names, rows))
    return "\n\n".join(parts), _over_q(everything)


def estimated_sigma_section(quick: bool) -> str:
    replicates = 5 if quick else REPLICATES
    correlations = ("block0.5",) if quick else ("iid", "ar0.8", "block0.5")
    methods = {"sdp · lcd": sparsestat_method("gaussian", "sdp", "lcd"),
               "sdp · lbi": sparsestat_method("gaussian", "sdp", "lbi")}
    rows = []
    for ratio in (1, 3):
        for correlation in correlations:
            for signal in SIGNALS:
                cell = run_cell("gaussian", ratio, correlation, "gaussian", signal, methods,
                                replicates, estimate_sigma=True)
                rows.append([f"{ratio:g}", sample_size("gaussian", ratio), correlation,
                             SIGNALS[signal]] + [_cell(cell[m]) for m in methods])
    return ("### Model-X Gaussian knockoffs, covariance estimated (Ledoit-Wolf): FDR / power\n\n"
            "Gaussian noise. The guarantee is for the true covariance; with an estimate it is "
            "approximate.\n\n"
            + markdown_table(["n/p", "n", "correlation", "true k"] + list(methods), rows))


def peer_section(quick: bool) -> str:
    replicates = 10 if quick else PEER_REPLICATES
    peer = has_knockpy()
    rows, paired = [], []
    for sampler, ratio in (("gaussian", 1), ("gaussian", 3), ("fixed", 4)):
        methods = {"sparsestat equi": sparsestat_method(sampler, "equi", "lcd"),
                   "sparsestat, boundary s": boundary_equi_method(sampler)}
        if peer:
            methods["knockpy equi"] = knockpy_method(sampler)
        for signal in SIGNALS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cell = run_cell(sampler, ratio, "block0.5", "gaussian", signal, methods,
                                replicates)
            label = [sampler, sample_size(sampler, ratio), SIGNALS[signal]]
            row = label + [_cell(cell["sparsestat equi"]), _cell(cell["sparsestat, boundary s"])]
            row.append(_cell(cell["knockpy equi"]) if peer else "n/a")
            rows.append(row)
            ours = cell["sparsestat equi"][1]
            diffs = [fmt(*mean_se(ours - cell["sparsestat, boundary s"][1]), 3)]
            diffs.append(fmt(*mean_se(ours - cell["knockpy equi"][1]), 3) if peer else "n/a")
            paired.append(label + diffs)
    return (
        "### Equicorrelated knockoffs on block-correlated features, knockpy side by side\n\n"
        f"Blocks of 10 features with correlation 0.5 (`lambda_min = 1/2`), Gaussian noise, "
        f"{replicates} replicates per row, the three methods on the same data; model-X rows "
        "give every method the true covariance. \"sparsestat equi\" is "
        "`KnockoffSelector(s_method='equi')` (LCD statistic); \"sparsestat, boundary s\" is "
        "the same pipeline with the closed form `s = min(2 lambda_min, 1) = 1`, which makes "
        "`2 Sigma - diag(s)` singular along 45 of 50 directions; \"knockpy equi\" is "
        "knockpy's `KnockoffFilter(fstat='lcd')` with its equicorrelated S-matrix (the closed "
        "form scaled down by a 10-step bisection until `2 Sigma - S - 1e-5 I` is positive "
        "definite: `s = 0.999` here). FDR / power:\n\n"
        + markdown_table(["sampler", "n", "true k", "sparsestat equi", "sparsestat, boundary s",
                          "knockpy equi"], rows)
        + "\n\nPaired power differences (same data):\n\n"
        + markdown_table(["sampler", "n", "true k", "sparsestat equi - boundary s",
                          "sparsestat equi - knockpy equi"], paired))


def run(quick: bool) -> str:
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid, over = grid_section(quick)
        estimated = estimated_sigma_section(quick)
    peer = peer_section(quick)
    n_cells = len(over)
    worst_fdr, worst_se, worst = over[0]
    above = [row for row in over if row[0] > Q + 2 * row[1]]
    replicates = 5 if quick else REPLICATES
    intro = (
        f"## {TITLE}\n\n"
        f"`KnockoffSelector(fdr={Q})` on {P} Gaussian features (n/p from 0.5 to 10, "
        "independent, AR(1) 0.3 and 0.8, or blocks of 10 with correlation 0.5), "
        "Gaussian or Student-t(5) noise, 10 or 25 true coefficients of size `5/sqrt(n)` with "
        "random signs; `random_state` = replicate. The promise is `FDR <= q`: exact for "
        "knockoff+ with fixed-X knockoffs under Gaussian noise and with model-X knockoffs "
        "drawn from the true covariance (any noise); power is reported beside it. Each cell "
        f"is the mean over {replicates} replicates, the four selectors of a row (s-values · "
        "statistic) on the same data, as `FDR (se) / power (se)`. Over all "
        f"{n_cells} cells and selectors of the two grids the largest FDR is "
        f"{worst_fdr:.3f} (se {worst_se:.3f}; {worst}); {len(above)} exceed `q` by more than "
        "two standard errors"
        + (": " + "; ".join(f"{lab} {f:.3f} ({se:.3f})" for f, se, lab in above) if above
           else "")
        + ".\n")
    return "\n".join([intro, grid, "", estimated, "", peer])
