"""Plain-numpy reference loops for every path operator of the engine.

Nothing here imports the package: each operator is written again from its
mathematics, as slowly and plainly as possible, so that the tests can hold
the engine's paths against it to rounding error.

The LBI iteration shared by every operator, with a penalized block ``U`` and
an unpenalized block ``v``::

    z_{k+1} = z_k - alpha * grad_U L(U_k, v_k) / omega
    v_{k+1} = v_k - kappa * alpha * grad_v L(U_k, v_k)
    U_{k+1} = kappa * omega * prox(z_{k+1})          t_{k+1} = t_k + alpha

``omega`` are per-unit penalty weights (ones unless given). It starts at
``t0`` from ``z0`` (the analytic jump: ``z0 = -t0 grad L(0)`` with ``t0`` the
first time a unit reaches the unit sphere). A record time inside the step
``(t_k, t_k + alpha]`` reads ``z`` and ``v`` interpolated linearly inside the
step, then applies the prox; record times at or before ``t0`` read the
start. The entry time of a unit is the time its dual reaches the unit
sphere, solved inside the step where it does.

The exact inverse scale space (ISS) path is written as a sequence of knots,
each one a sign-constrained least-squares problem solved by ``scipy.optimize.nnls``.

Operators: the design (squared, huber, logistic and multinomial losses,
weights, intercept, l1 or group penalty) in :func:`design_lbi` and
:func:`design_iss`; the implicit projection ``I - Q Q^T`` of the mean-shift
model in :func:`projected_lbi` and :func:`projected_iss`; the cycle space of a
comparison graph in :func:`cycle_lbi`; the lifted Split LBI in
:func:`split_lbi`; and the bare iteration for a given gradient in :func:`lbi`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls


@dataclass
class ReferencePath:
    """A path recorded on ``times``.

    ``coefs`` (n_times, ...) is the penalized block, ``free`` the unpenalized
    block (the intercepts of the design, ``beta`` of Split LBI; ``None`` when
    there is none), ``intercepts`` the intercepts on the data's scale,
    ``entry`` the entry time of every penalized coefficient (``inf``: never),
    ``duals`` the normalized dual ``rho`` on ``times`` and ``n_iter`` the
    steps (LBI) or knots (ISS) taken.
    """

    t0: float
    times: np.ndarray
    coefs: np.ndarray
    entry: np.ndarray
    duals: np.ndarray
    n_iter: int
    free: np.ndarray | None = None
    intercepts: np.ndarray | None = None


# ----------------------------------------------------------------------------- penalties


class Penalty:
    """The l1 or group penalty on an array of coefficients.

    ``units`` gives the penalty unit of every coefficient (same shape): all
    distinct for l1; one label per group, shared by its members, otherwise.
    """

    def __init__(self, units):
        self.units = np.asarray(units)
        self.flat = np.unique(self.units.ravel(), return_inverse=True)[1]
        self.l1 = self.flat.max(initial=-1) + 1 == self.units.size

    @classmethod
    def of(cls, shape, penalty, groups=None):
        """The penalty on coefficients of ``shape`` (rows: features, columns: targets).

        ``'group'`` groups rows by the label ``groups`` gives each (``None``: every row
        is a group); a group holds its rows across all columns.
        """
        if penalty == "l1":
            return cls(np.arange(int(np.prod(shape))).reshape(shape))
        rows = np.arange(shape[0]) if groups is None else \
            np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
        return cls(np.broadcast_to(rows.reshape((-1,) + (1,) * (len(shape) - 1)), shape))

    def norm(self, z):
        """The norm of each coefficient's unit, at every coefficient."""
        if self.l1:
            return np.abs(z)
        sq = np.bincount(self.flat, weights=(z * z).ravel())
        return np.sqrt(sq)[self.flat].reshape(z.shape)

    def dual_norm(self, g):
        """The largest unit norm of ``g`` (``max |g|`` for l1)."""
        return float(np.max(self.norm(g), initial=0.0))

    def prox(self, z):
        """``z * max(0, 1 - 1 / ||z_unit||)``: soft thresholding at 1, unit by unit."""
        nrm = self.norm(z)
        return np.where(nrm > 1.0, z - z / np.maximum(nrm, 1.0), 0.0)

    def project(self, z):
        """``z - prox(z)``: the projection onto the unit ball of the dual norm."""
        return z / np.maximum(self.norm(z), 1.0)

    def crossing(self, a, b):
        """Fraction ``f`` in ``[0, 1]`` where ``||a + f (b - a)||`` reaches 1, per unit.

        0 for units already on or outside the sphere; meaningful where ``||b|| > 1``.
        """
        d = b - a
        aa = self._unit_sum(a * a)
        ad = self._unit_sum(a * d)
        dd = self._unit_sum(d * d)
        gap = np.maximum(1.0 - aa, 0.0)
        # the positive root of dd f^2 + 2 ad f - (1 - aa), in the form without cancellation
        denom = ad + np.sqrt(np.maximum(ad * ad + dd * gap, 0.0))
        f = np.divide(gap, denom, out=np.zeros_like(gap), where=(gap > 0.0) & (denom > 0.0))
        return np.minimum(f, 1.0)

    def _unit_sum(self, v):
        if self.l1:
            return v
        return np.bincount(self.flat, weights=v.ravel())[self.flat].reshape(v.shape)


