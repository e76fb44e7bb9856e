"""Every path operator of the engine against its plain-numpy reference, and the
engine's invariants parametrized over operators.

An operator is what a path is computed through: the design (dense or CSC,
full Gram or working set, four losses, l1 or group penalty), the exact ISS of
the design, the implicit projection ``I - Q Q^T`` (LBI and ISS), the lifted
Split LBI operator, the cycle space of a comparison graph (the ranker's
path) and the bare driver for a given gradient. Each case below runs one of
them through the engine's entry point and, where a reference exists, through
``tests/_reference.py``; the tests compare the two and check, on the
engine's record alone, the invariants every path keeps: zero at and before
``t0``, the dual in the unit ball and on the sphere over the support, the
end of the path where it is known (least squares, the residual fit), the ISS
limit of LBI as ``kappa`` grows, and units (``c y + d`` gives ``c`` times the
coefficients).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import _reference as ref
import numpy as np
import pytest
import scipy.sparse as sp

from sparsestat import RobustPairwiseRanker, _engine
from sparsestat.datasets import make_pairwise_comparisons


# ----------------------------------------------------------------------------- records


@dataclass
class Record:
    """One path in a common form: ``coefs`` (n_times, N) is the penalized block,
    ``free`` the unpenalized one (Split LBI's beta), ``labels`` the penalty unit
    of each coefficient (``None`` for l1) and ``at`` reads the path at a time."""

    t0: float
    times: np.ndarray
    coefs: np.ndarray
    entry: np.ndarray
    n_iter: int
    free: np.ndarray | None = None
    intercepts: np.ndarray | None = None
    duals: np.ndarray | None = None
    labels: np.ndarray | None = None
    at: Callable | None = field(default=None, repr=False)


def _flat(a, n_times):
    a = a.toarray() if sp.issparse(a) else np.asarray(a)
    return a.reshape(n_times, -1)


def from_path(path, intercepts=True, labels=None):
    T = len(path.times)
    return Record(t0=float(path.t0), times=np.asarray(path.times), coefs=_flat(path.coefs, T),
                  entry=np.ravel(path.entry_times), n_iter=int(path.n_iter),
                  intercepts=_flat(path.intercepts, T) if intercepts else None,
                  duals=None if path.duals is None else _flat(path.duals, T), labels=labels,
                  at=path.coef_at)


def from_split(split, labels=None):
    gamma, beta = split.gamma_path, split.beta_path
    T = len(gamma.times)
    return Record(t0=float(gamma.t0), times=gamma.times, coefs=_flat(gamma.coefs, T),
                  entry=np.ravel(gamma.entry_times), n_iter=int(gamma.n_iter),
                  free=_flat(beta.coefs, T), intercepts=_flat(beta.intercepts, T),
                  labels=labels, at=gamma.coef_at)


def from_reference(path, labels=None):
    T = len(path.times)
    return Record(t0=float(path.t0), times=np.asarray(path.times), coefs=_flat(path.coefs, T),
                  entry=np.ravel(path.entry), n_iter=int(path.n_iter),
                  free=None if path.free is None else _flat(path.free, T),
                  intercepts=None if path.intercepts is None else _flat(path.intercepts, T),
                  duals=_flat(path.duals, T), labels=labels)


# ----------------------------------------------------------------------------- problems


def _regression(n, p, seed, k=3, K=1, corr=0.0):
    """A planted linear model with columns of unequal scales and offsets (equicorrelated
    with ``corr``), and sample weights."""
    rng = np.random.default_rng(seed)
    Z = np.sqrt(1.0 - corr) * rng.standard_normal((n, p)) + \
        np.sqrt(corr) * rng.standard_normal((n, 1))
    X = Z * rng.uniform(0.5, 3.0, p) + rng.uniform(-2.0, 2.0, p)
    B = np.zeros((p, K))
    B[:k] = rng.choice([-1.0, 1.0], (k, K)) * rng.uniform(0.5, 2.0, (k, K))
    Y = X @ B + 0.5 * rng.standard_normal((n, K)) + 3.0
    return X, Y, rng.uniform(0.5, 2.0, n)


def _sparsify(X, seed):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < 0.5] = 0.0
    return sp.csc_matrix(X)


def _classes(X, K, seed):
    rng = np.random.default_rng(seed)
    Xs = (X - X.mean(0)) / X.std(0)
    labels = np.argmax(Xs[:, :K] + rng.gumbel(size=(X.shape[0], K)), axis=1)
    return np.eye(K)[labels] if K > 2 else (labels == 1).astype(float)[:, None]


def _shift_problem(n, K, seed):
    """The mean-shift model: an orthonormal basis Q of [1, X], targets with a few shifted
    rows, and leverage-like row weights."""
    rng = np.random.default_rng(seed)
    A = np.column_stack([np.ones(n), rng.standard_normal((n, 2))])
    Q = np.linalg.qr(A)[0]
    Y = A @ rng.standard_normal((3, K)) + 0.3 * rng.standard_normal((n, K))
    Y[:3] += 3.0
    return Q, Y, rng.uniform(0.5, 1.5, n)


def _comparisons(seed):
    data = make_pairwise_comparisons(12, 100, 6, 0.15, random_state=seed, outcome="margin",
                                     noise=0.2)
    rng = np.random.default_rng(seed)
    return data.comparisons, data.outcomes, rng.uniform(0.5, 3.0, len(data.outcomes))


@contextmanager
def _working_set(on):
    """Make the design operator keep a working set (no full Gram matrix) when ``on``."""
    with pytest.MonkeyPatch.context() as mp:
        if on:
            mp.setattr(_engine, "_FULL_GRAM_MAX_FEATURES", 0)
        yield


def _inside_start(Q, Y, omega):
    """A start inside the path: the dual at ``0.8 t0`` pushed out by 2, so that the rows
    whose weighted residual exceeds 0.625 times the largest start beyond the unit sphere
    (active at once)."""
    n = Y.shape[0]
    R = (Y - Q @ (Q.T @ Y)) / omega[:, None]
    t_start = 0.8 * n / np.abs(R).max()
    z_start = np.clip(2.0 * t_start * R / n, -3.0, 3.0)
    return dict(t_start=t_start, z_start=z_start,
                times=t_start * np.geomspace(1.0 + 1e-9, 20.0, 25))


# ----------------------------------------------------------------------------- cases


@dataclass
class Case:
    """An operator on a small problem.

    ``engine(c, d)`` runs the entry point on the target ``c * y + d`` (``d`` only
    where the model has an intercept); ``reference()`` runs the plain loop (``None``:
    no reference, e.g. the adaptive default step); ``units`` says how the path
    moves with ``c``: ``'same'`` times or ``'inverse'`` times (``t / c``), ``None``
    for targets that are labels; ``shift`` whether ``d`` is absorbed by an
    intercept (``'intercept'``) or by the projection (``'projection'``); ``rtol``
    the agreement with the reference (rounding, unless the operator solves
    iteratively).
    """

    engine: Callable
    reference: Callable | None = None
    units: str | None = "same"
    shift: str | None = "intercept"
    duals: bool = False
    rtol: float = 1e-10


def _design_case(loss="squared", penalty="l1", *, n=40, p=6, K=1, seed=0, corr=0.0,
                 sparse=False, working_set=False, weights=True, groups=None, reference=True,
                 **kw):
    X, Y, w = _regression(n, p, seed, K=K, corr=corr)
    if loss in ("logistic", "multinomial"):
        Y = _classes(X, max(K, 2), seed)
    Xe = _sparsify(X, seed) if sparse else X
    Xr = Xe.toarray() if sparse else X
    sw = w if weights else None
    labels = None if penalty == "l1" else np.broadcast_to(
        (np.arange(p) if groups is None else np.asarray(groups))[:, None], (p, Y.shape[1])).ravel()
    kw = dict(loss=loss, penalty=penalty, groups=groups, sample_weight=sw, **kw)
    record_duals = kw.pop("record_duals", False)

    def engine(c=1.0, d=0.0):
        with _working_set(working_set):
            target = c * Y + d if loss in ("squared", "huber") else Y
            return from_path(_engine.lbi_path(Xe, target, record_duals=record_duals, **kw),
                             labels=labels)

    def reference_():
        return from_reference(ref.design_lbi(Xr, Y, **kw), labels=labels)

    real = loss in ("squared", "huber")
    return Case(engine, reference_ if reference else None, units="same" if real else None,
                shift="intercept" if real and kw.get("fit_intercept", True) else None,
                duals=record_duals)


def _iss_case(*, n=40, p=6, K=1, seed=0, corr=0.0, sparse=False, weights=True, **kw):
    X, Y, w = _regression(n, p, seed, k=min(3, p), K=K, corr=corr)
    Xe = _sparsify(X, seed) if sparse else X
    Xr = Xe.toarray() if sparse else X
    sw = w if weights else None

    def engine(c=1.0, d=0.0):
        return from_path(_engine.iss_path(Xe, c * Y + d, sample_weight=sw, record_duals=True,
                                          **kw))

    def reference_():
        return from_reference(ref.design_iss(Xr, Y, sample_weight=sw, **kw))

    return Case(engine, reference_, duals=True,
                shift="intercept" if kw.get("fit_intercept", True) else None)


def _projected_case(penalty="l1", *, n=30, K=1, seed=3, kappa=20.0, start=False, **kw):
    Q, Y, omega = _shift_problem(n, K, seed)
    labels = None if penalty == "l1" else np.repeat(np.arange(n), K)
    kw = dict(penalty=penalty, weights=omega, **kw)
    if start:
        kw.update(_inside_start(Q, Y, omega))

    def engine(c=1.0, d=0.0):
        # the shift path is not standardized: c Y with c kappa moves along t / c
        if start:
            scaled = dict(kw, t_start=kw["t_start"] / c, times=kw["times"] / c)
        else:
            scaled = kw
        path = _engine.projected_shift_path(Q, c * Y + d, kappa=c * kappa, **scaled)
        return from_path(path, intercepts=False, labels=labels)

    def reference_():
        return from_reference(ref.projected_lbi(Q, Y, kappa=kappa, **kw), labels=labels)

    return Case(engine, reference_, units="inverse", shift="projection")


def _projected_iss_case(*, n=30, seed=3, start=False, **kw):
    Q, Y, omega = _shift_problem(n, 1, seed)
    kw = dict(weights=omega, **kw)
    if start:
        kw.update(_inside_start(Q, Y, omega))

    def engine(c=1.0, d=0.0):
        scaled = dict(kw, t_start=kw["t_start"] / c, times=kw["times"] / c) if start else kw
        return from_path(_engine.projected_shift_iss_path(Q, c * Y + d, **scaled),
                         intercepts=False)

    def reference_():
        return from_reference(ref.projected_iss(Q, Y, **kw))

    return Case(engine, reference_, units="inverse", shift="projection")


def _split_case(D="fused", *, n=50, p=10, seed=4, sparse_D=False, penalty="l1", groups=None,
                **kw):
    X, Y, _ = _regression(n, p, seed, k=4)
    y = Y[:, 0]
    D = np.diff(np.eye(p), axis=0) if D == "fused" else np.eye(p)
    De = sp.csr_matrix(D) if sparse_D else D
    labels = None if groups is None else np.asarray(groups)

    def engine(c=1.0, d=0.0):
        split = _engine.split_lbi_path(X, c * y + d, De, penalty=penalty, groups=groups, **kw)
        return from_split(split, labels=labels)

    def reference_():
        return from_reference(ref.split_lbi(X, y, D, penalty=penalty, groups=groups, **kw),
                              labels=labels)

    return Case(engine, reference_,
                shift="intercept" if kw.get("fit_intercept", True) else None)


def _ranker_case(kind="l1", *, seed=1, kappa=50.0, n_times=30, t_ratio=30.0, solver="auto"):
    pairs, y, w = _comparisons(seed)
    rng = np.random.default_rng(seed + 1)
    extra = {}
    if kind == "annotators":
        extra["annotators"] = rng.integers(0, 15, len(y))
    elif kind == "features":
        extra["item_features"] = rng.standard_normal((12, 3))
    labels = None if kind != "annotators" else extra["annotators"]
    params = dict(kappa=kappa, n_times=n_times, t_ratio=t_ratio)

    def engine(c=1.0, d=0.0):
        fit = RobustPairwiseRanker(solver=solver, **params).fit(pairs, c * y, sample_weight=w,
                                                                **extra)
        return from_path(fit.regularization_path_, intercepts=False, labels=labels)

    def reference_():
        return from_reference(_ranker_reference(pairs, y, w, labels,
                                                extra.get("item_features"), **params),
                              labels=labels)

    # conjugate gradients stop the path's Laplacian solves at a relative residual of 1e-6
    return Case(engine, reference_, units="inverse", shift=None,
                rtol=1e-10 if solver != "cg" else 1e-5)


def _ranker_reference(pairs, y, w, annotators, features, *, kappa, n_times, t_ratio):
    """The ranker's gamma path: its statistics (residual scale, step, grid) written here,
    the path itself by the reference cycle-space loop on a dense projector."""
    items, inverse = np.unique(pairs, return_inverse=True)
    inverse = inverse.reshape(-1, 2)
    m = len(y)
    C = np.zeros((m, len(items)))
    C[np.arange(m), inverse[:, 0]] = 1.0
    C[np.arange(m), inverse[:, 1]] = -1.0
    wn = w / w.mean()
    P = ref.cycle_projection(C if features is None else C @ features, wn)
    r = P @ y
    scale = 1.4826 * np.median(np.abs(np.sqrt(wn) * r))
    rs = r / scale
    if annotators is None:
        gid, s = None, np.ones(m)
        norm0 = np.max(np.abs(wn * rs))
    else:
        gid = np.unique(annotators, return_inverse=True)[1]
        s = 1.0 / np.sqrt(np.bincount(gid))[gid]
        norm0 = np.sqrt(np.max(np.bincount(gid, (wn * rs * s) ** 2)))
    t0 = m / norm0
    # stable for the Hessian bound max(w s^2) / m, and at least 256 steps along the grid
    alpha = min(m / (kappa * np.max(wn * s ** 2)), t0 * (t_ratio - 1.0) / 256)
    path = ref.cycle_lbi(P, rs, wn, kappa=kappa, alpha=alpha,
                         times=ref.geometric_grid(t0, n_times, t_ratio),
                         penalty="l1" if gid is None else "group", groups=gid)
    # the ranker reports its path on the scale of the outcomes
    path.t0, path.times, path.entry = path.t0 / scale, path.times / scale, path.entry / scale
    path.coefs = path.coefs * scale
    return path


def _operator_case(*, seed=5, kappa=10.0, K=2):
    """The bare driver: a least-squares gradient given as a callable, group rows."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((30, 5))
    H = A.T @ A / 30
    Cm = H @ rng.standard_normal((5, K)) + 0.3 * rng.standard_normal((5, K))
    pen = ref.Penalty.of((5, K), "group")
    t0, z0 = ref.analytic_start(-Cm, pen)
    alpha = 1.0 / (kappa * np.linalg.eigvalsh(H)[-1])
    times = ref.geometric_grid(t0, 30, 30.0)
    labels = np.repeat(np.arange(5), K)

    def engine(c=1.0, d=0.0):
        path = _engine.lbi_path_operator(lambda B: H @ B - Cm, z0, t0, kappa=kappa, alpha=alpha,
                                         times=times, penalty="group", record_duals=True)
        return from_path(path, intercepts=False, labels=labels)

    def reference_():
        path = ref.lbi(lambda B, _: (H @ B - Cm, np.zeros(0)), z0, t0, times, kappa=kappa,
                       alpha=alpha, penalty=pen)
        return from_reference(path, labels=labels)

    return Case(engine, reference_, units=None, shift=None, duals=True)


CASES = {
    # the design: squared loss with a fixed step (full Gram matrix, then a working set)
    "squared-l1": _design_case(kappa=10.0, alpha=0.02, t_ratio=30, n_times=25,
                               record_duals=True),
    "squared-l1-bare": _design_case(kappa=10.0, alpha=0.005, t_ratio=30, n_times=25,
                                    fit_intercept=False, normalize=False, weights=False,
                                    seed=1),
    "squared-l1-correlated": _design_case(corr=0.8, kappa=10.0, alpha=0.005, t_ratio=30,
                                          n_times=25, seed=17),
    "squared-l1-tiny": _design_case(n=5, p=3, kappa=10.0, alpha=0.02, t_ratio=30, n_times=25,
                                    seed=18),
    "squared-l1-sparse": _design_case(kappa=10.0, alpha=0.02, t_ratio=30, n_times=25,
                                      sparse=True, seed=2),
    "squared-l1-working-set": _design_case(n=20, p=40, kappa=10.0, alpha=0.005, t_ratio=30,
                                           n_times=25, working_set=True, seed=3),
    "squared-l1-direct": _design_case(n=20, p=40, kappa=10.0, alpha=0.005, t_ratio=30,
                                      n_times=25, working_set=True, record_duals=True,
                                      seed=4),
    "squared-l1-sparse-direct": _design_case(n=20, p=40, kappa=10.0, alpha=0.005, t_ratio=30,
                                             n_times=25, sparse=True, working_set=True,
                                             seed=15),
    "squared-group": _design_case(penalty="group", groups=np.arange(6) // 2, kappa=10.0,
                                  alpha=0.02, t_ratio=30, n_times=25, seed=14),
    "squared-group-targets": _design_case(penalty="group", K=2, kappa=10.0, alpha=0.02,
                                          t_ratio=30, n_times=25, record_duals=True, seed=5),
    "squared-group-sparse-working-set": _design_case(
        penalty="group", groups=np.arange(30) // 3, n=20, p=30, sparse=True,
        working_set=True, kappa=10.0, alpha=0.005, t_ratio=30, n_times=25, seed=6),
    # the other losses with their default (fixed) step
    "huber-l1": _design_case("huber", kappa=10.0, t_ratio=30, n_times=25, record_duals=True,
                             seed=7),
    "huber-l1-sparse": _design_case("huber", kappa=10.0, t_ratio=30, n_times=25, sparse=True,
                                    seed=16),
    "logistic-l1": _design_case("logistic", kappa=10.0, t_ratio=20, n_times=25,
                                record_duals=True, seed=8),
    "logistic-l1-sparse": _design_case("logistic", kappa=10.0, t_ratio=20, n_times=25,
                                       sparse=True, seed=9),
    "multinomial-l1": _design_case("multinomial", K=3, kappa=10.0, t_ratio=20, n_times=25,
                                   seed=10),
    "multinomial-group": _design_case("multinomial", "group", K=3, kappa=10.0, t_ratio=20,
                                      n_times=25, record_duals=True, seed=11),
    # the squared loss with its adaptive default step: no reference, invariants only
    "squared-default-step": _design_case(kappa=10.0, t_ratio=50, reference=False,
                                         record_duals=True, seed=12),
    "squared-default-step-working-set": _design_case(n=20, p=40, kappa=10.0, t_ratio=50,
                                                     working_set=True, reference=False,
                                                     seed=13),
    # the exact ISS of the design
    "iss": _iss_case(K=2, t_ratio=100, n_times=30),
    "iss-correlated": _iss_case(corr=0.8, p=10, t_ratio=300, n_times=40, seed=4),
    "iss-sparse": _iss_case(sparse=True, t_ratio=100, n_times=30, seed=1),
    "iss-p>n": _iss_case(n=20, p=50, t_ratio=300, n_times=40, weights=False, seed=2),
    "iss-p>n-sparse": _iss_case(n=20, p=50, sparse=True, t_ratio=300, n_times=40,
                                weights=False, fit_intercept=False, seed=3),
    # the implicit projection I - Q Q^T
    "projected-l1": _projected_case(n_times=25, t_ratio=20),
    "projected-l1-targets": _projected_case(K=3, n_times=25, t_ratio=20, seed=4),
    "projected-group": _projected_case("group", K=3, n_times=25, t_ratio=20, seed=5),
    "projected-start": _projected_case(start=True, seed=11),
    "projected-iss": _projected_iss_case(n_times=25, t_ratio=20),
    "projected-iss-start": _projected_iss_case(start=True, seed=11),
    # the lifted Split LBI operator
    "split-fused": _split_case(kappa=5.0, t_ratio=10, n_times=20),
    "split-fused-sparse-D": _split_case(sparse_D=True, kappa=5.0, t_ratio=10, n_times=20,
                                        seed=5),
    "split-group": _split_case(penalty="group", groups=np.arange(9) // 3, kappa=5.0,
                               t_ratio=10, n_times=20, seed=6),
    "split-identity": _split_case("identity", nu=0.5, t_ratio=20, n_times=20,
                                  fit_intercept=False, seed=7),
    # the cycle space of a comparison graph (the ranker's gamma path); kappa is large
    # enough that the stable step is below the ranker's cap t0 (t_ratio - 1) / 256, whose
    # last step would end on the last record time
    "cycle-l1": _ranker_case(kappa=50.0),
    "cycle-annotators": _ranker_case("annotators", kappa=200.0, seed=2),
    "cycle-features": _ranker_case("features", kappa=50.0, seed=3),
    "cycle-cg": _ranker_case(solver="cg"),
    # the driver for a gradient given as a callable
    "operator-group": _operator_case(),
}
STARTS_INSIDE = {"projected-start", "projected-iss-start"}
KNOWN_BUGS = {}
WITH_REFERENCE = [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
    if name in KNOWN_BUGS else name
    for name, case in CASES.items() if case.reference is not None]


# ----------------------------------------------------------------------------- the references


def _assert_records_agree(got, want, rtol=1e-10):
    scale = max(np.abs(want.coefs).max(), 1e-300)
    assert got.t0 == pytest.approx(want.t0, rel=max(rtol, 1e-12))
    np.testing.assert_allclose(got.times, want.times, rtol=max(rtol, 1e-12))
    np.testing.assert_allclose(got.coefs, want.coefs, rtol=0, atol=rtol * scale)
    for name in ("free", "intercepts"):
        theirs = getattr(want, name)
        if theirs is not None:
            ours = getattr(got, name)
            np.testing.assert_allclose(ours, theirs, rtol=0,
                                       atol=rtol * max(np.abs(theirs).max(), scale),
                                       err_msg=name)
    if got.duals is not None:
        np.testing.assert_allclose(got.duals, want.duals, rtol=0, atol=rtol)
    finite = np.isfinite(want.entry)
    np.testing.assert_array_equal(np.isfinite(got.entry), finite)
    np.testing.assert_allclose(got.entry[finite], want.entry[finite], rtol=rtol)
    assert got.n_iter == want.n_iter


@pytest.mark.parametrize("name", WITH_REFERENCE)
def test_path_agrees_with_the_reference_loop(name):
    case = CASES[name]
    got, want = case.engine(), case.reference()
    # a path worth comparing: several coefficients enter inside the grid
    assert np.isfinite(want.entry).sum() >= 2
    assert np.count_nonzero(want.coefs[-1]) >= 2
    _assert_records_agree(got, want, case.rtol)


def test_a_start_beyond_the_sphere_is_recorded_at_the_start_time():
    Q, Y, omega = _shift_problem(30, 1, 11)
    kw = dict(weights=omega, kappa=20.0, **_inside_start(Q, Y, omega))
    kw["times"] = kw["t_start"] * np.geomspace(1.0, 20.0, 25)
    got = _engine.projected_shift_path(Q, Y, **kw)
    want = ref.projected_lbi(Q, Y, **kw)
    assert np.count_nonzero(want.coefs[0]) == 3   # active from the start
    np.testing.assert_allclose(got.coefs.toarray(), want.coefs.reshape(25, -1), atol=1e-10)


# ----------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("name", [n for n in CASES if n not in STARTS_INSIDE])
def test_zero_at_and_before_t0(name):
    path = CASES[name].engine()
    assert path.times[0] == pytest.approx(path.t0, rel=1e-12)
    before = path.times <= path.t0
    assert before.any()
    assert np.all(path.coefs[before] == 0)
    assert np.all(path.at(0.5 * path.t0) == 0) and np.all(path.at(path.t0) == 0)
    assert np.all(path.entry >= path.t0 * (1 - 1e-12))
    assert np.count_nonzero(path.coefs[-1]) > 0


def _unit_norms(v, labels):
    if labels is None:
        return np.abs(v)
    return np.sqrt(np.stack([np.bincount(labels, row ** 2)[labels] for row in v]))


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n].duals])
def test_dual_in_the_unit_ball_and_on_the_sphere_over_the_support(name):
    path = CASES[name].engine()
    labels = None if path.labels is None else np.unique(path.labels, return_inverse=True)[1]
    rho, coefs = path.duals, path.coefs
    assert np.all(_unit_norms(rho, labels) <= 1 + 1e-12)
    on = _unit_norms(coefs, labels) > 0
    assert on.sum() >= 5
    np.testing.assert_allclose(_unit_norms(rho, labels)[on], 1.0, atol=1e-12)
    nonzero = coefs != 0
    assert np.all(np.sign(rho[nonzero]) == np.sign(coefs[nonzero]))


