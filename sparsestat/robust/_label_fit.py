"""Least squares of one-hot labels on the features, accumulated over blocks of rows.

Neither the one-hot matrix nor the design ``[1, Z]`` nor the fitted scores of
all samples are ever held at once: memory is ``O(p K + p^2)`` beyond the
features, whatever the number of samples and classes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse

#: rows per block
_BLOCK = 16384


class LabelFit(NamedTuple):
    """A least-squares fit of the one-hot labels on ``[1, Z]`` and what it says per sample."""

    coef: np.ndarray                 # (p + 1, K), row 0 the intercept
    suggested: np.ndarray            # (n,) the best-scoring label
    margin: np.ndarray               # (n,) best score minus the score of the sample's label
    candidates: np.ndarray | None    # (n, m) own label, then the m - 1 best other labels
    sigma: float                     # residual sd of one score over the fit's samples


def _row_blocks(n: int):
    return (slice(s, min(s + _BLOCK, n)) for s in range(0, n, _BLOCK))


def _design(Zb: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(Zb.shape[0]), Zb])


def onehot_rows(codes: np.ndarray, n_labels: int) -> scipy.sparse.csr_matrix:
    """The one-hot matrix of ``codes`` (n, n_labels), sparse."""
    n = codes.size
    return scipy.sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, n_labels))


def label_normal_equations(Z: np.ndarray, codes: np.ndarray, n_labels: int, rows: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """``A^T A`` and ``A^T onehot(codes)`` over ``rows`` (a mask or indices), ``A = [1, Z]``.

    Sums over blocks of rows: the normal equations of several blocks of
    samples (chunks of a larger array) add up. The column of ones is never
    formed: its products are the row count, the column sums and the label
    counts.
    """
    idx = np.flatnonzero(rows) if rows.dtype == bool else np.asarray(rows)
    p = Z.shape[1]
    G = np.zeros((p + 1, p + 1))
    AtY = np.zeros((p + 1, n_labels))
    for block in _row_blocks(idx.size):
        sel = idx[block]
        Zb = Z[sel]
        cb = codes[sel]
        G[0, 0] += sel.size
        colsum = Zb.sum(axis=0)
        G[0, 1:] += colsum
        G[1:, 0] += colsum
        G[1:, 1:] += Zb.T @ Zb
        AtY[0] += np.bincount(cb, minlength=n_labels)
        AtY[1:] += np.asarray((onehot_rows(cb, n_labels).T @ Zb).T)
    return G, AtY


def solve_normal_equations(G: np.ndarray, AtY: np.ndarray) -> np.ndarray:
    """``G^-1 AtY`` with a ridge of ``1e-10`` times the mean diagonal (a Cholesky solve);
    the minimum-norm solution where that fails."""
    d = G.shape[0]
    try:
        L = np.linalg.cholesky(G + 1e-10 * np.trace(G) / d * np.eye(d))
    except np.linalg.LinAlgError:
        return np.linalg.pinv(G, hermitian=True) @ AtY
    return np.linalg.solve(L.T, np.linalg.solve(L, AtY))


def solve_labels(Z: np.ndarray, codes: np.ndarray, n_labels: int, rows: np.ndarray
                 ) -> np.ndarray:
    """Coefficients ``(p + 1, K)`` of the least squares of ``onehot(codes)`` on ``[1, Z]`` over ``rows``.

    See :func:`label_normal_equations` and :func:`solve_normal_equations`.
    """
    return solve_normal_equations(*label_normal_equations(Z, codes, n_labels, rows))


def score_labels(Z: np.ndarray, coef: np.ndarray, codes: np.ndarray,
                 n_candidates: int | None = None):
    """Per sample: the best label, the best score, the score of its label, ``||scores||^2``
    and (``n_candidates``) its label followed by the ``n_candidates - 1`` best others."""
    n = Z.shape[0]
    suggested = np.empty(n, dtype=np.int64)
    best, own, sq = np.empty(n), np.empty(n), np.empty(n)
    cands = None if n_candidates is None else np.empty((n, n_candidates), dtype=np.int64)
    for block in _row_blocks(n):
        S = Z[block] @ coef[1:]
        S += coef[0]
        r = np.arange(S.shape[0])
        c = codes[block]
        suggested[block] = np.argmax(S, axis=1)
        best[block] = S[r, suggested[block]]
        own[block] = S[r, c]
        sq[block] = np.einsum("ij,ij->i", S, S)
        if cands is not None:
            S[r, c] = -np.inf
            m = n_candidates - 1
            top = np.argpartition(-S, m - 1, axis=1)[:, :m]
            # the best first; equal scores by label code, so the order is reproducible
            top = np.take_along_axis(top, np.lexsort((top, -np.take_along_axis(S, top, 1))),
                                     axis=1)
            cands[block, 0] = c
            cands[block, 1:] = top
    return suggested, best, own, sq, cands


def fit_labels(Z: np.ndarray, codes: np.ndarray, n_labels: int, seed: np.ndarray, *,
               n_rounds: int = 3, n_candidates: int | None = None) -> LabelFit:
    """Labels the linear structure suggests, fitted on the samples judged clean.

    Least squares of the one-hot labels on ``[1, Z]`` over ``seed``; the
    clean set is then the samples whose label is the suggested one, and the
    fit is repeated on it (a few rounds, or until the set is stable).
    ``sigma`` is the residual standard deviation of one score on the last
    clean set. Candidate labels are returned when ``n_candidates`` is less
    than the number of labels.
    """
    d = Z.shape[1] + 1
    clean = seed
    for _ in range(n_rounds):
        coef = solve_labels(Z, codes, n_labels, clean)
        suggested, best, own, sq, _ = score_labels(Z, coef, codes)
        new = suggested == codes
        if not refit(clean, new, d):
            break
        clean = new
    m = n_candidates if n_candidates is not None and n_candidates < n_labels else None
    if m is not None:
        suggested, best, own, sq, cands = score_labels(Z, coef, codes, m)
    else:
        cands = None
    return LabelFit(coef, suggested, best - own, cands, label_scale(own, sq, clean, d, n_labels))


def refit(clean: np.ndarray, new: np.ndarray, d: int) -> bool:
    """Whether the fit is repeated on ``new``: it changed and leaves more than ``d`` samples."""
    return not (np.array_equal(new, clean) or new.sum() <= d)


def label_scale(own: np.ndarray, sq: np.ndarray, clean: np.ndarray, d: int,
                n_labels: int) -> float:
    """Residual standard deviation of one score over ``clean`` (``d`` coefficients per label)."""
    # ||onehot - s||^2 = 1 - 2 s_own + ||s||^2
    rss = float(np.sum(1.0 - 2.0 * own[clean] + sq[clean]))
    dof = max(int(clean.sum()) - d, 1)
    return float(np.sqrt(max(rss, 0.0) / (dof * max(n_labels - 1, 1))))
