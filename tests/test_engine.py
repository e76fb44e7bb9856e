"""The path engine's design operator: its limits, equivalences and failure modes.

Each test holds the engine against theory or the plain-numpy reference loops of
``tests/_reference.py``. The invariants every operator keeps (zero up to ``t0``,
the dual, least squares at the end, the ISS limit, units, agreement with the
references) are tested over all operators in ``tests/test_operators.py``.
"""

import _reference as ref
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize

from sparsestat import _engine


def _planted(n=80, p=12, k=3, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[:k] = np.linspace(3, 1.5, k) * np.array([1, -1, 1, -1, 1][:k])
    y = X @ beta + noise * rng.standard_normal(n)
    return X, y, beta


def _unit(y, center=True):
    """The unit the engine measures a real target in (paths run on ``y / unit``)."""
    return ref.target_unit(y[:, None], np.ones(len(y)), center)


def test_iss_dual_is_integral_of_the_gradient():
    """rho(t) = int_0^t X^T (y - X beta(s)) / n ds, checked on a fine grid."""
    X, y, _ = _planted(p=15, n=60, seed=2)
    u = _unit(y)
    Xc, yc = X - X.mean(0), (y - y.mean()) / u
    iss0 = _engine.iss_path(X, y[:, None], normalize=False, n_times=2)
    grid = iss0.t0 * np.linspace(1.0, 8.0, 20001)
    path = _engine.iss_path(X, y[:, None], normalize=False, times=grid, record_duals=True)
    beta = path.coefs[..., 0] / u
    vel = (yc[None, :] - beta @ Xc.T) @ Xc / len(y)
    # beta is piecewise constant and right-continuous after the knots: left Riemann sums
    integral = iss0.t0 * (Xc.T @ yc / len(y)) + np.concatenate(
        [np.zeros((1, X.shape[1])), np.cumsum(vel[1:] * np.diff(grid)[:, None], axis=0)])
    np.testing.assert_allclose(path.duals[..., 0], integral, atol=5e-3)


def test_iss_is_least_squares_on_its_support():
    X, y, _ = _planted(p=20, n=60, seed=3)
    Xc, yc = X - X.mean(0), y - y.mean()
    path = _engine.iss_path(X, y[:, None], normalize=False, t_ratio=30)
    for beta in path.coefs[..., 0]:
        S = beta != 0
        if S.any():
            grad = Xc[:, S].T @ (yc - Xc @ beta)
            assert np.max(np.abs(grad)) < 1e-8 * np.linalg.norm(Xc.T @ yc)


@pytest.mark.parametrize("solver", ["lbi", "iss"])
def test_true_support_enters_first(solver):
    X, y, beta = _planted(n=200, p=50, k=5, noise=0.5, seed=7)
    fit = _engine.lbi_path if solver == "lbi" else _engine.iss_path
    path = fit(X, y[:, None])
    first = set(path.entry_order()[:5])
    assert first == set(np.flatnonzero(beta))


def test_group_prox_is_safe_at_zero():
    from sparsestat._kernels._prox import prox_inplace

    z = np.zeros((4, 1))
    out = np.full((4, 1), np.nan)
    prox_inplace(z, out, 3.0, False, np.array([0, 2, 4]), np.arange(4))
    assert np.all(out == 0)


def test_logistic_and_multinomial_end_at_mle():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(11)
    X = rng.standard_normal((300, 4))
    logits = X @ np.array([1.0, -1.0, 0.5, 0.0])
    y = (rng.random(300) < 1 / (1 + np.exp(-logits))).astype(float)
    path = _engine.lbi_path(X, y[:, None], loss="logistic", kappa=5, t_ratio=3e3,
                            normalize=False)
    mle = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(path.coefs[-1, :, 0], mle.coef_[0], atol=1e-6)
    assert path.intercepts[-1, 0] == pytest.approx(mle.intercept_[0], abs=1e-6)

    labels = np.argmax(X[:, :3] + rng.gumbel(size=(300, 3)), axis=1)
    Y = np.eye(3)[labels]
    path = _engine.lbi_path(X, Y, loss="multinomial", kappa=5, t_ratio=3e3, normalize=False)
    mle = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, labels)
    coef = path.coefs[-1].T  # (K, p); softmax is invariant to a common shift per feature
    np.testing.assert_allclose(coef - coef.mean(0), mle.coef_ - mle.coef_.mean(0), atol=1e-4)