# ----------------------------------------------------------------------------- LBI


def geometric_grid(t0, n_times, t_ratio):
    """``n_times`` record times from ``t0`` to ``t_ratio * t0``, evenly spaced in log."""
    if n_times == 1:
        return np.array([t0 * t_ratio])
    return t0 * np.geomspace(1.0, t_ratio, n_times)


def lbi(gradient, z0, t0, times, *, kappa, alpha, penalty, omega=1.0, v0=None):
    """The LBI iteration above for ``gradient(U, v) -> (grad_U, grad_v)``.

    Returns a :class:`ReferencePath` (``free`` holds ``v``; no intercepts).
    """
    times = np.asarray(times, dtype=float)
    z = np.array(z0, dtype=float)
    v = np.zeros(0) if v0 is None else np.array(v0, dtype=float)
    U = kappa * omega * penalty.prox(z)
    n_times = len(times)
    coefs = np.zeros((n_times,) + z.shape)
    duals = np.zeros((n_times,) + z.shape)
    free = np.zeros((n_times,) + v.shape)
    entry = np.full(z.shape, np.inf)
    t, gi, n_iter = float(t0), 0, 0
    while gi < n_times and times[gi] <= t0:
        coefs[gi], duals[gi], free[gi] = U, penalty.project(z), v
        gi += 1
    while gi < n_times:
        gU, gv = gradient(U, v)
        z_new = z - alpha * gU / omega
        v_new = v - kappa * alpha * gv
        enters = np.isinf(entry) & (penalty.norm(z_new) > 1.0)
        if enters.any():
            entry[enters] = t + alpha * penalty.crossing(z, z_new)[enters]
        while gi < n_times and times[gi] <= t + alpha:
            f = max((times[gi] - t) / alpha, 0.0)
            zf = z + f * (z_new - z)
            coefs[gi] = kappa * omega * penalty.prox(zf)
            duals[gi] = penalty.project(zf)
            free[gi] = v + f * (v_new - v)
            gi += 1
        z, v = z_new, v_new
        U = kappa * omega * penalty.prox(z)
        t += alpha
        n_iter += 1
    return ReferencePath(t0=float(t0), times=times, coefs=coefs, entry=entry, duals=duals,
                         n_iter=n_iter, free=free if v.size else None)


def analytic_start(grad0, penalty, omega=1.0):
    """``(t0, z0)``: the first time the normalized dual ``-t grad0 / omega`` reaches the
    unit sphere, and the dual there."""
    g = np.asarray(grad0) / omega
    norm0 = penalty.dual_norm(g)
    return 1.0 / norm0, penalty.project(-g / norm0)


# ----------------------------------------------------------------------------- units


def weighted_median(x, w):
    """A minimizer of ``sum_i w_i |x_i - m|``: the midpoint when they form an interval."""
    order = np.argsort(x, kind="stable")
    xs, ws = np.asarray(x, dtype=float)[order], np.asarray(w, dtype=float)[order]
    below = np.cumsum(ws)
    half = 0.5 * below[-1]
    i = int(np.argmax(below >= half))
    if np.isclose(below[i], half, rtol=1e-12, atol=0.0) and i + 1 < len(xs):
        return 0.5 * (xs[i] + xs[i + 1])
    return float(xs[i])


