"""Mean-shift outlier detection: the projected engine path, its statistics, bad input."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sparsestat import MeanShiftOutlierDetector
from sparsestat._engine import lbi_path, projected_shift_iss_path, projected_shift_path
from sparsestat.datasets import load_stackloss, make_outlier_regression
from sparsestat.robust import auto_cutoff, mean_shift_fixed


def _precision_recall(flagged, truth):
    tp = np.sum(flagged & truth)
    return tp / max(flagged.sum(), 1), tp / max(truth.sum(), 1)


def _small_problem(n=40, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ np.arange(1.0, p + 1) + 0.3 * rng.standard_normal(n)
    y[:4] += np.array([5.0, -4.0, 3.0, 6.0])
    A = np.column_stack([np.ones(n), X])
    return X, y, A


def _explicit_u2(A):
    """Orthonormal basis of the complement of range(A), from a full SVD (reference only)."""
    U, _, _ = np.linalg.svd(A, full_matrices=True)
    return U[:, A.shape[1]:]


def _reference_lbi(U2, y, w, kappa, alpha, t0, grid):
    """Plain-numpy LBI on the explicit design U2^T with the weighted l1 penalty."""
    n = y.shape[0]
    Xt, yt = U2.T, U2.T @ y
    g0 = -(Xt.T @ yt) / n
    z = np.clip(-(g0 / w) * t0, -1, 1)
    G = np.zeros(n)
    t, gi, recs = t0, 0, []
    while gi < len(grid) and grid[gi] <= t0:
        recs.append(np.zeros(n))
        gi += 1
    while gi < len(grid):
        g = Xt.T @ (Xt @ G - yt) / n
        zn = z - alpha * g / w
        while gi < len(grid) and grid[gi] <= t + alpha:
            zz = z + (grid[gi] - t) / alpha * (zn - z)
            recs.append(kappa * w * np.sign(zz) * np.maximum(np.abs(zz) - 1, 0))
            gi += 1
        z = zn
        G = kappa * w * np.sign(z) * np.maximum(np.abs(z) - 1, 0)
        t += alpha
    return np.array(recs)


# ---------------------------------------------------------------- the engine operator

def test_implicit_projection_equals_explicit_u2_with_weights():
    X, y, A = _small_problem()
    Q, _ = np.linalg.qr(A)
    w = np.random.default_rng(1).uniform(0.5, 1.5, y.size)
    path = projected_shift_path(Q, y[:, None], weights=w, kappa=20.0, n_times=30, t_ratio=20)
    ref = _reference_lbi(_explicit_u2(A), y, w, 20.0, path.info["alpha"], path.t0, path.times)
    np.testing.assert_allclose(path.coefs.toarray(), ref, atol=1e-10)


def test_implicit_projection_equals_engine_lbi_on_explicit_u2():
    # the general engine with the explicit (n - r) x n design U2^T is the same iteration;
    # its loss is divided by n - r instead of n, so times and steps rescale by (n - r) / n
    X, y, A = _small_problem(n=50)
    n, r = A.shape
    Q, _ = np.linalg.qr(A)
    U2 = _explicit_u2(A)
    # y in the unit lbi_path measures its target in (the root mean square of U2^T y), so
    # that the general engine runs the same, unscaled iteration
    y = y / np.sqrt(np.mean((U2.T @ y) ** 2))
    ours = projected_shift_path(Q, y[:, None], kappa=10.0, n_times=25, t_ratio=30)
    m = n - r
    theirs = lbi_path(U2.T, (U2.T @ y)[:, None], kappa=10.0, alpha=ours.info["alpha"] * m / n,
                      times=ours.times * m / n, fit_intercept=False, normalize=False)
    np.testing.assert_allclose(theirs.t0, ours.t0 * m / n, rtol=1e-12)
    np.testing.assert_allclose(ours.coefs.toarray(), theirs.coefs[:, :, 0], atol=1e-9)
    np.testing.assert_allclose(ours.entry_times, theirs.entry_times * n / m, rtol=1e-9)


def test_iss_is_the_large_kappa_limit_of_lbi():
    X, y, A = _small_problem(n=60)
    Q, _ = np.linalg.qr(A)
    w = np.random.default_rng(2).uniform(0.5, 1.5, y.size)
    iss = projected_shift_iss_path(Q, y[:, None], weights=w, n_times=30, t_ratio=20)
    lbi = projected_shift_path(Q, y[:, None], weights=w, kappa=1e4, times=iss.times)
    np.testing.assert_allclose(lbi.coefs.toarray(), iss.coefs.toarray(), atol=1e-3)
    e_iss, e_lbi = iss.entry_times[:, 0], lbi.entry_times[:, 0]
    assert np.array_equal(np.isfinite(e_iss), np.isfinite(e_lbi))
    finite = np.isfinite(e_iss)
    np.testing.assert_allclose(e_lbi[finite], e_iss[finite], rtol=1e-3)


def test_iss_active_shifts_are_deletion_residuals():
    # on the exact path an active shift equals the residual of its sample against the
    # least-squares fit without the active samples
    X, y, A = _small_problem(n=60)
    Q, _ = np.linalg.qr(A)
    iss = projected_shift_iss_path(Q, y[:, None], n_times=20, t_ratio=10)
    G = iss.coefs[-1].toarray().ravel()
    S = G != 0
    assert 0 < S.sum() < y.size - A.shape[1]
    beta = np.linalg.lstsq(A[~S], y[~S], rcond=None)[0]
    np.testing.assert_allclose(G[S], (y - A @ beta)[S], rtol=1e-8)


def test_path_zero_before_t0_and_first_entry_is_largest_studentized_residual():
    X, y, A = _small_problem()
    Q, _ = np.linalg.qr(A)
    h = np.sum(Q ** 2, axis=1)
    w = np.sqrt(1 - h)
    path = projected_shift_path(Q, y[:, None], weights=w, n_times=20)
    assert np.all(path.coef_at(0.999 * path.t0) == 0)
    r = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    assert np.argmin(path.entry_times[:, 0]) == np.argmax(np.abs(r) / w)
    np.testing.assert_allclose(path.t0, y.size / np.max(np.abs(r) / w))


def test_multi_output_group_path_matches_explicit_reference():
    rng = np.random.default_rng(3)
    n, p, K = 40, 2, 3
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, K)) + 0.2 * rng.standard_normal((n, K))
    Y[:3] += 4.0
    A = np.column_stack([np.ones(n), X])
    Q, _ = np.linalg.qr(A)
    kappa = 15.0
    path = projected_shift_path(Q, Y, penalty="group", kappa=kappa, n_times=15, t_ratio=10)
    # explicit reference: group LBI on U2^T, rows of G are the groups
    U2 = _explicit_u2(A)
    P = U2 @ U2.T
    g0 = -(P @ Y) / n
    t0 = 1 / np.max(np.linalg.norm(g0, axis=1))
    np.testing.assert_allclose(path.t0, t0)
    alpha = path.info["alpha"]
    z, G, t, gi, recs = -g0 * t0, np.zeros((n, K)), t0, 0, []

    def prox(Z):
        nrm = np.linalg.norm(Z, axis=1, keepdims=True)
        return kappa * Z * np.maximum(0, 1 - 1 / np.maximum(nrm, 1e-300))

    grid = path.times
    while gi < len(grid) and grid[gi] <= t0:
        recs.append(np.zeros((n, K)))
        gi += 1
    while gi < len(grid):
        zn = z - alpha * (P @ (G - Y)) / n
        while gi < len(grid) and grid[gi] <= t + alpha:
            recs.append(prox(z + (grid[gi] - t) / alpha * (zn - z)))
            gi += 1
        z, t = zn, t + alpha
        G = prox(z)
    ref = np.array(recs).reshape(len(grid), n * K)
    np.testing.assert_allclose(path.coefs.toarray(), ref, atol=1e-10)
    # a row enters with all of its targets at once
    et = path.entry_times
    assert np.all(et == et[:, :1])


def test_thinned_record_keeps_memory_bounded_and_entries_exact():
    X, y, A = _small_problem(n=200, p=3)
    Q, _ = np.linalg.qr(A)
    full = projected_shift_path(Q, y[:, None], n_times=64, t_ratio=200)
    thin = projected_shift_path(Q, y[:, None], n_times=64, t_ratio=200, max_nnz=200)
    assert full.coefs.nnz > 200
    assert thin.coefs.nnz <= 200 + y.size
    assert thin.n_times < full.n_times
    # the kept record times are a subset of the grid, with the same values there
    idx = np.searchsorted(full.times, thin.times)
    np.testing.assert_array_equal(full.times[idx], thin.times)
    np.testing.assert_allclose(full.coefs[idx].toarray(), thin.coefs.toarray())
    np.testing.assert_array_equal(full.entry_times, thin.entry_times)


def test_max_iter_cut_warns():
    X, y, A = _small_problem()
    Q, _ = np.linalg.qr(A)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        projected_shift_path(Q, y[:, None], n_times=10, max_iter=2)


# ---------------------------------------------------------------- statistics

def _huber_irls(A, y, delta, n_iter=500):
    """Huber M-estimate with a known scale by iteratively reweighted least squares."""
    beta = np.linalg.lstsq(A, y, rcond=None)[0]
    for _ in range(n_iter):
        r = y - A @ beta
        w = np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300))
        sw = np.sqrt(w)
        new = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)[0]
        if np.max(np.abs(new - beta)) < 1e-13:
            return new
        beta = new
    return beta


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5])
def test_l1_mean_shift_at_fixed_lambda_is_huber(alpha):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((80, 3))
    y = X @ [2.0, -1.0, 0.5] + 1.0 + rng.standard_normal(80)
    y[:8] += rng.choice([-1, 1], 8) * rng.uniform(5, 10, 8)
    coef, intercept, gamma = mean_shift_fixed(X, y, alpha)
    A = np.column_stack([np.ones(80), X])
    ref = _huber_irls(A, y, alpha)
    np.testing.assert_allclose(intercept, ref[0], atol=1e-8)
    np.testing.assert_allclose(coef, ref[1:], atol=1e-8)
    # gamma is the soft-thresholded residual of the Huber fit
    r = y - A @ ref
    np.testing.assert_allclose(gamma, np.sign(r) * np.maximum(np.abs(r) - alpha, 0), atol=1e-8)


def test_auto_cutoff_controls_expected_false_flags():
    from scipy import stats

    for n in [21, 100, 1000, 10 ** 6]:
        c = auto_cutoff(n)
        tail = 2 * stats.norm.sf(c)
        assert c >= 2.5 - 1e-12
        assert n * tail <= max(0.5, n * 0.0124) + 1e-9


@pytest.mark.parametrize("leverage", [0.0, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_planted_outliers_recovered(leverage, seed):
    X, y, truth = make_outlier_regression(300, 5, contamination=0.1, leverage=leverage,
                                          random_state=seed)
    det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    precision, recall = _precision_recall(det.outliers_, truth)
    assert precision >= 0.95 and recall >= 0.95


def test_bad_leverage_clusters_found_good_leverage_points_kept():
    X, y, truth, coef = make_outlier_regression(
        400, 5, contamination=0.25, leverage=1.0, n_good_leverage=15, random_state=3,
        return_coef=True)
    good = np.linalg.norm(X, axis=1) > 8
    good &= ~truth
    assert good.sum() == 15
    det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    precision, recall = _precision_recall(det.outliers_, truth)
    assert precision >= 0.95 and recall >= 0.95
    assert not det.outliers_[good].any()
    np.testing.assert_allclose(det.coef_, coef, atol=0.15)
    # the plain (non-robust) path is masked on the same data: the test can fail
    plain = MeanShiftOutlierDetector(start="none").fit(X, y)
    assert _precision_recall(plain.outliers_, truth)[1] < 0.5


def test_two_separate_leverage_clusters_iss():
    rng = np.random.default_rng(5)
    n, p = 300, 3
    X = rng.standard_normal((n, p))
    y = X @ [1.0, 2.0, -1.0] + rng.standard_normal(n)
    truth = np.zeros(n, dtype=bool)
    for k, (center, shift) in enumerate([([8, 0, 0], 25.0), ([0, -8, 0], -25.0)]):
        idx = np.arange(20 * k, 20 * k + 20)
        X[idx] = np.array(center) + 0.3 * rng.standard_normal((20, p))
        y[idx] = X[idx] @ [1.0, 2.0, -1.0] + shift + rng.standard_normal(20)
        truth[idx] = True
    det = MeanShiftOutlierDetector(solver="iss", random_state=0).fit(X, y)
    precision, recall = _precision_recall(det.outliers_, truth)
    assert precision >= 0.95 and recall >= 0.95


@pytest.mark.parametrize("seed", range(4))
def test_no_outliers_almost_none_flagged(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((400, 4))
    X[:10] *= 6  # clean high-leverage points
    y = X @ [1.0, -1.0, 2.0, 0.5] + rng.standard_normal(400)
    det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    assert det.n_outliers_ <= 2
    # the robust scale estimates the noise level
    assert abs(det.scale_ - 1.0) < 0.15


@pytest.mark.parametrize("solver", ["lbi", "iss"])
def test_stackloss_auto_flags_the_documented_outliers(solver):
    X, y = load_stackloss(return_X_y=True)
    det = MeanShiftOutlierDetector(solver=solver, random_state=0).fit(X, y)
    assert set(np.flatnonzero(det.outliers_) + 1) == {1, 3, 4, 21}
    # ranking: the four documented outliers come first
    assert set(det.ranking_[:4] + 1) == {1, 3, 4, 21}


def test_contamination_float_flags_that_fraction_in_entry_order():
    X, y, truth = make_outlier_regression(200, 4, contamination=0.1, random_state=0)
    det = MeanShiftOutlierDetector(contamination=0.15, random_state=0).fit(X, y)
    assert det.n_outliers_ == 30
    assert det.outliers_[truth].all()
    flagged_entries = det.entry_times_[det.outliers_]
    others = det.entry_times_[~det.outliers_]
    assert flagged_entries.max() <= others.min()
    # the scale is that of the inliers the fraction leaves
    keep = ~det.outliers_
    A = np.column_stack([np.ones(keep.sum()), X[keep]])
    resid = y[keep] - A @ np.linalg.lstsq(A, y[keep], rcond=None)[0]
    np.testing.assert_allclose(det.scale_, np.sqrt(resid @ resid / (keep.sum() - A.shape[1])))
    X, y = load_stackloss(return_X_y=True)
    det = MeanShiftOutlierDetector(contamination=4 / 21 - 1e-9, random_state=0).fit(X, y)
    assert set(np.flatnonzero(det.outliers_) + 1) == {1, 3, 4, 21}


def test_fitted_attributes_agree_with_a_refit_on_the_inliers():
    X, y, truth = make_outlier_regression(150, 3, contamination=0.1, leverage=0.5,
                                          random_state=2)
    det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    keep = ~det.outliers_
    A = np.column_stack([np.ones(keep.sum()), X[keep]])
    beta = np.linalg.lstsq(A, y[keep], rcond=None)[0]
    np.testing.assert_allclose(det.intercept_, beta[0], atol=1e-8)
    np.testing.assert_allclose(det.coef_, beta[1:], atol=1e-8)
    np.testing.assert_allclose(det.predict(X), X @ beta[1:] + beta[0], atol=1e-8)
    resid = y - det.predict(X)
    np.testing.assert_allclose(det.gamma_[det.outliers_], resid[det.outliers_], atol=1e-8)
    assert np.all(det.gamma_[keep] == 0)
    from sklearn.metrics import r2_score
    np.testing.assert_allclose(det.score(X, y), r2_score(y[keep], det.predict(X)[keep]))
    # the flagged set is the fixed point of the deletion tests: each flagged sample's
    # prediction residual against the inlier fit, each kept sample's externally
    # studentized residual, against the Student t quantile at the cutoff's tail
    from scipy import stats

    n_keep, r = A.shape
    dof = n_keep - r
    G_inv = np.linalg.inv(A.T @ A)
    A_all = np.column_stack([np.ones(y.size), X])
    h = np.einsum("ij,jk,ik->i", A_all, G_inv, A_all)
    e = y - A_all @ beta
    sse = np.sum(e[keep] ** 2)
    tail = 2 * stats.norm.sf(det.cutoff_)
    out = det.outliers_
    t_out = np.abs(e[out]) / np.sqrt(sse / dof * (1 + h[out]))
    assert np.all(t_out >= stats.t.isf(tail / 2, dof))
    s_loo = np.sqrt((sse - e[keep] ** 2 / (1 - h[keep])) / (dof - 1))
    t_keep = np.abs(e[keep]) / (s_loo * np.sqrt(1 - h[keep]))
    assert np.all(t_keep < stats.t.isf(tail / 2, dof - 1))
    np.testing.assert_allclose(det.scale_, np.sqrt(sse / dof))
    # the flagged samples lead the ranking
    assert set(det.ranking_[:det.n_outliers_]) == set(np.flatnonzero(out))
    path = det.regularization_path_
    assert path.coefs.shape == (path.n_times, y.size)
    assert path.coef_at(path.times[-1]).shape == (y.size,)


def test_multi_output_detector():
    rng = np.random.default_rng(6)
    n, p = 200, 3
    X = rng.standard_normal((n, p))
    B = rng.standard_normal((p, 2))
    Y = X @ B + 0.5 * rng.standard_normal((n, 2))
    truth = np.zeros(n, dtype=bool)
    truth[:12] = True
    Y[:6, 0] += 8.0
    Y[6:12, 1] -= 8.0
    det = MeanShiftOutlierDetector(random_state=0).fit(X, Y)
    precision, recall = _precision_recall(det.outliers_, truth)
    assert precision >= 0.95 and recall >= 0.95
    assert det.coef_.shape == (2, p) and det.gamma_.shape == (n, 2)
    np.testing.assert_allclose(det.coef_, B.T, atol=0.2)
    assert det.predict(X).shape == (n, 2)
    with pytest.raises(ValueError, match="one target"):
        MeanShiftOutlierDetector(solver="iss").fit(X, Y)


def test_exactly_linear_data_has_no_outliers_and_exact_fit_flags_the_rest():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((50, 2))
    y = X @ [1.0, 2.0] + 3.0
    det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    assert det.n_outliers_ == 0
    np.testing.assert_allclose(det.coef_, [1.0, 2.0])
    y[:5] += 10.0
    det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    assert set(np.flatnonzero(det.outliers_)) == set(range(5))


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused(bad):
    X, y = load_stackloss(return_X_y=True)
    Xb = X.copy()
    Xb[2, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        MeanShiftOutlierDetector().fit(Xb, y)
    yb = y.copy()
    yb[0] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        MeanShiftOutlierDetector().fit(X, yb)


@pytest.mark.parametrize("fit_intercept, need", [(True, 7), (False, 6)])
def test_too_few_samples_refused_with_the_number_needed(fit_intercept, need):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((need - 1, 4))
    with pytest.raises(ValueError, match=f"needs at least {need} samples for 4 features"):
        MeanShiftOutlierDetector(fit_intercept=fit_intercept).fit(X, rng.standard_normal(need - 1))
    # one more sample is enough to fit (every test has a residual degree of freedom)
    X = rng.standard_normal((need, 4))
    det = MeanShiftOutlierDetector(fit_intercept=fit_intercept, random_state=0).fit(
        X, X @ np.ones(4) + rng.standard_normal(need))
    assert det.outliers_.shape == (need,)


def test_constant_y_refused():
    X, _ = load_stackloss(return_X_y=True)
    with pytest.raises(ValueError, match="y is constant"):
        MeanShiftOutlierDetector().fit(X, np.full(21, 3.0))


@pytest.mark.parametrize("contamination", [0.0, 0.5, 0.7, -0.1, "high"])
def test_contamination_outside_open_interval_refused(contamination):
    X, y = load_stackloss(return_X_y=True)
    with pytest.raises(ValueError, match="contamination"):
        MeanShiftOutlierDetector(contamination=contamination).fit(X, y)


def test_duplicated_rows_refused():
    X, y = load_stackloss(return_X_y=True)
    X2 = np.vstack([X, X[5]])
    y2 = np.append(y, y[5])
    with pytest.raises(ValueError, match=r"duplicated sample.*row 22 repeats row 6"):
        MeanShiftOutlierDetector().fit(X2, y2)
    kept = MeanShiftOutlierDetector(duplicates="keep", random_state=0).fit(X2, y2)
    assert set(np.flatnonzero(kept.outliers_) + 1) == {1, 3, 4, 21}
    # the same x with a different response is a legitimate replicate
    y2[-1] += 1.0
    MeanShiftOutlierDetector(random_state=0).fit(X2, y2)


def test_generator_facts():
    X, y, mask, coef = make_outlier_regression(500, 4, contamination=0.2, leverage=0.5,
                                               n_good_leverage=10, random_state=0,
                                               return_coef=True)
    assert mask.sum() == 100
    clean = ~mask
    A = np.column_stack([np.ones(clean.sum()), X[clean]])
    beta = np.linalg.lstsq(A, y[clean], rcond=None)[0]
    np.testing.assert_allclose(beta[1:], coef, atol=0.2)
    np.testing.assert_allclose(beta[0], 3.0, atol=0.2)
    resid = y - X @ coef - 3.0
    # shifted by 10 to 20 noise units (plus the noise itself, below 4 units here)
    assert np.all(np.abs(resid[mask]) >= 6.0)
    assert np.all(np.abs(resid[clean]) < 4.0)
    with pytest.raises(ValueError, match="contamination"):
        make_outlier_regression(100, 3, contamination=0.6)


def test_load_stackloss():
    data = load_stackloss()
    assert data.data.shape == (21, 3) and data.target.shape == (21,)
    assert data.feature_names == ["AIRFLOW", "WATERTEMP", "ACIDCONC"]
    assert list(data.outliers + 1) == [1, 3, 4, 21]
    np.testing.assert_allclose(data.target[:3], [42.0, 37.0, 37.0])


def test_hawkins_bradu_kass_masking_data():
    # Hawkins, Bradu & Kass (1984): rows 1-10 are bad leverage points that mask each
    # other, rows 11-14 are good leverage points that least squares and Huber flag
    from pathlib import Path

    data = np.loadtxt(Path(__file__).parent / "data" / "hbk.csv", delimiter=",", skiprows=1)
    X, y = data[:, :3], data[:, 3]
    for solver in ["lbi", "iss"]:
        det = MeanShiftOutlierDetector(solver=solver, random_state=0).fit(X, y)
        assert set(np.flatnonzero(det.outliers_) + 1) == set(range(1, 11))
    plain = MeanShiftOutlierDetector(start="none").fit(X, y)
    assert set(np.flatnonzero(plain.outliers_) + 1) == {11, 12, 13, 14}


def test_small_samples_without_outliers_flag_almost_nothing():
    # trimmed scales are biased down in small samples; the deletion test must not turn
    # that into flagged clean samples (see also test_mean_shift_validation.py)
    flagged = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((30, 5))
        y = X @ rng.standard_normal(5) + rng.standard_normal(30)
        flagged.append(MeanShiftOutlierDetector(random_state=0).fit(X, y).n_outliers_)
    assert np.mean(flagged) <= 1.0   # 0.37 expected: 30 samples at tail 0.0124


def test_without_intercept():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((120, 2)) + 3.0
    y = X @ [1.5, -0.5] + 0.3 * rng.standard_normal(120)
    y[:6] += 5.0
    det = MeanShiftOutlierDetector(fit_intercept=False, random_state=0).fit(X, y)
    assert det.outliers_[:6].all() and det.n_outliers_ <= 7
    keep = ~det.outliers_
    beta = np.linalg.lstsq(X[keep], y[keep], rcond=None)[0]
    np.testing.assert_allclose(det.coef_, beta, atol=1e-8)
    assert det.intercept_ == 0.0
