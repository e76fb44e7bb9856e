"""KnockoffSelector: false discovery rate and power over a grid of designs, and knockpy's
equicorrelated knockoffs side by side on block-correlated features; every S-method
(maxent, MVR, SDP, equicorrelated) against knockpy's default pipeline on AR(1) 0.3 / 0.8
and block 0.6 designs at n = 2.2p and 10p; group knockoffs against knockpy's; derandomized
against single-draw knockoffs (power, FDR, stability).

Grid (``P = 50`` features, ``Q = 0.2``): fixed-X knockoffs at n/p = 2 (``n = 2p + 1``),
4 and 10; model-X Gaussian knockoffs with the true covariance at n/p = 0.5, 1 and 3;
independent, AR(1) 0.3, AR(1) 0.8 and equicorrelated-block (blocks of 10, correlation
0.5) features; Gaussian and Student-t (5 degrees of freedom) noise; 10 (sparse) or 25
(dense: half the features) true coefficients of size ``5 / sqrt(n)`` and random sign;
the default (maxent) s-values with the statistics ``'lcd'`` and ``'lbi'``. The two
selectors of a cell see the same replicates. A second table estimates the covariance
(Ledoit-Wolf). knockpy's ``KnockoffFilter`` (equicorrelated S, its LCD statistic) runs on
the same data as sparsestat's ``s_method='equi'`` on the block design, together with
sparsestat's pipeline with the closed-form s-values ``min(2 lambda_min, 1)`` on the
boundary of feasibility; where knockpy is not installed its columns read "n/a".

Then every S-method (maxent, MVR, SDP, equicorrelated) against knockpy's default pipeline
(``KnockoffFilter()``: MVR, cross-validated lasso) on AR(1) 0.3 / 0.8 and block 0.6
designs, p = 60, n = 2.2p and 10p, k = 10 and p/4, fixed-X and model-X, paired on the same
data, 100 replicates per cell; group knockoffs against knockpy's on pairs of features with
correlation 0.95; derandomized knockoffs against single draws (power, FDR and the Jaccard
index between the selections of two seeds); and GGM knockoffs against knockpy's
``KnockoffGGM`` on a chain and a dense random graph.
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
from sparsestat.feature_selection._threshold import knockoff_threshold
from validation._designs import fmt, make_design, make_noise, markdown_table, mean_se

TITLE = "Knockoffs: false discovery rate and power, and knockpy side by side"

P = 50
Q = 0.2
AMPLITUDE = 5.0                     # coefficient size times sqrt(n)
SIGNALS = {"sparse": 10, "dense": 25}
CORRELATIONS = ("iid", "ar0.3", "ar0.8", "block0.5")
NOISES = ("gaussian", "t5")
RATIOS = {"fixed": (2, 4, 10), "gaussian": (0.5, 1, 3)}
# the default s-values with both statistics; the S-methods are compared on their own table
METHODS = (("maxent", "lcd"), ("maxent", "lbi"))
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
    methods = {f"{s} · {st}": sparsestat_method("gaussian", s, st) for s, st in METHODS}
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
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extensions = [s_method_section(quick), mlr_section(quick), group_section(quick),
                      derandomized_section(quick), ggm_section(quick)]
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
        f"is the mean over {replicates} replicates, the selectors of a row (s-values · "
        "statistic; the default maxent s-values, the S-methods have their own table below) "
        "on the same data, as `FDR (se) / power (se)`. Over all "
        f"{n_cells} cells and selectors of the two grids the largest FDR is "
        f"{worst_fdr:.3f} (se {worst_se:.3f}; {worst}); {len(above)} exceed `q` by more than "
        "two standard errors"
        + (": " + "; ".join(f"{lab} {f:.3f} ({se:.3f})" for f, se, lab in above) if above
           else "")
        + ".\n")
    return "\n".join([intro, grid, "", estimated, "", peer, "", "\n\n".join(extensions)])


# ------------------------------------------- S-methods, knockpy's default pipeline, groups

SM_P = 60
SM_DESIGNS = ("ar0.3", "ar0.8", "block0.6")
SM_RATIOS = (2.2, 10)
SM_SIGNALS = (10, SM_P // 4)
SM_METHODS = ("mvr", "maxent", "sdp", "equi")
SM_REPLICATES = 100


# knockpy's S-matrix for a given Sigma, computed once per Sigma: with the true covariance it
# is the same for every replicate of a design (its MVR solver starts from a random point, so
# it agrees between seeds to 3e-5); the S-matrix solve is half of knockpy's time there
_KNOCKPY_S: dict = {}


def knockpy_default(sampler):
    """knockpy's ``KnockoffFilter`` with its defaults (MVR S-matrix, cross-validated lasso
    statistic), fixed-X or Gaussian sampler."""
    from knockpy import KnockoffFilter

    def select(X, y, Sigma, seed, groups=None):
        np.random.seed(seed)
        key = None if Sigma is None or groups is not None else Sigma.tobytes()
        known = {"S": _KNOCKPY_S[key]} if key in _KNOCKPY_S else {}
        kfilter = KnockoffFilter(ksampler="fx" if sampler == "fixed" else "gaussian",
                                 knockoff_kwargs=known)
        kwargs = {} if Sigma is None else {"Sigma": Sigma}
        if groups is not None:
            kwargs["groups"] = groups + 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen = np.asarray(kfilter.forward(X=X, y=y, fdr=Q, **kwargs)).astype(bool)
        if key is not None:
            _KNOCKPY_S.setdefault(key, kfilter.S)
        return chosen
    return select


def sm_replicates(sampler, design, ratio, k, replicates):
    """The data sets of one row of the S-method table: ``(r, X, y, truth, Sigma)``, the
    true covariance for model-X rows and ``None`` for fixed-X."""
    n = int(round(ratio * SM_P))
    Sigma = None if sampler == "fixed" else design_covariance_p(SM_P, design)
    rng = cell_rng("smethod", sampler, design, ratio, k)
    for r in range(replicates):
        X = make_design(n, SM_P, design, rng)
        beta = np.zeros(SM_P)
        beta[rng.choice(SM_P, k, replace=False)] = (
            AMPLITUDE / np.sqrt(n) * rng.choice([-1.0, 1.0], k))
        yield r, X, X @ beta + rng.standard_normal(n), beta != 0, Sigma


def s_method_section(quick: bool, replicates: int | None = None, designs=None,
                     samplers=("fixed", "gaussian")) -> str:
    """Every S-method against knockpy's default pipeline, paired on the same data."""
    replicates = replicates or (3 if quick else SM_REPLICATES)
    peer = has_knockpy()
    designs = designs or (("ar0.8",) if quick else SM_DESIGNS)
    rows, paired = [], []
    for sampler in samplers:
        for design in designs:
            for ratio in SM_RATIOS:
                n = int(round(ratio * SM_P))
                for k in SM_SIGNALS:
                    results = {m: [] for m in SM_METHODS + (("knockpy",) if peer else ())}
                    for r, X, y, truth, Sigma in sm_replicates(sampler, design, ratio, k,
                                                               replicates):
                        for m in SM_METHODS:
                            sel = KnockoffSelector(fdr=Q, knockoffs=sampler, Sigma=Sigma,
                                                   s_method=m, random_state=r).fit(X, y)
                            results[m].append(fdp_power(sel.support_, truth))
                        if peer:
                            results["knockpy"].append(
                                fdp_power(knockpy_default(sampler)(X, y, Sigma, r), truth))
                    arr = {m: np.array(v) for m, v in results.items()}
                    label = [sampler, design, n, k]
                    rows.append(label + [_cell((arr[m][:, 0], arr[m][:, 1])) for m in arr])
                    if peer:
                        paired.append(label + [fmt(*mean_se(arr[m][:, 1] - arr["knockpy"][:, 1]), 3)
                                               for m in SM_METHODS])
    names = list(SM_METHODS) + (["knockpy default"] if peer else [])
    text = (f"### S-methods against knockpy's default pipeline ({replicates} replicates per row)"
            f"\n\n`KnockoffSelector(s_method=...)` (LCD statistic) and knockpy's "
            f"`KnockoffFilter()` with its defaults (MVR S-matrix, cross-validated lasso), "
            f"p = {SM_P}, coefficients `{AMPLITUDE:g}/sqrt(n)`, q = {Q}, the same data; model-X "
            "rows give both the true covariance. FDR / power:\n\n"
            + markdown_table(["sampler", "design", "n", "true k"] + names, rows))
    if peer:
        text += ("\n\nPaired power differences, sparsestat minus knockpy's default:\n\n"
                 + markdown_table(["sampler", "design", "n", "true k"] + list(SM_METHODS),
                                  paired))
    return text


