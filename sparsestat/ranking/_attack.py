"""Targeted manipulation of +1 / -1 votes: a Bradley-Terry model with per-item attack rates.

Attackers who always vote a few chosen items the winner leave a signature that a
single flipped vote does not: the outliers are concentrated on the comparisons of a
few items and all point one way. The model (a contaminated Bradley-Terry model)::

    P(i beats j) = a_ij + lam / 2 + (1 - a_ij - a_ji - lam) sigma(theta_i - theta_j)
    a_ij = pi_i^+ + pi_j^-

``pi_i^+`` is the rate at which comparisons of item ``i`` are votes that make ``i`` win
whatever the opponent (promotion), ``pi_j^-`` the rate at which ``j`` is made to lose
(demotion), ``lam`` a lapse rate shared by all votes (careless answers, half of them
right by chance). The attack rates are sparse: an item gets one only when a
profile likelihood-ratio test says so (the Benjamini-Hochberg step-up rule over the
items, :func:`step_up_cut`: family-wise level ``alpha`` when no item is attacked, less
evidence needed from each item when several are); the
rates, the lapse and the scores are then fitted by EM (only items whose efficient
score statistic exceeds 1 get the profile likelihood: it costs a few passes), every item is tested again
given the fitted model (items that no longer reject lose their rate, new ones may
enter), until the set of attacked items is stable; every vote gets its posterior
probability of being an attack vote.

Everything is ``O(m + n)`` per pass: a pass is a few ``bincount``s over the
comparisons and, in the EM, one Newton step of a weighted Bradley-Terry fit.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit
from scipy.stats import chi2
from sklearn.utils import Bunch

from sparsestat.ranking._scores import BradleyTerry

# attack rates at which the profile likelihood of an item is evaluated (0 = the null)
_RATE_GRID = np.array([0.0, 0.03, 0.08, 0.15, 0.25, 0.4, 0.55, 0.7, 0.85])
_NEWTON_STEPS = 8
_EPS = 1e-12
# items whose score statistic is below this never reach the profile likelihood
_SCREEN_Z = 1.0

DIRECTIONS = ("promote", "demote", "both")


def _item_views(left, right, won, w):
    """Every comparison seen from each of its two items: (item, opponent, item won, weight)."""
    item = np.concatenate([left, right])
    opp = np.concatenate([right, left])
    return item, opp, np.concatenate([won, ~won]), np.concatenate([w, w])


def profile_lrt(theta, item, opp, won, weight, n, lapse, base_for, base_against):
    """Profile likelihood-ratio statistic of a promotion rate for every item.

    For item ``i`` only its own comparisons enter, the opponents' scores stay fixed:
    ``P(i wins) = pi + A + lapse / 2 + (1 - pi - A - B - lapse) sigma(theta_i - theta_o)``
    with ``A`` (``base_for``) and ``B`` (``base_against``) the attack rates the model
    already holds for the comparison. Returns ``2 (max_{theta_i, pi} - max_{theta_i, pi=0})``
    with ``pi`` on a grid (a lower bound of the exact statistic). For demotion, call it
    with ``-theta`` and ``~won``.
    """
    ot = theta[opp]
    best = null = None
    for pi in _RATE_GRID:
        th = theta.copy()
        h = 1.0 - pi - base_for - base_against - lapse
        c = pi + base_for + 0.5 * lapse
        for _ in range(_NEWTON_STEPS):
            s = expit(th[item] - ot)
            pw = np.clip(c + h * s, _EPS, 1.0 - _EPS)
            ds = h * s * (1.0 - s)
            g = np.where(won, ds / pw, -ds / (1.0 - pw))
            # Fisher scoring with the plain Bradley-Terry information (an upper bound)
            info = np.bincount(item, weight * s * (1.0 - s), n) + 1e-6
            th += np.clip(np.bincount(item, weight * g, n) / info, -1.0, 1.0)
        pw = np.clip(c + h * expit(th[item] - ot), _EPS, 1.0 - _EPS)
        ll = np.bincount(item, weight * np.where(won, np.log(pw), np.log1p(-pw)), n)
        if null is None:
            null = best = ll
        else:
            best = np.maximum(best, ll)
    return 2.0 * (best - null)


def score_statistic(theta, item, opp, won, weight, n, lapse, base_for, base_against):
    """Efficient score statistic (z) of a promotion rate at zero for every item, ``theta_i`` a nuisance.

    Same model as :func:`profile_lrt`; one pass over the comparisons. Used to pick the
    items worth the profile likelihood (``z`` is heavy-tailed but cheap).
    """
    s = expit(theta[item] - theta[opp])
    h = 1.0 - base_for - base_against - lapse
    pw = np.clip(base_for + 0.5 * lapse + h * s, _EPS, 1.0 - _EPS)
    d_pi = 1.0 - s                      # d pw / d pi
    d_th = h * s * (1.0 - s)            # d pw / d theta_i
    resid = np.where(won, 1.0 / pw, -1.0 / (1.0 - pw))
    v = weight / (pw * (1.0 - pw))
    u_pi = np.bincount(item, weight * resid * d_pi, n)
    u_th = np.bincount(item, weight * resid * d_th, n)
    i_pp = np.bincount(item, v * d_pi * d_pi, n)
    i_pt = np.bincount(item, v * d_pi * d_th, n)
    i_tt = np.bincount(item, v * d_th * d_th, n) + _EPS
    eff = np.maximum(i_pp - i_pt ** 2 / i_tt, _EPS)
    return (u_pi - i_pt / i_tt * u_th) / np.sqrt(eff)


def _screened_lrt(theta, item, opp, won, weight, n, lapse, base_for, base_against, keep):
    """:func:`profile_lrt` for the items that pass the score screen (or are in ``keep``)."""
    z = score_statistic(theta, item, opp, won, weight, n, lapse, base_for, base_against)
    cand = (z > _SCREEN_Z) | keep
    sel = cand[item]
    if not sel.any():
        return np.zeros(n)
    return profile_lrt(theta, item[sel], opp[sel], won[sel], weight[sel], n, lapse,
                       base_for[sel], base_against[sel])


def step_up_cut(lrt, alpha, n_dir=1) -> float:
    """Cut-off on the statistics of the Benjamini-Hochberg step-up procedure at level ``alpha``.

    Under the null an item's statistic is asymptotically ``chi2_0 / 2 + chi2_1 / 2`` (the
    rate sits on the boundary), so its p-value is ``chi2.sf(lrt, 1) / 2``, times ``n_dir``
    when both directions are tested (Bonferroni within the item). The ``k`` largest
    statistics are rejected for the largest ``k`` whose p-values are all ``<= k alpha / n``;
    the cut-off is the statistic that p-value bound corresponds to (``inf`` if none). With
    one rejection this is the Bonferroni cut; without any attack it is a family-wise level
    ``alpha`` test; with several attacked items it needs less evidence from each.
    """
    n = lrt.shape[0]
    top = np.sort(lrt[lrt > 0])[::-1]
    if top.size == 0:
        return np.inf
    k = np.arange(1, top.size + 1)
    cuts = chi2.isf(np.minimum(2.0 * k * alpha / (n_dir * n), 1.0), 1)
    ok = np.flatnonzero(top >= cuts)
    # ">=" on the statistic is "<=" on the p-value; an item is rejected when lrt > cut
    return float(np.nextafter(cuts[ok[-1]], -np.inf)) if ok.size else np.inf


def fit_lapse(theta, left, right, won, w) -> float:
    """Maximum-likelihood lapse rate of ``lam / 2 + (1 - lam) sigma(theta_i - theta_j)``."""
    s = expit(theta[left] - theta[right])
    s = np.where(won, s, 1.0 - s)

    def nll(lam):
        return -float(np.sum(w * np.log(np.clip(0.5 * lam + (1.0 - lam) * s, _EPS, None))))

    res = minimize_scalar(nll, bounds=(0.0, 0.9), method="bounded",
                          options={"xatol": 1e-4})
    return float(res.x) if nll(res.x) < nll(0.0) else 0.0


def _posteriors(theta, left, right, won, promote, demote, lapse):
    """Posterior share of each vote explained by promotion / demotion, and the log-likelihood."""
    s = expit(theta[left] - theta[right])
    a = promote[left] + demote[right]      # attacks that make the first item win
    b = promote[right] + demote[left]      # attacks that make the second item win
    h = 1.0 - a - b - lapse
    pf = a + 0.5 * lapse + h * s
    P = np.clip(np.where(won, pf, 1.0 - pf), _EPS, None)
    return Bunch(
        promote_left=np.where(won, promote[left], 0.0) / P,
        demote_right=np.where(won, demote[right], 0.0) / P,
        promote_right=np.where(won, 0.0, promote[right]) / P,
        demote_left=np.where(won, 0.0, demote[left]) / P,
        lapse=0.5 * lapse / P,
        loglik=float(np.sum(np.log(P))),
    )


def _max_lapse(theta, left, right, won, w, promote, demote, lapse, steps=4) -> float:
    """The lapse that maximizes the observed likelihood, everything else fixed (Newton).

    The probability of an observed outcome is linear in the lapse, ``P = c + lapse * d``,
    so the log-likelihood is concave in it. (The EM update of the lapse alone creeps:
    a lapse vote looks much like an honest one.)
    """
    s = expit(theta[left] - theta[right])
    a = promote[left] + demote[right]
    b = promote[right] + demote[left]
    pf0 = a + (1.0 - a - b) * s                 # P(first wins) at lapse 0
    c = np.where(won, pf0, 1.0 - pf0)
    d = np.where(won, 0.5 - s, s - 0.5)
    top = max(0.0, min(0.9, 1.0 - float(np.max(a + b, initial=0.0))))
    for _ in range(steps):
        P = np.maximum(c + lapse * d, _EPS)
        g = float(np.sum(w * d / P))
        h = float(np.sum(w * (d / P) ** 2)) + _EPS
        lapse = min(max(lapse + g / h, 0.0), top)
    return lapse


def _em(theta, left, right, won, w, n, lapse, active_p, active_d, promote, demote,
        bt: BradleyTerry, max_iter=50, tol=1e-5):
    deg = np.maximum(np.bincount(left, w, n) + np.bincount(right, w, n), _EPS)
    promote = np.where(active_p, np.maximum(promote, 0.1), 0.0)
    demote = np.where(active_d, np.maximum(demote, 0.1), 0.0)
    for _ in range(max_iter):
        r = _posteriors(theta, left, right, won, promote, demote, lapse)
        honest = np.maximum(1.0 - r.promote_left - r.demote_right - r.promote_right
                            - r.demote_left - r.lapse, 0.0)
        new_p = np.where(active_p, (np.bincount(left, w * r.promote_left, n)
                                    + np.bincount(right, w * r.promote_right, n)) / deg, 0.0)
        new_d = np.where(active_d, (np.bincount(right, w * r.demote_right, n)
                                    + np.bincount(left, w * r.demote_left, n)) / deg, 0.0)
        lapse = _max_lapse(theta, left, right, won, w, new_p, new_d, lapse)
        # the honest votes, weighted by their posterior, carry the scores (one Newton step)
        bt.w = w * honest
        new_theta = bt.newton_step(theta, np.zeros(left.shape[0]))
        new_theta -= new_theta.mean()
        change = max(float(np.max(np.abs(new_p - promote), initial=0.0)),
                     float(np.max(np.abs(new_d - demote), initial=0.0)),
                     float(np.max(np.abs(new_theta - theta))))
        promote, demote, theta = new_p, new_d, new_theta
        if change <= tol:
            break
    return theta, promote, demote, lapse


def targeted_attack(left, right, y, w, n, theta, *, direction="promote", alpha=0.05,
                    solver="auto", max_rounds=6) -> Bunch:
    """Fit the contaminated Bradley-Terry model; posterior attack probability of every vote.

    Parameters
    ----------
    left, right : ndarray of int
        Items of each comparison.
    y : ndarray
        ``+1`` (first preferred) / ``-1`` outcomes.
    w : ndarray
        Nonnegative vote weights (0: ignored).
    n : int
        Number of items.
    theta : ndarray of shape (n,)
        Starting Bradley-Terry (log-odds) scores.
    direction : {'promote', 'demote', 'both'}
        Which attacks the model allows.
    alpha : float
        Level of the tests that give an item an attack rate: false-discovery rate over
        the items (Benjamini-Hochberg), family-wise when no item is attacked.

    Returns
    -------
    Bunch
        ``posterior`` (m,) probability that each vote is an attack vote, ``promote`` and
        ``demote`` (n,) attack rates, ``lapse``, ``theta`` (n,) the model's scores,
        ``lrt`` (n,) the last screening statistics, ``cut`` the step-up cut-off they
        were held against.
    """
    won = y > 0
    theta = np.asarray(theta, float) - np.mean(theta)
    lapse = fit_lapse(theta, left, right, won, w)
    item, opp, vwon, vw = _item_views(left, right, won, w)
    n_dir = 2 if direction == "both" else 1
    cut = np.inf
    promote, demote = np.zeros(n), np.zeros(n)
    active_p, active_d = np.zeros(n, bool), np.zeros(n, bool)
    posterior = np.zeros(left.shape[0])
    bt = None
    lrt = np.zeros(n)
    for _ in range(max_rounds):
        lrt_p = np.zeros(n)
        lrt_d = np.zeros(n)
        if direction in ("promote", "both"):
            lrt_p = _screened_lrt(theta, item, opp, vwon, vw, n, lapse, demote[opp],
                                  promote[opp], active_p)
        if direction in ("demote", "both"):
            lrt_d = _screened_lrt(-theta, item, opp, ~vwon, vw, n, lapse, promote[opp],
                                  demote[opp], active_d)
        cut = step_up_cut(np.maximum(lrt_p, lrt_d), alpha, n_dir)
        # an item keeps its rate while its own test (given the others' rates) rejects, and
        # an item without one gets one in the direction of its larger statistic
        tested = ~(active_p | active_d)
        new_p = (active_p & (lrt_p > cut)) | (tested & (lrt_p > cut) & (lrt_p >= lrt_d))
        new_d = (active_d & (lrt_d > cut)) | (tested & (lrt_d > cut) & (lrt_d > lrt_p))
        lrt = np.maximum(lrt_p, lrt_d)
        if np.array_equal(new_p, active_p) and np.array_equal(new_d, active_d):
            break
        active_p, active_d = new_p, new_d
        if not (active_p.any() or active_d.any()):
            promote, demote = np.zeros(n), np.zeros(n)
            posterior = np.zeros(left.shape[0])
            break
        if bt is None:
            bt = BradleyTerry(left, right, w, n, won.astype(float), solver)
        theta, promote, demote, lapse = _em(theta, left, right, won, w, n, lapse, active_p,
                                            active_d, promote, demote, bt)
        r = _posteriors(theta, left, right, won, promote, demote, lapse)
        posterior = r.promote_left + r.demote_right + r.promote_right + r.demote_left
    posterior = np.where(w > 0, np.clip(posterior, 0.0, 1.0), 0.0)
    return Bunch(posterior=posterior, promote=promote, demote=demote, lapse=lapse,
                 theta=theta, lrt=lrt, cut=cut)


def posterior_fdr_set(posterior, fdr) -> np.ndarray:
    """The largest set of the most probable attack votes whose mean ``1 - posterior`` is ``<= fdr``.

    The mean of ``1 - posterior`` over a set is the model's expected share of honest votes
    in it (a Bayesian false-discovery rate).
    """
    m = posterior.shape[0]
    flagged = np.zeros(m, dtype=bool)
    cand = np.flatnonzero(posterior > 0.5)
    if cand.size == 0:
        return flagged
    order = cand[np.argsort(-posterior[cand], kind="stable")]
    mean_false = np.cumsum(1.0 - posterior[order]) / np.arange(1, order.size + 1)
    ok = np.flatnonzero(mean_false <= fdr)
    if ok.size:
        flagged[order[: ok[-1] + 1]] = True
    return flagged