def standardize(X, w, center, normalize):
    """``(Xs, mean, scale)`` with ``Xs = (X - mean) / scale`` on the weighted moments.

    Columns holding one value get scale 1 (and are exactly zero when centered).
    """
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
    wn = w / w.sum()
    mean = wn @ X if center else np.zeros(X.shape[1])
    Xc = X - mean
    const = np.all(X == X[:1], axis=0)
    if center:
        Xc[:, const] = 0.0
    sd = np.sqrt(wn @ (Xc * Xc))
    scale = np.where((sd > 0) & ~const, sd, 1.0) if normalize else np.ones(X.shape[1])
    return Xc / scale, mean, scale


def target_unit(Y, w, center):
    """The weighted root mean square deviation of ``Y`` (from its weighted column means
    when ``center``): the unit a real target is measured in."""
    wn = w / w.sum()
    R = Y - wn @ Y if center else Y
    rms = float(np.sqrt(wn @ np.mean(R * R, axis=1)))
    return rms if rms > 0 else 1.0


def huber_unit(Xs, Ys, w):
    """Robust scale of a Huber target: the normalized weighted MAD of the residuals of
    a weighted least-squares fit with an intercept (of the deviations from the
    weighted median when there are too few samples for the fit)."""
    n, p = Xs.shape
    R = Ys - np.array([weighted_median(col, w) for col in Ys.T])
    if n > p + 1:
        A = np.column_stack([np.ones(n), Xs])
        sw = np.sqrt(w)[:, None]
        R = Ys - A @ np.linalg.lstsq(A * sw, Ys * sw, rcond=None)[0]
    r, wr = R.ravel(), np.repeat(w, R.shape[1])
    return 1.4826 * weighted_median(np.abs(r - weighted_median(r, wr)), wr)


# ----------------------------------------------------------------------------- design


def _sigmoid(e):
    return 0.5 * (1.0 + np.tanh(0.5 * e))


def _softmax(eta):
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def loss_derivative(loss, eta, Y, delta):
    """``d loss_i / d eta_i`` for every sample (and target)."""
    if loss == "squared":
        return eta - Y
    if loss == "huber":
        return np.clip(eta - Y, -delta, delta)
    if loss == "logistic":
        return _sigmoid(eta) - Y
    if loss == "poisson":
        return np.exp(eta) - Y
    return _softmax(eta) - Y


def loss_value(loss, eta, Y, delta):
    """``loss_i`` summed over the targets, for every sample (up to terms free of ``eta``)."""
    r = eta - Y
    if loss == "squared":
        return 0.5 * np.sum(r * r, axis=1)
    if loss == "huber":
        a = np.abs(r)
        return np.sum(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)), axis=1)
    if loss == "logistic":
        return np.sum(np.logaddexp(0.0, eta) - Y * eta, axis=1)
    if loss == "poisson":
        return np.sum(np.exp(eta) - Y * eta, axis=1)
    m = eta.max(axis=1)
    return m + np.log(np.exp(eta - m[:, None]).sum(axis=1)) - np.sum(Y * eta, axis=1)


def loss_curvature(loss, eta, Y, delta):
    """``d^2 loss_i / d eta_ik d eta_im``, shape (n, K, K)."""
    n, K = eta.shape
    if loss == "multinomial":
        P = _softmax(eta)
        return np.einsum("ik,km->ikm", P, np.eye(K)) - P[:, :, None] * P[:, None, :]
    if loss == "squared":
        h = np.ones_like(eta)
    elif loss == "huber":
        h = (np.abs(eta - Y) <= delta).astype(float)
    elif loss == "logistic":
        h = _sigmoid(eta) * (1.0 - _sigmoid(eta))
    else:
        h = np.exp(eta)
    return np.einsum("ik,km->ikm", h, np.eye(K))


