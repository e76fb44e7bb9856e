"""The 'auto' rule for margins: multiplicity control over the comparisons, studentized residuals.

Pieces against independent references (scipy's Benjamini-Hochberg, numpy's pseudo-inverse,
Gaussian theory), then a fast subset of ``validation/validate_ranking.py``: clean data at
m = 10,000 gets (almost) no flag where the per-comparison rule gets dozens, and planted
outliers are still found.
"""

import itertools

import numpy as np
import pytest
from scipy.stats import false_discovery_control, norm

from sparsestat import RobustPairwiseRanker
from sparsestat.ranking._selection import (feature_resistance, margin_outliers,
                                           pair_resistance, residual_variance, step_up_cut)
from validation.validate_ranking import make_graph, planted_run


def _laplacian_pinv(left, right, w, n):
    L = np.zeros((n, n))
    np.add.at(L, (left, left), w)
    np.add.at(L, (right, right), w)
    np.add.at(L, (left, right), -w)
    np.add.at(L, (right, left), -w)
    return np.linalg.pinv(L)


def _resistance(Lp, left, right):
    return Lp[left, left] + Lp[right, right] - 2.0 * Lp[left, right]


@pytest.mark.parametrize("n_out", [0, 1, 5, 60])
def test_step_up_cut_is_benjamini_hochberg(n_out):
    rng = np.random.default_rng(n_out)
    z = rng.standard_normal(2000)
    z[:n_out] += rng.choice([-1, 1], n_out) * rng.uniform(3, 8, n_out)
    for fdr in (0.05, 0.1, 0.3):
        cut = step_up_cut(z, fdr)
        adjusted = false_discovery_control(2.0 * norm.sf(np.abs(z)), method="bh")
        assert np.count_nonzero(np.abs(z) >= cut) == np.count_nonzero(adjusted <= fdr)


def test_step_up_cut_with_one_rejection_is_bonferroni():
    z = np.zeros(5000)
    z[7] = 9.0
    assert step_up_cut(z, 0.1) == pytest.approx(norm.isf(0.1 / (2 * 5000)), rel=1e-12)
    # about sqrt(2 log m) for large m
    assert abs(norm.isf(0.1 / 2e6) - np.sqrt(2 * np.log(1e6))) < 0.5
    assert step_up_cut(np.zeros(100), 0.1) == np.inf


def test_null_calibration_of_the_count():
    # independent N(0, sigma^2) residuals, sigma unknown: flagged with probability ~ fdr
    rng = np.random.default_rng(0)
    reps, m = 600, 1000
    counts = np.array([margin_outliers(3.7 * rng.standard_normal(m), np.ones(m),
                                       np.ones(m, bool), 3.0, 0.1, 0.0) for _ in range(reps)])
    p_any = np.mean(counts > 0)
    assert abs(p_any - 0.1) < 3 * np.sqrt(0.1 * 0.9 / reps) + 0.01
    assert counts.mean() < 0.2
    # the per-comparison rule |z| >= 3 flags 0.27% of them
    old = np.array([margin_outliers(rng.standard_normal(m), np.ones(m), np.ones(m, bool), 3.0,
                                    1.0, 0.0) for _ in range(100)])
    assert abs(old.mean() - 2 * norm.sf(3) * m) < 0.5


@pytest.mark.parametrize("design", ["ER dense", "ER sparse", "round robin", "ring lattice"])
def test_pair_resistance_against_the_pseudo_inverse(design):
    rng = np.random.default_rng(1)
    left, right = make_graph(design, 600, rng)
    n = int(max(left.max(), right.max())) + 1
    w = rng.uniform(0.5, 2.0, left.shape[0])
    q = pair_resistance(left, right, w, n, n - 1)
    exact = _resistance(_laplacian_pinv(left, right, w, n), left, right)
    # Foster's theorem holds exactly for the estimate; leverages within a few percent
    assert np.sum(w * q) == pytest.approx(n - 1, rel=1e-12)
    assert np.sum(w * exact) == pytest.approx(n - 1, rel=1e-9)
    assert np.mean(np.abs(w * (q - exact))) < 0.03
    # the residuals' standard deviations, estimated over exact (all but a few within 10%)
    sd_ratio = np.sqrt((1 - w * q) / (1 - w * exact))
    lo, hi = np.quantile(sd_ratio, [0.01, 0.99])
    assert 0.9 < lo and hi < 1.1
    if design == "round robin":  # unweighted, the shorted network is the complete graph itself
        q1 = pair_resistance(left, right, np.ones_like(w), n, n - 1)
        np.testing.assert_allclose(q1, 2.0 / n, rtol=1e-12)