def knockpy_mlr_on(X, Xk, y, seed):
    """knockpy's ``MLR_Spikeslab`` statistic on the given knockoffs, with the same
    knockoff+ threshold as sparsestat's: the selected mask."""
    from knockpy.mlr import MLR_Spikeslab

    np.random.seed(seed)
    W = MLR_Spikeslab().fit(X, Xk, y, groups=None)
    return W >= knockoff_threshold(W, Q, 1)


def mlr_section(quick: bool, replicates: int | None = None, designs=None,
                samplers=("fixed", "gaussian")) -> str:
    """The MLR statistic against the default LCD, knockpy's default pipeline and knockpy's
    MLR statistic on sparsestat's knockoffs; the data of the S-method table."""
    replicates = replicates or (3 if quick else SM_REPLICATES)
    peer = has_knockpy()
    designs = designs or (("ar0.3",) if quick else SM_DESIGNS)
    methods = ("lcd", "mlr") + (("knockpy", "knockpy mlr") if peer else ())
    rows, paired = [], []
    for sampler in samplers:
        for design in designs:
            for ratio in SM_RATIOS:
                for k in SM_SIGNALS:
                    results = {m: [] for m in methods}
                    for r, X, y, truth, Sigma in sm_replicates(sampler, design, ratio, k,
                                                               replicates):
                        # the same random_state: both statistics see the same knockoffs
                        for statistic in ("lcd", "mlr"):
                            sel = KnockoffSelector(fdr=Q, knockoffs=sampler, Sigma=Sigma,
                                                   statistic=statistic, store_knockoffs=True,
                                                   random_state=r).fit(X, y)
                            results[statistic].append(fdp_power(sel.support_, truth))
                        if peer:
                            results["knockpy"].append(
                                fdp_power(knockpy_default(sampler)(X, y, Sigma, r), truth))
                            results["knockpy mlr"].append(fdp_power(
                                knockpy_mlr_on(X, sel.knockoffs_, y, r), truth))
                    arr = {m: np.array(v) for m, v in results.items()}
                    label = [sampler, design, X.shape[0], k]
                    rows.append(label + [_cell((arr[m][:, 0], arr[m][:, 1])) for m in arr])
                    gains = [arr["mlr"][:, 1] - arr[m][:, 1] for m in methods if m != "mlr"]
                    paired.append(label + [fmt(*mean_se(g), 3) for g in gains])
    names = ["lcd (default)", "mlr"] + (["knockpy default", "knockpy MLR, same knockoffs"]
                                         if peer else [])
    return (f"### The MLR statistic ({replicates} replicates per row)\n\n"
            "`KnockoffSelector(statistic='mlr')` against the default LCD statistic, "
            "knockpy's default pipeline and knockpy's `MLR_Spikeslab` on sparsestat's "
            "knockoffs of the same replicate (same knockoff+ threshold), maxent s-values, "
            "on the data of the S-method table. FDR / power:\n\n"
            + markdown_table(["sampler", "design", "n", "true k"] + names, rows)
            + "\n\nPaired power differences, mlr minus each:\n\n"
            + markdown_table(["sampler", "design", "n", "true k"]
                             + [m for m in names if m != "mlr"], paired))