def free_fit(loss, A, Y, w, delta, theta):
    """The minimizer over ``theta`` of ``sum_i w_i loss(A_i theta, y_i) / n`` by Newton's
    method with halving steps, from ``theta`` (min-norm steps: the multinomial
    coefficients are defined up to a constant per row)."""
    n, K = Y.shape
    m = A.shape[1]
    theta = np.array(theta, dtype=float)

    def value(th):
        return float(w @ loss_value(loss, A @ th, Y, delta)) / n

    for _ in range(200):
        eta = A @ theta
        g = A.T @ (w[:, None] * loss_derivative(loss, eta, Y, delta)) / n
        if np.max(np.abs(g)) < 1e-15:
            break
        C = w[:, None, None] * loss_curvature(loss, eta, Y, delta)
        hess = np.einsum("ia,ikm,ic->akcm", A, C, A).reshape(m * K, m * K) / n
        step = np.linalg.lstsq(hess, g.ravel(), rcond=1e-13)[0].reshape(m, K)
        s, v0 = 1.0, value(theta)
        while value(theta - s * step) > v0 and s > 1e-12:
            s /= 2
        if value(theta - s * step) > v0:
            break
        theta = theta - s * step
    return theta


def _huber_location(y, w, delta):
    """The root of ``sum_i w_i psi(y_i - b)`` (``psi`` the Huber score), by bisection."""
    lo, hi = float(y.min()), float(y.max())
    while True:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            return mid
        if np.sum(w * np.clip(y - mid, -delta, delta)) > 0:
            lo = mid
        else:
            hi = mid


def initial_intercept(loss, Y, w, delta):
    """The best intercept of the model without features."""
    wn = w / w.sum()
    if loss == "squared":
        return wn @ Y
    if loss == "logistic":
        m = wn @ Y
        return np.log(m / (1 - m))
    if loss == "multinomial":
        logf = np.log(wn @ Y)
        return logf - logf.mean()
    if loss == "poisson":
        return np.log(wn @ Y)
    return np.array([_huber_location(col, w, delta) for col in Y.T])


# curvature bound of each loss relative to that of the squared loss
_CURVATURE = {"squared": 1.0, "huber": 1.0, "logistic": 0.25, "multinomial": 0.5}


def design_lbi(X, Y, *, loss="squared", penalty="l1", groups=None, kappa=10.0, alpha=None,
               times=None, n_times=100, t_ratio=100.0, fit_intercept=True, normalize=True,
               sample_weight=None, epsilon=1.35, free=None):
    """LBI of ``sum_i w_i loss(x_i B + b, y_i) / n`` with an l1 or group penalty on ``B``.

    ``X`` (n, p) is standardized with the weights (centered when
    ``fit_intercept``, divided by its standard deviations when ``normalize``);
    a squared or Huber target is divided by its unit (the Huber target
    further by its robust scale, so that its threshold is ``epsilon``); the
    intercept takes gradient steps from its best value without features.
    ``Y`` is (n, K): targets, a 0/1 column, a one-hot matrix or counts
    (``'poisson'``, log link). ``alpha=None`` takes ``1 / (kappa L)``, ``L`` the
    loss's curvature bound (not the engine's adaptive step of the squared loss;
    Poisson needs ``alpha``). Coefficients and intercepts are returned on the
    data's scale.

    ``free`` lists unpenalized features: with the intercept they form the
    unpenalized block ``v``, which takes gradient steps of size ``kappa * alpha``
    and starts at the fit of the loss on ``v`` alone (:func:`free_fit`); the
    analytic start is taken from the gradient there. Their coefficients are in
    the returned ``coefs`` with entry time 0.
    """
    n, p = X.shape
    Y = np.asarray(Y, dtype=float)
    K = Y.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = w / w.mean()
    Xs, mean, scale = standardize(X, w, fit_intercept, normalize)
    unit, delta = 1.0, 0.0
    if loss in ("squared", "huber"):
        unit = target_unit(Y, w, fit_intercept)
        Y = Y / unit
    if loss == "huber":
        sigma = huber_unit(Xs, Y, w)
        Y, unit, delta = Y / sigma, unit * sigma, float(epsilon)
    b0 = initial_intercept(loss, Y, w, delta) if fit_intercept else np.zeros(K)
    F = np.zeros(0, dtype=int) if free is None else np.asarray(free, dtype=int)
    P = np.setdiff1d(np.arange(p), F)
    # the unpenalized block v: the intercept (row 0) and the free coefficients
    A = np.column_stack([np.ones(n) * fit_intercept, Xs[:, F]])
    v0 = np.vstack([b0, np.zeros((F.size, K))])
    if F.size:
        if fit_intercept:
            v0 = free_fit(loss, A, Y, w, delta, v0)
        else:
            v0[1:] = free_fit(loss, A[:, 1:], Y, w, delta, v0[1:])

    def gradient(B, v):
        G = w[:, None] * loss_derivative(loss, Xs[:, P] @ B + A @ v, Y, delta)
        return Xs[:, P].T @ G / n, A.T @ G / n

    pen = Penalty.of((P.size, K), penalty, groups)
    t0, z0 = analytic_start(gradient(np.zeros((P.size, K)), v0)[0], pen)
    if alpha is None:
        curvature = np.linalg.eigvalsh(Xs.T @ (w[:, None] * Xs) / n)[-1] * _CURVATURE[loss]
        alpha = 1.0 / (kappa * curvature)
    if times is None:
        times = geometric_grid(t0, n_times, t_ratio)
    path = lbi(gradient, z0, t0, times, kappa=kappa, alpha=alpha, penalty=pen, v0=v0)
    coefs = np.zeros((len(times), p, K))
    coefs[:, P], coefs[:, F] = path.coefs, path.free[:, 1:]
    entry = np.zeros((p, K))
    entry[P] = path.entry
    path.coefs, path.entry = coefs * (unit / scale[:, None]), entry
    path.intercepts = unit * path.free[:, 0] - np.einsum("p,tpk->tk", mean, path.coefs)
    path.free = None   # returned within coefs and intercepts
    return path