@pytest.mark.parametrize("c", [1e-8, 3.7, 1e8])
@pytest.mark.parametrize("name", [n for n in CASES if CASES[n].units])
def test_units_of_the_target(name, c):
    """``c y + d`` gives ``c`` times the coefficients with the same entries and iterations;
    paths that are not standardized move along ``t / c`` (the shift path with ``c kappa``)."""
    case = CASES[name]
    d = 5.0 * c if case.shift else 0.0
    base, moved = case.engine(), case.engine(c, d)
    tc = 1.0 if case.units == "same" else c
    assert moved.n_iter == base.n_iter
    assert moved.t0 == pytest.approx(base.t0 / tc, rel=1e-11)
    np.testing.assert_allclose(moved.times, base.times / tc, rtol=1e-11)
    scale = np.abs(base.coefs).max()
    np.testing.assert_allclose(moved.coefs, c * base.coefs, rtol=0, atol=1e-9 * c * scale)
    if base.free is not None:
        np.testing.assert_allclose(moved.free, c * base.free, rtol=0,
                                   atol=1e-9 * c * np.abs(base.free).max())
    if case.shift == "intercept":
        np.testing.assert_allclose(moved.intercepts, c * base.intercepts + d, rtol=1e-9,
                                   atol=1e-9 * c * np.abs(base.intercepts).max())
    finite = np.isfinite(base.entry)
    np.testing.assert_array_equal(np.isfinite(moved.entry), finite)
    np.testing.assert_allclose(moved.entry[finite], base.entry[finite] / tc, rtol=1e-9)


