"""Empirical false discovery rate of the knockoff selectors over simulated replicates.

Knockoff+ guarantees ``FDR = E[FDP] <= q``. Each statistic runs one loop of
replicates in which the two samplers alternate (fixed-X, then model-X Gaussian
with the true covariance); the mean false discovery proportion must stay
below ``q`` plus three Monte Carlo standard errors, per statistic and per
sampler. Power is checked too, so that the FDR bound is not met by selecting
nothing.
"""

import functools

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sparsestat import KnockoffSelector, SplitKnockoffSelector


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster and its cost predictable."""
    with threadpool_limits(1):
        yield


Q = 0.2
N_REPLICATES = 200
N, P, K, RHO, AMPLITUDE = 150, 20, 8, 0.3, 0.4

SIGMA = RHO ** np.abs(np.subtract.outer(np.arange(P), np.arange(P)))
CHOL = np.linalg.cholesky(SIGMA)


def _replicate(rng):
    X = rng.standard_normal((N, P)) @ CHOL.T
    beta = np.zeros(P)
    support = rng.choice(P, K, replace=False)
    beta[support] = AMPLITUDE * rng.choice([-1.0, 1.0], K)
    y = X @ beta + rng.standard_normal(N)
    return X, y, beta != 0


def _fdp_power(selected, truth):
    n_sel = selected.sum()
    fdp = (selected & ~truth).sum() / max(1, n_sel)
    return fdp, (selected & truth).sum() / truth.sum()


def _check_fdr(fdp, label):
    fdp = np.asarray(fdp)
    se = fdp.std(ddof=1) / np.sqrt(fdp.size)
    assert fdp.mean() <= Q + 3 * se, f"{label}: empirical FDR {fdp.mean():.3f} > {Q} + 3*{se:.3f}"


STATISTICS = ("lcd", "lsm", "lbi", "mlr")


@functools.cache
def _replicates(statistic):
    """FDP per sampler and power of one statistic over the replicates (seeded, so a
    test on another pytest-xdist worker that needs them again gets the same values)."""
    rng = np.random.default_rng({"lcd": 1, "lsm": 2, "lbi": 3, "mlr": 4}[statistic])
    fdp = {"fixed": [], "gaussian": []}
    power = []
    for r in range(N_REPLICATES):
        X, y, truth = _replicate(rng)
        sampler = "fixed" if r % 2 == 0 else "gaussian"
        sel = KnockoffSelector(fdr=Q, knockoffs=sampler, statistic=statistic,
                               Sigma=SIGMA if sampler == "gaussian" else None,
                               random_state=r).fit(X, y)
        f, pw = _fdp_power(sel.support_, truth)
        fdp[sampler].append(f)
        power.append(pw)
    return fdp, power


@pytest.mark.parametrize("statistic", STATISTICS)
def test_fdr_controlled_for_each_statistic(statistic):
    fdp, power = _replicates(statistic)
    _check_fdr(fdp["fixed"] + fdp["gaussian"], statistic)
    for sampler, values in fdp.items():
        # each half on its own, with its own (larger) Monte Carlo error
        _check_fdr(values, f"{statistic}/{sampler}")
    assert np.mean(power) >= 0.5, f"{statistic}: power {np.mean(power):.2f} too low to be a test"


def test_fdr_controlled_with_cross_validated_lasso():
    """Model-X knockoffs with the lasso penalty chosen by cross-validation (the default
    when n <= 2p + 10, forced here)."""
    rng = np.random.default_rng(5)
    fdp, power = [], []
    for r in range(N_REPLICATES // 2):
        X, y, truth = _replicate(rng)
        sel = KnockoffSelector(fdr=Q, knockoffs="gaussian", Sigma=SIGMA,
                               statistic_params={"penalty": "cv", "cv": 3},
                               random_state=r).fit(X, y)
        f, pw = _fdp_power(sel.support_, truth)
        fdp.append(f)
        power.append(pw)
    _check_fdr(fdp, "lcd (cross-validated)/gaussian")
    assert np.mean(power) >= 0.5, f"lcd (cv): power {np.mean(power):.2f} too low to be a test"


def test_fdr_controlled_for_each_sampler_over_all_statistics():
    for sampler in ("fixed", "gaussian"):
        values = [f for statistic in STATISTICS for f in _replicates(statistic)[0][sampler]]
        assert len(values) == len(STATISTICS) * N_REPLICATES // 2
        _check_fdr(values, sampler)


N_BLOCK, P_BLOCK, K_BLOCK, AMPLITUDE_BLOCK = 300, 60, 15, 0.4
# blocks of 10 features with correlation 1/2 inside: lambda_min = 1/2, so the closed-form
# equicorrelated s = 1 makes 2 Sigma - diag(s) singular along 54 directions
_BLOCKS = np.arange(P_BLOCK) // 10
SIGMA_BLOCK = np.where(_BLOCKS[:, None] == _BLOCKS[None, :], 0.5, 0.0) + 0.5 * np.eye(P_BLOCK)


@pytest.mark.parametrize("sampler", ["gaussian", "fixed"])
def test_equicorrelated_knockoffs_keep_power_on_a_block_design(sampler):
    """With s on the boundary the Gaussian knockoffs of this design are reconstructable
    and the power collapses (0.04 at q = 0.1 over 20 replicates); strictly feasible
    s-values must keep it, with the FDR controlled."""
    rng = np.random.default_rng(6)
    chol = np.linalg.cholesky(SIGMA_BLOCK)
    fdp, power = [], []
    for r in range(40):
        X = rng.standard_normal((N_BLOCK, P_BLOCK)) @ chol.T
        beta = np.zeros(P_BLOCK)
        beta[rng.choice(P_BLOCK, K_BLOCK, replace=False)] = (AMPLITUDE_BLOCK
                                                            * rng.choice([-1.0, 1.0], K_BLOCK))
        y = X @ beta + rng.standard_normal(N_BLOCK)
        sel = KnockoffSelector(fdr=Q, knockoffs=sampler, s_method="equi",
                               Sigma=SIGMA_BLOCK if sampler == "gaussian" else None,
                               random_state=r).fit(X, y)
        f, pw = _fdp_power(sel.support_, beta != 0)
        fdp.append(f)
        power.append(pw)
    _check_fdr(fdp, f"equi/{sampler} on blocks")
    assert np.mean(power) >= 0.6, f"equi/{sampler}: power {np.mean(power):.2f} on blocks"


@pytest.mark.parametrize("sampler, ratio, correlation, noise, signal", [
    ("fixed", 2, "block0.5", "t5", "dense"),   # fewest samples fixed-X accepts, heavy tails
    ("gaussian", 1, "iid", "t5", "sparse"),    # model-X with n = p: cross-validated lasso
])
def test_validation_grid_corners(sampler, ratio, correlation, noise, signal):
    """A fast corner of validation/validate_knockoffs.py: the selectors of the grid (the
    default maxent s-values, statistics lcd / lbi) on the first replicates of its cell."""
    from validation.validate_knockoffs import METHODS, Q as Q_GRID, run_cell, sparsestat_method
    methods = {f"{s} {st}": sparsestat_method(sampler, s, st) for s, st in METHODS}
    cell = run_cell(sampler, ratio, correlation, noise, signal, methods, replicates=25)
    for name, (fdp, power) in cell.items():
        se = fdp.std(ddof=1) / np.sqrt(fdp.size)
        assert fdp.mean() <= Q_GRID + 3 * se, f"{name}: FDR {fdp.mean():.3f} > {Q_GRID} + 3 se"
        assert power.mean() >= 0.2, f"{name}: power {power.mean():.2f} too low to be a test"


N_SPLIT, P_SPLIT, N_CHANGES, JUMP = 200, 16, 7, 0.5
D_FUSED = np.diff(np.eye(P_SPLIT), axis=0)


def _piecewise_constant_replicate(rng):
    X = rng.standard_normal((N_SPLIT, P_SPLIT))
    gamma = np.zeros(P_SPLIT - 1)
    gamma[rng.choice(P_SPLIT - 1, N_CHANGES, replace=False)] = JUMP * rng.choice([-1, 1], N_CHANGES)
    beta = np.concatenate([[0.0], np.cumsum(gamma)])
    y = X @ beta + rng.standard_normal(N_SPLIT)
    return X, y, D_FUSED @ beta


def test_split_knockoffs_control_the_directional_fdr():
    """A selection is false when gamma_i = 0 or when its reported sign is wrong."""
    rng = np.random.default_rng(4)
    fdp, power = [], []
    for r in range(N_REPLICATES):
        X, y, gamma = _piecewise_constant_replicate(rng)
        sel = SplitKnockoffSelector(fdr=Q, D=D_FUSED, random_state=r).fit(X, y)
        right = sel.selected_rows_ & (gamma != 0) & (np.sign(gamma) == sel.signs_)
        fdp.append((sel.selected_rows_ & ~right).sum() / max(1, sel.selected_rows_.sum()))
        power.append(right.sum() / (gamma != 0).sum())
    _check_fdr(fdp, "split knockoffs (directional)")
    assert np.mean(power) >= 0.5, f"split knockoffs: power {np.mean(power):.2f} too low"