def design_iss(X, Y, *, times=None, n_times=100, t_ratio=100.0, fit_intercept=True,
               normalize=True, sample_weight=None, free=None):
    """The exact ISS path of the weighted squared loss, l1 penalty, each target apart.

    Standardized as in :func:`design_lbi`; the grid is shared and starts at the
    earliest ``t0`` over the targets. ``n_iter`` counts the knots of all targets.
    ``free`` lists unpenalized features: the penalized columns and the target are
    replaced by their residuals on them (least squares), and at every time their
    coefficients are the least-squares fit given the penalized ones (entry time 0).
    """
    n, p = X.shape
    Y = np.asarray(Y, dtype=float)
    K = Y.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = w / w.mean()
    Xs, mean, scale = standardize(X, w, fit_intercept, normalize)
    unit = target_unit(Y, w, fit_intercept)
    Ys = Y / unit
    y_mean = (w @ Ys) / w.sum() if fit_intercept else np.zeros(K)
    sw = np.sqrt(w)[:, None]
    A, R = Xs * sw, (Ys - y_mean) * sw
    F = np.zeros(0, dtype=int) if free is None else np.asarray(free, dtype=int)
    P = np.setdiff1d(np.arange(p), F)
    AF = A[:, F]

    def residual(M):
        return M - AF @ np.linalg.lstsq(AF, M, rcond=None)[0] if F.size else M

    AP, RP = residual(A[:, P]), residual(R)
    starts = [iss_start(AP, RP[:, k], np.ones(P.size)) for k in range(K)]
    t0 = min(starts)
    if times is None:
        times = geometric_grid(t0, n_times, t_ratio)
    paths = [iss(AP, RP[:, k], np.ones(P.size), times) for k in range(K)]
    coefs = np.zeros((len(times), p, K))
    coefs[:, P] = np.stack([q.coefs for q in paths], axis=-1)
    if F.size:
        fit = R[None] - np.einsum("ip,tpk->tik", A[:, P], coefs[:, P])
        coefs[:, F] = np.stack([np.linalg.lstsq(AF, r, rcond=None)[0] for r in fit])
    coefs = coefs * (unit / scale[:, None])
    intercepts = unit * y_mean - np.einsum("p,tpk->tk", mean, coefs)
    entry = np.zeros((p, K))
    entry[P] = np.stack([q.entry for q in paths], axis=-1)
    return ReferencePath(t0=t0, times=np.asarray(times, dtype=float), coefs=coefs,
                         entry=entry, duals=np.stack([q.duals for q in paths], axis=-1),
                         n_iter=sum(q.n_iter for q in paths), intercepts=intercepts)


# ----------------------------------------------------------------------------- ISS


def _iss_velocity(A, y, omega, beta):
    return A.T @ (y - A @ beta) / (A.shape[0] * omega)


def iss_start(A, y, omega):
    """The time the first coordinate of the ISS path of :func:`iss` enters."""
    return 1.0 / np.max(np.abs(_iss_velocity(A, y, omega, np.zeros(A.shape[1]))))