# ----------------------------------------------------------------------------- the end of the path


def _weighted_ols(X, y, w):
    A = np.column_stack([np.ones(len(y)), X]) * np.sqrt(w)[:, None]
    return np.linalg.lstsq(A, y * np.sqrt(w), rcond=None)[0]


@pytest.mark.parametrize("kappa, sparse", [(5.0, False), (50.0, False), (20.0, True)])
def test_design_lbi_ends_at_least_squares(kappa, sparse):
    """For n >= p with full column rank the path ends at (weighted) OLS for any kappa,
    with the default step, dense or sparse."""
    X, Y, w = _regression(60, 5, 20, k=5)   # every OLS coefficient well away from 0
    path = _engine.lbi_path(_sparsify(X, 20) if sparse else X, Y, kappa=kappa,
                            sample_weight=w, t_ratio=3e3)
    ols = _weighted_ols(_sparsify(X, 20).toarray() if sparse else X, Y[:, 0], w)
    scale = np.abs(ols).max()
    np.testing.assert_allclose(path.coefs[-1, :, 0], ols[1:], atol=1e-8 * scale)
    assert path.intercepts[-1, 0] == pytest.approx(ols[0], abs=1e-8 * scale)


@pytest.mark.parametrize("sparse", [False, True])
def test_design_iss_ends_at_least_squares_exactly(sparse):
    X, Y, w = _regression(60, 8, 21, k=8)
    Xe = _sparsify(X, 21) if sparse else X
    path = _engine.iss_path(Xe, Y, sample_weight=w, t_ratio=1e4)
    ols = _weighted_ols(Xe.toarray() if sparse else X, Y[:, 0], w)
    np.testing.assert_allclose(path.coefs[-1, :, 0], ols[1:], atol=1e-10 * np.abs(ols).max())
    assert path.intercepts[-1, 0] == pytest.approx(ols[0], abs=1e-10 * np.abs(ols).max())


