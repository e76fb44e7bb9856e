"""The noisy-label kernels against plain-numpy references written here.

``pieces_entry_times`` (all pieces' label-shift paths in one compiled call) is
checked against a direct numpy transcription of the model: principal
components by an SVD, the projection onto ``[1, Z]`` by a QR, and the group
LBI iteration on the one-hot labels with leverage weights. ``screened_votes``
(neighbours from single-precision products) is checked against brute-force
double-precision distances, with duplicated rows and exact ties.
"""

import numpy as np
import pytest

from sparsestat._kernels._labels import PIECE_OK, pieces_entry_times, screened_votes
from sparsestat.robust._label_neighbours import _SAME_ROW, _TIE, Pool, neighbour_votes


def _reference_entry_times(Xp, codes, d, kappa=10.0, t_ratio=50.0):
    """Entry times of one piece: PCA (SVD), projection (QR), group LBI, all in numpy."""
    m = Xp.shape[0]
    labels, local = np.unique(codes, return_inverse=True)
    L = labels.size
    Zc = Xp - Xp.mean(axis=0)
    dd = min(d, m - 1, Xp.shape[1])
    _, _, Vt = np.linalg.svd(Zc, full_matrices=False)
    Z = Zc @ Vt[:dd].T
    Q, _ = np.linalg.qr(np.column_stack([np.ones(m), Z]))
    H = Q @ Q.T                                     # the hat matrix (small m: formed)
    Y = np.eye(L)[local]
    R = Y - H @ Y
    if np.sqrt(np.max(np.sum(R ** 2, axis=1))) <= 1e-10:
        return np.full(m, np.inf)
    omega = np.sqrt(np.clip(1.0 - np.diag(H), 1e-6, 1.0))
    # the analytic jump: the first row reaches the unit sphere at t0
    g = R / (m * omega[:, None])
    norms = np.linalg.norm(g, axis=1)
    t0 = 1.0 / norms.max()
    z = g * t0
    z /= np.maximum(np.linalg.norm(z, axis=1), 1.0)[:, None]
    alpha = m / kappa
    G = np.zeros_like(Y)
    entry = np.full(m, np.inf)
    t = t0
    while True:
        grad = (np.eye(m) - H) @ (G - Y)           # the loss gradient, times m
        z_new = z - alpha * grad / (m * omega[:, None])
        for i in np.flatnonzero(~np.isfinite(entry)):
            if np.linalg.norm(z_new[i]) > 1.0:
                # where the dual crosses the unit sphere inside the step
                a, b = z[i], z_new[i] - z[i]
                roots = np.roots([b @ b, 2 * a @ b, a @ a - 1.0])
                f = min(r.real for r in roots if -1e-12 <= r.real <= 1 + 1e-12)
                entry[i] = t + float(np.clip(f, 0.0, 1.0)) * alpha
        nrm = np.linalg.norm(z_new, axis=1)
        shrink = np.maximum(0.0, 1.0 - 1.0 / np.maximum(nrm, 1e-300))
        G = kappa * omega[:, None] * shrink[:, None] * z_new
        z = z_new
        done = t0 * t_ratio <= t + alpha
        t += alpha
        if done or np.count_nonzero(np.any(G != 0, axis=1)) > m - 1:
            break
    return entry / m


def _pieces(rng, n_pieces, m, p, K):
    X = rng.standard_normal((n_pieces * m, p))
    codes = rng.integers(0, K, n_pieces * m)
    # some structure: the label moves the features, and a few labels are wrong
    X[:, :K] += 2.0 * np.eye(K)[codes]
    codes[rng.random(codes.size) < 0.1] = rng.integers(0, K)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    order = rng.permutation(codes.size)
    return X, codes.astype(np.int64), [np.sort(order[j * m:(j + 1) * m]) for j in range(n_pieces)]


@pytest.mark.parametrize("m, p, K, d", [(60, 12, 4, -1), (100, 64, 10, -1), (40, 8, 3, 5),
                                        (50, 6, 3, 10)])
def test_pieces_entry_times_match_numpy_reference(m, p, K, d):
    rng = np.random.default_rng(m + p)
    X, codes, pieces = _pieces(rng, 4, m, p, K)
    ptr = np.concatenate([[0], np.cumsum([pc.size for pc in pieces])]).astype(np.int64)
    idx = np.concatenate(pieces).astype(np.int64)
    entry, status = pieces_entry_times(X, codes, ptr, idx, d, 10.0, 50.0, K)
    assert np.all(status == PIECE_OK)
    for j, pc in enumerate(pieces):
        L = np.unique(codes[pc]).size
        ref = _reference_entry_times(X[pc], codes[pc], L if d < 0 else d)
        got = entry[ptr[j]:ptr[j + 1]]
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
        fin = np.isfinite(ref)
        assert fin.sum() >= m // 2
        np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-8)