def test_p_greater_than_n_ends_at_penalized_interpolant():
    """LBI tends to argmin ||b||_1 + ||b||^2 / (2 kappa) subject to X b = y, on the
    standardized problem (y / unit; the coefficients scale back by unit)."""
    rng = np.random.default_rng(12)
    n, p, kappa = 15, 40, 2.0
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ np.array([2.0, -1.5, 1.0]) + 0.1 * rng.standard_normal(n)
    path = _engine.lbi_path(X, y[:, None], kappa=kappa, t_ratio=2e4, normalize=False,
                            fit_intercept=False)
    unit = _unit(y, center=False)
    y = y / unit
    shrink = ref.Penalty.of((p,), "l1").prox

    # dual: max_u y^T u - kappa/2 ||shrink(X^T u)||^2, then b = kappa shrink(X^T u)
    def neg_dual(u):
        s = shrink(X.T @ u)
        return -(y @ u) + 0.5 * kappa * s @ s, -(y - kappa * X @ s)

    u = minimize(neg_dual, np.zeros(n), jac=True, method="L-BFGS-B",
                 options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000}).x
    b_star = kappa * shrink(X.T @ u)
    assert np.max(np.abs(X @ b_star - y)) < 1e-6
    np.testing.assert_allclose(path.coefs[-1, :, 0], unit * b_star, atol=1e-4 * unit)


def test_sparse_design_equals_dense():
    X, y, _ = _planted(n=60, p=15, seed=13)
    X[np.abs(X) < 0.7] = 0.0
    w = np.random.default_rng(13).uniform(0.5, 2.0, len(y))
    for loss, target, weights in [("squared", y, None), ("logistic", (y > 0).astype(float), None),
                                  ("huber", y, None), ("huber", y, w)]:
        dense = _engine.lbi_path(X, target[:, None], loss=loss, t_ratio=20, sample_weight=weights)
        sparse = _engine.lbi_path(sp.csr_matrix(X), target[:, None], loss=loss, t_ratio=20,
                                  sample_weight=weights)
        np.testing.assert_allclose(sparse.info["delta"], dense.info["delta"], rtol=1e-12)
        np.testing.assert_allclose(sparse.coefs, dense.coefs, atol=1e-10)
        np.testing.assert_allclose(sparse.intercepts, dense.intercepts, atol=1e-10)
    iss_d = _engine.iss_path(X, y[:, None])
    iss_s = _engine.iss_path(sp.csc_matrix(X), y[:, None])
    np.testing.assert_allclose(iss_s.coefs, iss_d.coefs, atol=1e-9)


def test_split_lbi_identity_matches_lbi_order():
    X, y, beta = _planted(n=100, p=15, k=4, seed=14)
    # with D = I, Split LBI tends to LBI as the coupling nu goes to zero
    split = _engine.split_lbi_path(X, y, np.eye(15), t_ratio=50, nu=0.01)
    lbi = _engine.lbi_path(X, y[:, None], t_ratio=50)
    assert list(split.gamma_path.entry_order()[:4]) == list(lbi.entry_order()[:4])
    assert set(split.gamma_path.entry_order()[:4]) == set(np.flatnonzero(beta))


def test_split_lbi_fused_recovers_pieces_and_sparse_estimate():
    rng = np.random.default_rng(15)
    n, p = 120, 20
    X = rng.standard_normal((n, p))
    truth = np.repeat([0.0, 2.0, 0.0, -1.0], 5)
    y = X @ truth + 0.2 * rng.standard_normal(n)
    D = np.diff(np.eye(p), axis=0)
    split = _engine.split_lbi_path(X, y, sp.csr_matrix(D), t_ratio=30)
    jumps = set(split.gamma_path.entry_order()[:3])
    assert jumps == {4, 9, 14}
    t = split.gamma_path.times[np.argmax(split.gamma_path.coefs.astype(bool).sum(1) >= 3)]
    sparse_beta = split.sparse_coef_at(t)
    assert np.count_nonzero(np.abs(np.diff(sparse_beta)) > 1e-8) <= np.count_nonzero(
        split.gamma_path.coef_at(t))
    np.testing.assert_allclose(sparse_beta, truth, atol=0.15)


def test_unstable_step_is_refused():
    X, y, _ = _planted()
    lam = np.linalg.eigvalsh(np.corrcoef(X.T))[-1]
    with pytest.raises(ValueError, match="diverge"):
        _engine.lbi_path(X, y[:, None], kappa=10.0, alpha=2.0 / (10.0 * lam) * 1.01)
    path = _engine.lbi_path(X, y[:, None], kappa=10.0, alpha=2.0 / (10.0 * lam) * 0.9)
    assert np.all(np.isfinite(path.coefs))