@pytest.mark.parametrize("solver, penalty, K", [
    ("lbi", "l1", 1), ("lbi", "group", 3), ("iss", "l1", 1)])
def test_shift_path_ends_at_the_residual_fit(solver, penalty, K):
    """Late on the path the shift absorbs what the projection leaves: (I - QQ^T)(Y - G) -> 0."""
    Q, Y, omega = _shift_problem(20, K, 22)
    if solver == "iss":
        path = _engine.projected_shift_iss_path(Q, Y, weights=omega, t_ratio=1e4, n_times=10)
    else:
        path = _engine.projected_shift_path(Q, Y, penalty=penalty, weights=omega, kappa=10.0,
                                            t_ratio=1e4, n_times=10)
    G = path.coefs[-1].toarray().reshape(20, K)
    R = Y - G
    resid = R - Q @ (Q.T @ R)
    start = Y - Q @ (Q.T @ Y)
    assert np.abs(resid).max() <= 1e-8 * np.abs(start).max()


def test_split_lbi_with_identity_ends_at_least_squares():
    """With D = I the fixed point of Split LBI is beta = gamma = OLS."""
    X, Y, _ = _regression(60, 5, 23, k=5)
    split = _engine.split_lbi_path(X, Y[:, 0], np.eye(5), kappa=5.0, nu=1.0, t_ratio=300)
    ols = _weighted_ols(X, Y[:, 0], np.ones(60))
    scale = np.abs(ols).max()
    np.testing.assert_allclose(split.beta_path.coefs[-1], ols[1:], atol=1e-8 * scale)
    np.testing.assert_allclose(split.gamma_path.coefs[-1], ols[1:], atol=1e-8 * scale)
    assert split.beta_path.intercepts[-1] == pytest.approx(ols[0], abs=1e-8 * scale)