def iss(A, y, omega, times, *, rho0=None, t0=None, tol=1e-9):
    """The exact ISS path of ``||y - A beta||^2 / (2n)`` with the penalty ``sum omega_j |beta_j|``.

    The normalized dual moves linearly, ``rho' = A^T (y - A beta) / (n omega)``, while
    ``beta`` stays constant; at a knot the coordinates on the unit sphere form the
    set ``S`` and ``beta`` solves ``min ||y - A_S beta_S||`` subject to
    ``sign(beta_j) in {0, rho_j}`` (a nonnegative least-squares problem in
    ``rho_j beta_j``); coordinates left at zero leave the sphere. ``beta(t)`` on
    ``(t_k, t_{k+1}]`` is the solution at knot ``t_k`` (zero up to ``t0``).
    Without ``rho0`` the path starts at :func:`iss_start`. Velocities below ``tol``
    times the initial one count as zero.
    """
    n, p = A.shape
    times = np.asarray(times, dtype=float)

    def velocity(beta):
        return _iss_velocity(A, y, omega, beta)

    v = velocity(np.zeros(p))
    zero = tol * np.max(np.abs(v))
    if rho0 is None:
        t0 = iss_start(A, y, omega)
        rho = t0 * v
    else:
        rho = np.array(rho0, dtype=float)
    on = np.abs(rho) >= 1.0 - 1e-12
    rho[on] = np.sign(rho[on])
    beta, t, gi, n_knots = np.zeros(p), float(t0), 0, 0
    coefs = np.zeros((len(times), p))
    duals = np.zeros((len(times), p))
    entry = np.full(p, np.inf)
    while gi < len(times) and times[gi] <= t0:
        duals[gi] = rho + (times[gi] - t0) * v
        gi += 1
    while True:
        S = np.flatnonzero(on)
        beta = np.zeros(p)
        if S.size:
            u = nnls(A[:, S] * rho[S], y, maxiter=50 * (S.size + 10))[0]
            beta[S] = rho[S] * u
        v = velocity(beta)
        entry[np.isinf(entry) & (beta != 0)] = t
        on &= beta != 0
        moving = ~on & (np.abs(v) > zero) & ~((np.abs(rho) >= 1.0) & (rho * v > 0))
        dt, nxt = np.inf, -1
        if moving.any():
            steps = np.where(moving, (np.sign(v) - rho) / np.where(moving, v, 1.0), np.inf)
            nxt = int(np.argmin(steps))
            dt = float(steps[nxt])
        while gi < len(times) and times[gi] <= t + dt:
            coefs[gi] = beta
            duals[gi] = np.where(on, rho, rho + (times[gi] - t) * v)
            gi += 1
        if gi >= len(times) or nxt < 0:
            break
        rho = np.where(on, rho, np.clip(rho + dt * v, -1.0, 1.0))
        t += dt
        rho[nxt] = np.sign(v[nxt])
        on[nxt] = True
        n_knots += 1
    return ReferencePath(t0=float(t0), times=times, coefs=coefs, entry=entry, duals=duals,
                         n_iter=n_knots)


# ----------------------------------------------------------------------------- projection


def projected_lbi(Q, Y, *, penalty="l1", weights=None, kappa=100.0, alpha=None, times=None,
                  n_times=100, t_ratio=100.0, z_start=None, t_start=0.0):
    """LBI of a shift ``G`` (n, K) under ``||(I - Q Q^T)(Y - G)||^2 / (2n)`` with the
    penalty ``sum_i weights_i pen(G_i)`` (l1 entrywise, or the 2-norm of each row
    for ``'group'``), the projection held as an explicit ``n x n`` matrix.

    ``z_start`` (normalized dual ``z_i / weights_i``) and ``t_start`` replace the
    analytic start; ``alpha=None`` is ``n / kappa``.
    """
    Y = np.asarray(Y, dtype=float)
    n, K = Y.shape
    omega = np.ones((n, 1)) if weights is None else np.asarray(weights, dtype=float)[:, None]
    P = np.eye(n) - Q @ Q.T
    pen = Penalty.of((n, K), penalty)

    def gradient(G, _):
        return P @ (G - Y) / n, np.zeros(0)

    if z_start is None:
        t0, z0 = analytic_start(gradient(np.zeros((n, K)), None)[0], pen, omega)
    else:
        t0, z0 = float(t_start), np.array(z_start, dtype=float).reshape(n, K)
    if alpha is None:
        alpha = n / kappa
    if times is None:
        times = geometric_grid(t0, n_times, t_ratio)
    return lbi(gradient, z0, t0, times, kappa=kappa, alpha=alpha, penalty=pen, omega=omega)