def test_divergence_at_run_time_is_reported(monkeypatch):
    """A step past the stability bound (bypassing the a-priori check) is caught."""
    X, y, _ = _planted()
    monkeypatch.setitem(_engine._STEP_CONSTANT, "squared", 1e6)  # pretend a flat loss
    with pytest.raises(FloatingPointError, match="diverged"):
        _engine.lbi_path(X, y[:, None], kappa=10.0, alpha=1.0, t_ratio=1e4)


def test_max_iter_cuts_path_with_warning():
    from sklearn.exceptions import ConvergenceWarning

    X, y, _ = _planted()
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        path = _engine.lbi_path(X, y[:, None], max_iter=50)
    assert path.n_times < 100 and path.coefs.shape[0] == path.n_times
    assert np.all(np.isfinite(path.coefs))


def test_iss_p_greater_than_n_ends_at_basis_pursuit():
    """The ISS path ends at argmin ||b||_1 subject to X b = y (solved here as an LP)."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(16)
    n, p = 15, 40
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ np.array([2.0, -1.5, 1.0]) + 0.1 * rng.standard_normal(n)
    path = _engine.iss_path(X, y[:, None], normalize=False, fit_intercept=False, t_ratio=1e6)
    # b = u - v, u, v >= 0, minimize sum(u + v) subject to X (u - v) = y
    lp = linprog(np.ones(2 * p), A_eq=np.hstack([X, -X]), b_eq=y, bounds=(0, None),
                 method="highs")
    b_star = lp.x[:p] - lp.x[p:]
    np.testing.assert_allclose(path.coefs[-1, :, 0], b_star, atol=1e-7)


@pytest.fixture
def working_set(monkeypatch):
    """Make LBI use its working set (no full Gram matrix) on small problems too."""
    monkeypatch.setattr(_engine, "_FULL_GRAM_MAX_FEATURES", 0)


def _assert_matches_reference(path, want):
    scale = np.abs(want.coefs).max()
    np.testing.assert_allclose(path.coefs, want.coefs, atol=1e-10 * scale, rtol=0)
    finite = np.isfinite(want.entry)
    np.testing.assert_array_equal(np.isfinite(path.entry_times), finite)
    np.testing.assert_allclose(path.entry_times[finite], want.entry[finite], rtol=1e-10)
    assert path.n_iter == want.n_iter


@pytest.mark.parametrize("reach", [(1.5, 0.01), (0.0, -1.0)])
def test_working_set_matches_plain_numpy_loop(working_set, monkeypatch, reach):
    """(0, -1): no coordinate joins the working set before it crosses, so every
    entry replays its batch."""
    monkeypatch.setattr(_engine, "_WORKING_SET_REACH", reach)
    X, y, _ = _planted(n=40, p=300, k=5, seed=21)
    kw = dict(kappa=10.0, alpha=0.01, normalize=False)
    path = _engine.lbi_path(X, y[:, None], n_times=30, t_ratio=100, **kw)
    assert np.isfinite(path.entry_times).sum() > 20   # many joins: the working set grows
    _assert_matches_reference(path, ref.design_lbi(X, y[:, None], times=path.times, **kw))


@pytest.mark.parametrize("reach", [(1.5, 0.01), (0.0, -1.0)])
def test_working_set_group_matches_plain_numpy_loop(working_set, monkeypatch, reach):
    monkeypatch.setattr(_engine, "_WORKING_SET_REACH", reach)
    X, y, _ = _planted(n=30, p=90, k=5, seed=22)
    kw = dict(penalty="group", groups=np.repeat(np.arange(30), 3), kappa=10.0, alpha=0.005,
              normalize=False)
    path = _engine.lbi_path(X, y[:, None], n_times=25, t_ratio=50, **kw)
    want = ref.design_lbi(X, y[:, None], times=path.times, **kw)
    assert (np.abs(want.coefs[-1]) > 0).sum() >= 15
    _assert_matches_reference(path, want)


@pytest.mark.parametrize("sparse", [False, True])
def test_working_set_equals_full_gram_path(monkeypatch, sparse):
    """The default (adaptive-step) path is the same with and without a working set."""
    X, y, _ = _planted(n=50, p=200, k=5, seed=23)
    Y = np.column_stack([y, np.roll(y, 7)])
    if sparse:
        X[np.abs(X) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    full = _engine.lbi_path(X, Y, t_ratio=50)
    monkeypatch.setattr(_engine, "_FULL_GRAM_MAX_FEATURES", 0)
    screened = _engine.lbi_path(X, Y, t_ratio=50)
    assert full.n_iter == screened.n_iter
    np.testing.assert_allclose(screened.coefs, full.coefs, atol=1e-9)
    np.testing.assert_array_equal(np.isfinite(screened.entry_times), np.isfinite(full.entry_times))


def test_verbose_reports_progress(capsys):
    X, y, _ = _planted()
    _engine.lbi_path(X, y[:, None], n_times=50)
    assert capsys.readouterr().out == ""
    _engine.lbi_path(X, y[:, None], n_times=50, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert 5 <= len(lines) <= 11 and all(line.startswith("[LBI] t=") for line in lines)
    assert lines[-1].split(": ")[1].startswith("50/50 grid times")


def _assert_exact_iss(X, y, path, Xc, yc):
    """The characterization of the ISS path: least squares on the support with sign
    agreement, |rho| <= 1, and rho equal to the integral of the gradient (on the
    standardized target ``yc``: coefficients in its unit)."""
    beta, rho, grid = path.coefs[..., 0] / _unit(y), path.duals[..., 0], path.times
    n = len(y)
    scale = np.linalg.norm(Xc.T @ yc)
    for b, r in zip(beta, rho):
        S = b != 0
        if S.any():
            assert np.max(np.abs(Xc[:, S].T @ (yc - Xc @ b))) < 1e-8 * scale
            np.testing.assert_allclose(r[S], np.sign(b[S]), atol=1e-12)
    assert np.all(np.abs(rho) <= 1 + 1e-12)
    vel = (yc[None, :] - beta @ Xc.T) @ Xc / n
    integral = path.t0 * (Xc.T @ yc / n) + np.concatenate(
        [np.zeros((1, X.shape[1])), np.cumsum(vel[1:] * np.diff(grid)[:, None], axis=0)])
    np.testing.assert_allclose(rho, integral, atol=5e-3)


@pytest.mark.parametrize("sparse", [False, True])
def test_iss_p_greater_than_n_is_the_exact_path(sparse):
    """p > n runs the design mode (one product with X per solve, no Gram matrix)."""
    X, y, _ = _planted(n=40, p=120, k=4, noise=1.0, seed=31)
    if sparse:
        X[np.abs(X) < 0.6] = 0.0
    Xc, yc = X - X.mean(0), (y - y.mean()) / _unit(y)
    t0 = len(y) / np.max(np.abs(Xc.T @ yc))
    grid = t0 * np.geomspace(1.0, 100.0, 6001)
    path = _engine.iss_path(sp.csc_matrix(X) if sparse else X, y[:, None], normalize=False,
                            times=grid, record_duals=True)
    # many joins and some drops (coordinates leaving the support) on the way
    assert path.info["mode"] == "design" and path.info["drops"] >= 5
    assert (path.coefs[-1, :, 0] != 0).sum() >= 25
    _assert_exact_iss(X, y, path, Xc, yc)


def test_iss_duplicate_columns_rest_on_the_sphere():
    """An exact copy of an active column can never join; the path must not cycle."""
    X, y, _ = _planted(n=50, p=30, k=4, seed=32)
    X3 = np.hstack([X, X, X[:, :10]])
    single = _engine.iss_path(X, y[:, None], t_ratio=200)
    tripled = _engine.iss_path(X3, y[:, None], times=single.times)
    np.testing.assert_allclose(tripled.coefs[..., 0] @ X3.T, single.coefs[..., 0] @ X.T,
                               atol=1e-9)
    assert tripled.n_iter <= 2 * single.n_iter


def test_iss_verbose_segments_give_the_same_path(capsys):
    X, y, _ = _planted(n=40, p=120, k=4, seed=33)
    quiet = _engine.iss_path(X, y[:, None], n_times=50, t_ratio=50)
    assert capsys.readouterr().out == ""
    loud = _engine.iss_path(X, y[:, None], n_times=50, t_ratio=50, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert 8 <= len(lines) <= 11 and all(line.startswith("[ISS] t=") for line in lines)
    assert lines[-1].split(": ")[1].startswith("50/50 grid times")
    recorded = [int(line.split(": ")[1].split("/")[0]) for line in lines]
    assert recorded == sorted(recorded)
    np.testing.assert_array_equal(loud.coefs, quiet.coefs)
    np.testing.assert_array_equal(loud.entry_times, quiet.entry_times)
    from sparsestat import LBIRegressor

    LBIRegressor(solver="iss", n_times=20, verbose=1).fit(X, y)
    assert capsys.readouterr().out.startswith("[ISS] t=")


def test_float32_design_is_stored_in_float32():
    X, _, _ = _planted(n=70, p=9, seed=34)
    for A in (X, sp.csc_matrix(np.where(np.abs(X) > 0.5, X, 0.0))):
        d64 = _engine.prepare_design(A, center=True, normalize=True)
        d32 = _engine.prepare_design(A.astype(np.float32), center=True, normalize=True)
        held64 = d64.data if sp.issparse(A) else d64.dense
        held32 = d32.data if sp.issparse(A) else d32.dense
        assert d64.dtype == np.float64 and d32.dtype == np.float32 and held32.dtype == np.float32
        assert held32.nbytes * 2 == held64.nbytes
        np.testing.assert_allclose(held32, held64, rtol=1e-6, atol=1e-6)
        # sums over a float32 design are float64: the Gram matrix matches to float32 rounding
        np.testing.assert_allclose(d32.gram(), d64.gram(), atol=1e-6)


@pytest.mark.parametrize("case", ["iss", "iss-p>n", "lbi", "classifier"])
def test_float32_in_float32_out(case):
    from sklearn.base import clone

    from sparsestat import LBIClassifier, LBIRegressor

    n, p = (40, 100) if case == "iss-p>n" else (120, 15)
    X, y, _ = _planted(n=n, p=p, k=3, seed=35)
    if case == "classifier":
        est, target = LBIClassifier(t_ratio=20), y > 0
    else:
        est, target = LBIRegressor(solver="lbi" if case == "lbi" else "iss", t_ratio=20), y
    ref = clone(est).fit(X, target)
    got = clone(est).fit(X.astype(np.float32), target)
    path32, path64 = got.regularization_path_, ref.regularization_path_
    assert got.coef_.dtype == np.float32 and path32.coefs.dtype == np.float32
    assert np.asarray(got.intercept_).dtype == np.float32
    assert path32.intercepts.dtype == np.float32
    rel = np.max(np.abs(path32.coefs - path64.coefs)) / np.max(np.abs(path64.coefs))
    assert rel < 1e-5
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-5, atol=1e-5 * np.abs(ref.coef_).max())
    assert got.predict(X.astype(np.float32)).dtype == (np.float32 if case != "classifier" else bool)


def test_estimators_pass_verbose_to_the_path(capsys):
    from sparsestat import LBIClassifier, LBIRegressor

    X, y, _ = _planted()
    LBIRegressor(n_times=20).fit(X, y)
    LBIClassifier(n_times=20).fit(X, y > 0)
    assert capsys.readouterr().out == ""
    LBIRegressor(n_times=20, verbose=1).fit(X, y)
    LBIClassifier(n_times=20, verbose=1).fit(X, y > 0)
    out = capsys.readouterr().out.splitlines()
    assert all(line.startswith("[LBI] t=") for line in out)
    assert sum("20/20 grid times" in line for line in out) == 2   # each fit reaches the end


def test_default_step_follows_a_fine_step_when_many_join_at_once():
    """On diabetes nine coordinates pass the sphere in the first default step; the
    adaptive step must shrink for all of them (no overshoot of the path)."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    default = _engine.lbi_path(X, y[:, None], kappa=10.0)
    fine = _engine.lbi_path(X, y[:, None], kappa=10.0, alpha=default.info["alpha"] / 4)
    scale = np.abs(fine.coefs).max()
    # the discretization error of a monotone step (a step that let modes oscillate
    # overshoots by 11%, one that ignored the joiners by 160%)
    assert np.abs(default.coefs).max() <= 1.04 * scale
    assert np.abs(default.coefs - fine.coefs).max() <= 0.12 * scale


def test_cv_estimators_keep_float32():
    from sparsestat import LBIClassifierCV, LBIRegressorCV

    X, y, _ = _planted(n=60, p=30, k=3, seed=32, noise=3.0)   # noisy: CV stops inside the grid
    X32 = X.astype(np.float32)
    reg = LBIRegressorCV(cv=3, n_times=20, t_ratio=50).fit(X32, y)
    clf = LBIClassifierCV(cv=3, n_times=20, t_ratio=50).fit(X32, y > 0)
    assert reg.coef_.dtype == np.float32 and reg.regularization_path_.coefs.dtype == np.float32
    assert clf.coef_.dtype == np.float32
    ref = LBIRegressorCV(cv=3, n_times=20, t_ratio=50).fit(X, y)
    assert reg.t_ == pytest.approx(ref.t_, rel=1e-5)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-4, atol=1e-4)