# ----------------------------------------------------------------------------- LBI -> ISS


def _design_pair(kappa, times=None):
    X, Y, w = _regression(60, 10, 24, k=4)
    if kappa is None:
        return _engine.iss_path(X, Y, sample_weight=w, t_ratio=50, n_times=60)
    return _engine.lbi_path(X, Y, kappa=kappa, sample_weight=w, times=times)


def _projected_pair(kappa, times=None):
    Q, Y, omega = _shift_problem(40, 1, 25)
    if kappa is None:
        return _engine.projected_shift_iss_path(Q, Y, weights=omega, t_ratio=20, n_times=60)
    return _engine.projected_shift_path(Q, Y, weights=omega, kappa=kappa, times=times)


@pytest.mark.parametrize("form, kappas", [
    ("design", (10.0, 100.0, 1000.0)), ("projected", (100.0, 1000.0, 1e4))])
def test_lbi_tends_to_iss_as_kappa_grows(form, kappas):
    pair = _design_pair if form == "design" else _projected_pair
    iss = pair(None)
    want = _flat(iss.coefs, iss.n_times)
    errors, entry_errors = [], []
    for kappa in kappas:
        lbi = pair(kappa, iss.times)
        got = _flat(lbi.coefs, lbi.n_times)
        errors.append(np.abs(got - want)[5:].max() / np.abs(want).max())
        finite = np.isfinite(np.ravel(iss.entry_times))
        entry_errors.append(np.max(np.abs(np.ravel(lbi.entry_times)[finite]
                                          / np.ravel(iss.entry_times)[finite] - 1)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3
    assert entry_errors[2] < 1e-3