def projected_iss(Q, y, *, weights=None, times=None, n_times=100, t_ratio=100.0,
                  z_start=None, t_start=0.0):
    """The exact ISS path of the one-target shift model of :func:`projected_lbi`
    (coefficients of shape (n_times, n, 1), as there)."""
    y = np.asarray(y, dtype=float).ravel()
    n = y.shape[0]
    omega = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    P = np.eye(n) - Q @ Q.T
    # ||P (y - G)|| = ||y - P G|| up to a constant: the design is P, the target y
    if z_start is None:
        t0, rho0 = iss_start(P, y, omega), None
    else:
        t0, rho0 = float(t_start), np.clip(np.asarray(z_start, dtype=float).ravel(), -1, 1)
    if times is None:
        times = geometric_grid(t0, n_times, t_ratio)
    path = iss(P, y, omega, times, rho0=rho0, t0=t0)
    path.coefs, path.entry = path.coefs[..., None], path.entry[:, None]
    return path


# ----------------------------------------------------------------------------- graphs


def cycle_projection(A, w):
    """``I - A (A^T W A)^+ A^T W``: removes the weighted least-squares fit by ``A``.

    With ``A`` the incidence matrix of a comparison graph (row ``k``: +1 at its first
    item, -1 at its second), what is left lies in the graph's cycle space.
    """
    W = np.diag(w)
    return np.eye(A.shape[0]) - A @ np.linalg.pinv(A.T @ W @ A) @ A.T @ W


def cycle_lbi(P, r, w, *, kappa, alpha, times, penalty="l1", groups=None):
    """LBI of ``u`` under ``||P (r - s u)||_W^2 / (2m)``, ``P`` a W-orthogonal projection.

    ``r`` is the residual of the fit (already projected). With ``groups`` the
    variable ``u_g = sqrt(|g|) gamma_g`` carries the group penalty (``s`` is
    ``1 / sqrt(|g|)``); otherwise ``s = 1`` and the penalty is l1.
    """
    m = r.shape[0]
    if groups is None:
        s = np.ones(m)
    else:
        s = 1.0 / np.sqrt(np.bincount(groups).astype(float))[groups]
    pen = Penalty.of((m, 1), penalty, groups)

    def gradient(U, _):
        return -(s * w * (P @ (r - s * U[:, 0])))[:, None] / m, np.zeros(0)

    t0, z0 = analytic_start(gradient(np.zeros((m, 1)), None)[0], pen)
    path = lbi(gradient, z0, t0, times, kappa=kappa, alpha=alpha, penalty=pen)
    path.coefs = path.coefs[..., 0] * s
    path.entry = path.entry[:, 0]
    return path


# ----------------------------------------------------------------------------- Split LBI


def split_lbi(X, y, D, *, kappa=10.0, alpha=None, nu=None, times=None, n_times=100,
              t_ratio=100.0, fit_intercept=True, normalize=True, penalty="l1", groups=None):
    """Split LBI of ``||y - X beta||^2 / (2n) + ||gamma - D beta||^2 / (2 nu)``.

    ``gamma`` is penalized (``coefs``), ``beta`` is not (``free``: plain gradient
    steps of size ``kappa * alpha``). Standardized as :func:`design_lbi` (``D``
    acts on the standardized coefficients, ``D / scale``); the start is the
    analytic one, ``beta0`` minimizing the loss at ``gamma = 0``. Defaults:
    ``nu = ||D||^2 / ||H||`` and ``alpha = nu / (kappa (1 + nu ||H|| + ||D||^2))``,
    ``H = X^T X / n``. ``beta``, ``gamma`` and the intercepts are returned on the
    data's scale.
    """
    n, p = X.shape
    y = np.asarray(y, dtype=float).ravel()
    w = np.ones(n)
    Xs, mean, scale = standardize(X, w, fit_intercept, normalize)
    unit = target_unit(y[:, None], w, fit_intercept)
    ys = y / unit
    y_mean = ys.mean() if fit_intercept else 0.0
    yc = ys - y_mean
    Ds = np.asarray(D.toarray() if hasattr(D, "toarray") else D, dtype=float) / scale
    H = Xs.T @ Xs / n
    lam, d2 = np.linalg.eigvalsh(H)[-1], np.linalg.norm(Ds, 2) ** 2
    if nu is None:
        nu = d2 / lam
    if alpha is None:
        alpha = nu / (kappa * (1.0 + nu * lam + d2))
    beta0 = np.linalg.lstsq(H + Ds.T @ Ds / nu, Xs.T @ yc / n, rcond=None)[0]
    pen = Penalty.of((Ds.shape[0], 1), penalty, groups)

    def gradient(gamma, beta):
        gap = (gamma[:, 0] - Ds @ beta) / nu
        return gap[:, None], Xs.T @ (Xs @ beta - yc) / n - Ds.T @ gap

    t0, z0 = analytic_start(gradient(np.zeros((Ds.shape[0], 1)), beta0)[0], pen)
    if times is None:
        times = geometric_grid(t0, n_times, t_ratio)
    path = lbi(gradient, z0, t0, times, kappa=kappa, alpha=alpha, penalty=pen, v0=beta0)
    path.coefs = path.coefs[..., 0] * unit
    path.entry = path.entry[:, 0]
    path.free = path.free * (unit / scale)
    path.intercepts = unit * y_mean - path.free @ mean
    return path