def test_pieces_entry_times_report_pieces_they_cannot_take():
    """Too few rows for Cholesky QR: the piece is left to the general code."""
    rng = np.random.default_rng(3)
    X, codes, _ = _pieces(rng, 1, 30, 12, 4)
    ptr = np.array([0, 6, 30], dtype=np.int64)
    idx = np.arange(30, dtype=np.int64)
    # 6 rows for a basis of 4 columns
    entry, status = pieces_entry_times(X, codes, ptr, idx, 3, 10.0, 50.0, 4)
    assert status[0] != PIECE_OK and np.all(np.isnan(entry[:6]))
    assert status[1] == PIECE_OK


def test_labels_a_linear_function_of_the_features_never_enter():
    rng = np.random.default_rng(5)
    codes = np.repeat(np.arange(3), 20).astype(np.int64)
    X = np.column_stack([np.eye(3)[codes], 0.01 * rng.standard_normal((60, 3))])
    entry, status = pieces_entry_times(X, codes, np.array([0, 60], dtype=np.int64),
                                       np.arange(60, dtype=np.int64), 5, 10.0, 50.0, 3)
    assert status[0] == PIECE_OK and np.all(np.isinf(entry))


def _brute_votes(Zq, codes_q, F, codes_p, K, k):
    """Votes from every double-precision distance (leave-one-out, ties included)."""
    D = np.maximum(((Zq[:, None, :] - F[None, :, :]) ** 2).sum(axis=2), 0.0)
    own, best, assigned, tied, radius = [], [], [], [], []
    sq = (Zq ** 2).sum(axis=1)
    for i in range(Zq.shape[0]):
        d = D[i].copy()
        same = np.flatnonzero((codes_p == codes_q[i]) & (d <= _SAME_ROW * (1 + sq[i])))
        if same.size:
            d[same[0]] = np.inf
        kth = np.sort(d)[k - 1]
        near = d <= kth * (1 + _TIE) + _TIE
        frac = np.bincount(codes_p[near], minlength=K) / max(near.sum(), 1)
        b = frac.max()
        top = frac >= b - 1e-12
        own.append(frac[codes_q[i]])
        best.append(b)
        assigned.append(int(np.argmax(top)))
        tied.append(top.sum() > 1)
        radius.append(np.sqrt(kth))
    return own, best, assigned, tied, radius


@pytest.mark.parametrize("scale", [1.0, 1e-3, 30.0])
def test_screened_votes_equal_brute_force(scale):
    rng = np.random.default_rng(7)
    K, p, k = 4, 9, 5
    F = rng.standard_normal((300, p)) * scale
    codes_p = rng.integers(0, K, 300)
    F[10] = F[3]                      # a duplicated pool row, same label
    codes_p[10] = codes_p[3]
    F[20] = F[3]                      # and with another label
    codes_p[20] = (codes_p[3] + 1) % K
    # queries: pool rows (themselves and their copies), fresh rows, a row equidistant
    # from several pool rows (exact ties on a lattice)
    Zq = np.vstack([F[:40], rng.standard_normal((60, p)) * scale])
    codes_q = np.concatenate([codes_p[:40], rng.integers(0, K, 60)])
    grid = np.zeros((8, p))
    grid[:4, 0] = [1, -1, 0, 0]
    grid[4:, 1] = [1, -1, 2, -2]
    Fg = np.vstack([F, grid * scale])
    codes_g = np.concatenate([codes_p, [0, 1, 2, 3, 0, 1, 2, 3]])
    Zq = np.vstack([Zq, np.zeros((1, p))])
    codes_q = np.concatenate([codes_q, [0]])
    pool = Pool.of(Fg, codes_g, K)
    got = neighbour_votes(Zq, codes_q, pool, k)
    ref = _brute_votes(Zq, codes_q, pool.features, pool.codes, K, k)
    for g, r, name in zip(got, ref, ("own", "best", "assigned", "tied", "radius")):
        if name == "radius":
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12 * scale)
        else:
            np.testing.assert_array_equal(g, np.asarray(r), err_msg=name)


def test_screened_votes_on_the_kernel_directly():
    """A block through the kernel, its single-precision products given as they are."""
    rng = np.random.default_rng(11)
    K, p, k = 3, 16, 7
    F = rng.standard_normal((200, p))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    codes_p = np.sort(rng.integers(0, K, 200))
    Zq = rng.standard_normal((50, p))
    Zq /= np.linalg.norm(Zq, axis=1, keepdims=True)
    codes_q = rng.integers(0, K, 50)
    sq_q = (Zq ** 2).sum(axis=1)
    sq_p = (F ** 2).sum(axis=1)
    P = Zq.astype(np.float32) @ F.astype(np.float32).T
    eps = np.full(50, 4.0 * (p + 2) * 2.0 ** -24 + 1e-12)
    out = [np.empty(50), np.empty(50), np.empty(50, dtype=np.int64), np.empty(50, dtype=bool),
           np.empty(50)]
    screened_votes(P, Zq, sq_q, codes_q.astype(np.int64), F, sq_p, codes_p.astype(np.int64),
                   K, k, eps, _SAME_ROW, _TIE, *out)
    ref = _brute_votes(Zq, codes_q, F, codes_p, K, k)
    for g, r in zip(out[:4], ref[:4]):
        np.testing.assert_array_equal(g, np.asarray(r))
    np.testing.assert_allclose(out[4], ref[4], rtol=1e-12)