def design_covariance_p(p: int, correlation: str) -> np.ndarray:
    """Population correlation of :func:`validation._designs.make_design` for ``p`` features."""
    j = np.arange(p)
    if correlation.startswith("ar"):
        return float(correlation[2:]) ** np.abs(np.subtract.outer(j, j))
    r = float(correlation[5:])
    block = j // 10
    return np.where(block[:, None] == block[None, :], r, 0.0) + (1.0 - r) * np.eye(p)


def group_section(quick: bool, replicates: int | None = None) -> str:
    """Group knockoffs on pairs of features with correlation 0.95, knockpy's group
    knockoffs side by side, and derandomized against single-draw knockoffs."""
    replicates = replicates or (3 if quick else SM_REPLICATES)
    peer = has_knockpy()
    p, n, k, rho = 60, 300, 8, 0.95
    rng = cell_rng("groups", p, n, k, rho)
    out = {name: [] for name in ("group mvr", "group maxent", "single maxent")
           + (("knockpy group",) if peer else ())}
    for r in range(replicates):
        Z = rng.standard_normal((n, p // 2))
        X = np.repeat(Z, 2, axis=1) * np.sqrt(rho) + np.sqrt(1 - rho) * rng.standard_normal((n, p))
        beta = np.zeros(p)
        true_pairs = rng.choice(p // 2, k, replace=False)
        beta[2 * true_pairs + rng.integers(0, 2, k)] = 6.0 / np.sqrt(n) * rng.choice([-1, 1], k)
        y = X @ beta + rng.standard_normal(n)
        groups = np.arange(p) // 2
        truth = np.isin(np.arange(p // 2), true_pairs)
        for m in ("mvr", "maxent"):
            sel = KnockoffSelector(fdr=Q, groups=groups, s_method=m, random_state=r).fit(X, y)
            out[f"group {m}"].append(fdp_power(np.isin(np.arange(p // 2), sel.selected_groups_),
                                               truth))
        single = KnockoffSelector(fdr=Q, s_method="maxent", random_state=r).fit(X, y).support_
        picked = np.zeros(p // 2, bool)
        picked[groups[single]] = True
        out["single maxent"].append(fdp_power(picked, truth))
        if peer:
            # knockpy answers one rejection per group
            chosen = knockpy_default("fixed")(X, y, None, r, groups=groups)
            out["knockpy group"].append(fdp_power(chosen, truth))
    arr = {m: np.array(v) for m, v in out.items()}
    row = [_cell((a[:, 0], a[:, 1])) for a in arr.values()]
    text = (f"### Group knockoffs ({replicates} replicates)\n\n"
            f"{p} features in pairs with correlation {rho}, {k} pairs with one true feature "
            f"(`6/sqrt(n)`), n = {n}, fixed-X, q = {Q}; the FDR and power are over pairs "
            "(a single-feature selection counts for its pair). knockpy: `KnockoffFilter("
            "ksampler='fx')` with `groups` (its group MVR). FDR / power:\n\n"
            + markdown_table(list(arr), [row]))
    if peer:
        text += ("\n\nPaired power difference, group mvr minus knockpy group: "
                 + fmt(*mean_se(arr["group mvr"][:, 1] - arr["knockpy group"][:, 1]), 3) + ".")
    return text


def derandomized_section(quick: bool, replicates: int | None = None) -> str:
    """Power, FDR and stability (Jaccard between two random_states) of derandomized
    knockoffs against single draws."""
    replicates = replicates or (3 if quick else SM_REPLICATES)
    n, k = 200, 15
    rng = cell_rng("derandomized", n, k)
    stats = {1: ([], [], []), 10: ([], [], [])}
    for r in range(replicates):
        X = make_design(n, P, "ar0.3", rng)
        beta = np.zeros(P)
        beta[rng.choice(P, k, replace=False)] = AMPLITUDE / np.sqrt(n) * rng.choice([-1, 1], k)
        y = X @ beta + rng.standard_normal(n)
        for draws, (fdps, powers, jac) in stats.items():
            a, b = (KnockoffSelector(fdr=Q, s_method="maxent", n_draws=draws,
                                     random_state=seed).fit(X, y).support_
                    for seed in (r, r + 10 ** 6))
            f, pw = fdp_power(a, beta != 0)
            fdps.append(f)
            powers.append(pw)
            jac.append((a & b).sum() / max(1, (a | b).sum()))
    rows = [[draws, fmt(*mean_se(f), 3), fmt(*mean_se(pw), 3), fmt(*mean_se(j), 3)]
            for draws, (f, pw, j) in stats.items()]
    return (f"### Derandomized knockoffs ({replicates} replicates)\n\n"
            f"AR(1) 0.3, p = {P}, n = {n}, {k} true coefficients `{AMPLITUDE:g}/sqrt(n)`, "
            f"fixed-X, maxent, q = {Q}: one draw (knockoff+) against 10 draws aggregated by "
            "e-values (each at q/2) and e-BH. Stability is the Jaccard index between the "
            "selections of two `random_state`s on the same data.\n\n"
            + markdown_table(["draws", "FDR", "power", "Jaccard between two seeds"], rows))


# ------------------------------------------------------------ Gaussian graphical models

GGM_P = 20
GGM_RULES = (("and", 1.0), ("and", 0.01), ("or", 0.01))


def ggm_design(name: str, rng) -> tuple[np.ndarray, np.ndarray, int]:
    """``(Theta, truth, n)``: a precision matrix, its graph and the sample size.

    ``'chain'``: ``Theta = I`` plus 0.4 next to the diagonal (partial correlations -0.4,
    19 edges); ``'random'``: each of the 190 pairs an edge with probability 1/2, weight
    +-1, the diagonal 0.2 above minus the smallest eigenvalue of the weights (partial
    correlations about 0.18).
    """
    p = GGM_P
    if name == "chain":
        Theta = np.eye(p) + 0.4 * (np.eye(p, k=1) + np.eye(p, k=-1))
        n = 10 * p
    else:
        upper = np.triu(rng.random((p, p)) < 0.5, 1)
        S = upper * rng.choice([-1.0, 1.0], (p, p))
        S = S + S.T
        Theta = S + (0.2 - min(np.linalg.eigvalsh(S).min(), 0.0)) * np.eye(p)
        n = 20 * p
    return Theta, (Theta != 0) & ~np.eye(p, dtype=bool), n


def edge_fdp_power(adjacency, truth) -> tuple[float, float]:
    upper = np.triu(np.ones(truth.shape, dtype=bool), 1)
    chosen = adjacency & upper
    false = np.count_nonzero(chosen & ~truth)
    return false / max(1, chosen.sum()), np.count_nonzero(chosen & truth) / (truth & upper).sum()


def knockpy_ggm_statistics(X, seed):
    """knockpy's KnockoffGGM statistics (fixed-X knockoffs, cross-validated LCD per node)."""
    from knockpy.ggm import KnockoffGGM

    np.random.seed(seed)
    model = KnockoffGGM(fstat="lcd")
    model.forward(X, fdr=Q, verbose=False)
    return model.Ws


def knockpy_ggm_edges(Ws, rule, a):
    from knockpy.ggm import compute_ggm_threshold, discovered_edges

    T = compute_ggm_threshold(Ws, fdr=Q, logic=rule, a=a)
    return discovered_edges(Ws, T, logic=rule)


def ggm_section(quick: bool, replicates: int | None = None) -> str:
    """GraphicalKnockoffSelector on a chain and a dense random graph, knockpy's
    KnockoffGGM side by side (its statistics once per replicate, every rule on them)."""
    from sparsestat.covariance import GraphicalKnockoffSelector
    from sparsestat.covariance._knockoffs import ggm_knockoff_filter

    replicates = replicates or (3 if quick else 50)
    peer = has_knockpy()
    names = [f"{rule.upper()}, a = {a:g}" for rule, a in GGM_RULES]
    rows, paired = [], []
    for design in ("chain", "random"):
        rng = cell_rng("ggm", design)
        Theta, truth, n = ggm_design(design, rng)
        Sigma = np.linalg.inv(Theta)
        out = {(who, name): [] for who in ("sparsestat", "knockpy") for name in names}
        for r in range(replicates):
            X = rng.multivariate_normal(np.zeros(GGM_P), Sigma, size=n)
            W = GraphicalKnockoffSelector(fdr=Q, random_state=r).fit(X).W_
            Ws = knockpy_ggm_statistics(X, r) if peer else None
            for name, (rule, a) in zip(names, GGM_RULES):
                out["sparsestat", name].append(
                    edge_fdp_power(ggm_knockoff_filter(W, Q, rule, a)[0], truth))
                if peer:
                    out["knockpy", name].append(
                        edge_fdp_power(knockpy_ggm_edges(Ws, rule, a), truth))
        n_edges = int(truth.sum()) // 2
        for who in ("sparsestat", "knockpy") if peer else ("sparsestat",):
            cells = [np.array(out[who, name]) for name in names]
            rows.append([design, n_edges, n, who] + [_cell((c[:, 0], c[:, 1])) for c in cells])
        if peer:
            paired.append([design, n_edges, n] + [
                fmt(*mean_se(np.array(out["sparsestat", name])[:, 1]
                             - np.array(out["knockpy", name])[:, 1]), 3) for name in names])
    text = (f"### Gaussian graphical models: edge FDR / power ({replicates} replicates)\n\n"
            f"`GraphicalKnockoffSelector(fdr={Q})` (the GGM knockoff filter: nodewise fixed-X "
            "knockoffs, maxent, LCD at the Cp penalty, one threshold per node from the "
            "graph-wide rule) and knockpy's `KnockoffGGM(fstat='lcd')` (MVR, cross-validated "
            f"LCD) on the same data, p = {GGM_P} nodes; each package's statistics once per "
            "replicate, every rule on them. knockpy's rule counts each selected edge twice "
            "(both entries of its symmetric matrix), sparsestat's once, as the guarantee "
            "needs. A false edge is one between conditionally independent columns. "
            "FDR / power:\n\n"
            + markdown_table(["graph", "edges", "n", "package"] + names, rows))
    if peer:
        text += ("\n\nPaired power differences, sparsestat minus knockpy:\n\n"
                 + markdown_table(["graph", "edges", "n"] + names, paired))
    return text