def _newton_logistic_ridge(A, y, P, *, iters=100):
    """``v`` minimizing ``mean(log(1 + e^{A v}) - y A v) + v^T P v / 2`` (Newton)."""
    v = np.zeros(A.shape[1])
    for _ in range(iters):
        mu = _sigmoid(A @ v)
        g = A.T @ (mu - y) / len(y) + P @ v
        Hm = A.T @ (A * (mu * (1 - mu))[:, None]) / len(y) + P
        v = v - np.linalg.solve(Hm, g)
    return v


def split_lbi_logistic(X, y, D, *, kappa=10.0, alpha=None, nu=None, times=None, n_times=100,
                       t_ratio=100.0, fit_intercept=True, normalize=True):
    """Split LBI of ``mean logistic(y, X beta + b) + ||gamma - D beta||^2 / (2 nu)``.

    As :func:`split_lbi` with the logistic loss of the 0/1 ``y`` (not rescaled) and
    the intercept ``b`` in the free block with ``beta``. Defaults: ``nu = ||D||^2 /
    ||H||`` and ``alpha = nu / (kappa (1 + nu max(||H||, 1) / 4 + ||D||^2))``; the
    start minimizes the loss at ``gamma = 0``.
    """
    n, p = X.shape
    y = np.asarray(y, dtype=float).ravel()
    w = np.ones(n)
    Xs, mean, scale = standardize(X, w, fit_intercept, normalize)
    A = np.column_stack([Xs, np.ones(n)]) if fit_intercept else Xs
    Ds = np.asarray(D.toarray() if hasattr(D, "toarray") else D, dtype=float) / scale
    Dv = np.column_stack([Ds, np.zeros(Ds.shape[0])]) if fit_intercept else Ds
    lam, d2 = np.linalg.eigvalsh(Xs.T @ Xs / n)[-1], np.linalg.norm(Ds, 2) ** 2
    if nu is None:
        nu = d2 / lam
    if alpha is None:
        alpha = nu / (kappa * (1.0 + nu * max(lam, 1.0 if fit_intercept else 0.0) / 4 + d2))
    v0 = _newton_logistic_ridge(A, y, Dv.T @ Dv / nu)
    pen = Penalty.of((Ds.shape[0], 1), "l1", None)

    def gradient(gamma, v):
        gap = (gamma[:, 0] - Dv @ v) / nu
        return gap[:, None], A.T @ (_sigmoid(A @ v) - y) / n - Dv.T @ gap

    t0, z0 = analytic_start(gradient(np.zeros((Ds.shape[0], 1)), v0)[0], pen)
    if times is None:
        times = geometric_grid(t0, n_times, t_ratio)
    path = lbi(gradient, z0, t0, times, kappa=kappa, alpha=alpha, penalty=pen, v0=v0)
    path.coefs = path.coefs[..., 0]
    path.entry = path.entry[:, 0]
    free = path.free
    path.free = free[:, :p] / scale
    b = free[:, p] if fit_intercept else np.zeros(len(times))
    path.intercepts = b - path.free @ mean
    return path