def test_pair_resistance_of_comparisons_left_out_and_leaves():
    rng = np.random.default_rng(2)
    left, right = make_graph("ER sparse", 300, rng)
    n = int(max(left.max(), right.max())) + 1
    # a leaf item 'n' compared twice with item 0, and a comparison left out of the fit
    left = np.append(left, [n, 0])
    right = np.append(right, [0, n])
    w = np.ones(left.shape[0])
    wc = w.copy()
    wc[5] = 0.0
    q = pair_resistance(left, right, wc, n + 1, n)
    exact = _resistance(_laplacian_pinv(left, right, wc, n + 1), left, right)
    np.testing.assert_allclose(q[-2:], 0.5, rtol=1e-12)          # two parallel comparisons
    assert abs(q[5] - exact[5]) < 0.15 * exact[5]                  # prediction of a left-out one
    var = residual_variance(w, wc, q)
    assert var[5] == pytest.approx(1.0 + q[5]) and var[0] == pytest.approx(1.0 - q[0])


def test_feature_resistance_is_the_hat_matrix():
    rng = np.random.default_rng(3)
    Phi = rng.standard_normal((20, 3))
    left, right = make_graph("ER dense", 200, rng)
    w = rng.uniform(0.5, 2, 200)
    X = Phi[left] - Phi[right]
    H = X @ np.linalg.solve(X.T @ (w[:, None] * X), X.T)
    np.testing.assert_allclose(feature_resistance(Phi, left, right, w), np.diag(H), rtol=1e-10)


def test_exact_data_with_two_outliers():
    rng = np.random.default_rng(4)
    n = 12
    theta = rng.standard_normal(n)
    pairs = np.array(list(itertools.combinations(range(n), 2)))
    y = theta[pairs[:, 0]] - theta[pairs[:, 1]]
    y[5] += 3.0
    y[40] -= 2.0
    est = RobustPairwiseRanker().fit(pairs, y)
    assert np.flatnonzero(est.outliers_).tolist() == [5, 40]
    np.testing.assert_allclose(est.scores_, theta - theta.mean(), atol=1e-12)
    np.testing.assert_allclose(est.gamma_[[5, 40]], [3.0, -2.0], atol=1e-12)


def _clean(m, seed, fdr):
    rng = np.random.default_rng(seed)
    left, right = make_graph("ER dense", m, rng)
    theta = rng.standard_normal(int(max(left.max(), right.max())) + 1)
    y = theta[left] - theta[right] + 0.5 * rng.standard_normal(m)
    return int(RobustPairwiseRanker(fdr=fdr).fit(np.column_stack([left, right]), y)
               .outliers_.sum())


def test_clean_data_at_ten_thousand_comparisons_is_not_flagged():
    # per-comparison rule: 27 expected flags per data set; with the control: ~0.1
    new = [_clean(10000, s, 0.1) for s in range(3)]
    old = [_clean(10000, s, 1.0) for s in range(2)]
    assert sum(new) <= 2
    assert sum(old) >= 25


@pytest.mark.parametrize("design, size, recall", [("ER dense", 6.0, 0.97),
                                                  ("ER sparse", 10.0, 0.95)])
def test_planted_outliers_are_still_found(design, size, recall):
    run = planted_run(design, 10000, 0.02, size, seed=0, fdrs=(0.1, 1.0))
    new, old = run[0.1], run[1.0]
    assert new[0] >= recall and new[0] >= old[0] - 0.02
    assert new[1] / (new[1] + new[2]) >= 0.85          # precision
    assert new[2] <= old[2]                             # no more false flags than before
