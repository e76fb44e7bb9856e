"""Split LBI for structural sparsity ``gamma = D beta`` under the squared loss.

The loss couples the fit and the sparse variable,
``l(beta, gamma) = ||y - X beta||^2 / (2n) + ||gamma - D beta||^2 / (2 nu)``;
``beta`` takes plain gradient steps of size ``kappa * alpha`` while
``gamma`` follows the linearized Bregman iteration::

    beta_{k+1} = beta_k - kappa alpha grad_beta l(beta_k, gamma_k)
    z_{k+1}    = z_k - alpha grad_gamma l(beta_k, gamma_k)
    gamma_{k+1} = kappa * prox(z_{k+1})
"""

import numpy as np

from sparsestat._kernels._arrays import copy_1d, copy_2d
from sparsestat._kernels._design import csr_matvec, csr_rmatvec, product, transpose_product
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._prox import prox_inplace, record_entries
from sparsestat._kernels._status import DIVERGED, MAX_ITER, OK


@kernel
def split_lbi_path(Xf, xdata, xind, xptr, xmean, is_sparse, y, use_gram, H, c,
                   d_data, d_ind, d_ptr, nu, beta0, z0, t0, alpha, kappa,
                   elementwise, group_ptr, group_idx, grid, max_iter):
    """Run Split LBI from the analytic start; record ``beta`` and ``gamma`` on ``grid``.

    ``use_gram`` replaces ``X^T (y - X beta) / n`` by ``c - H beta``.

    Returns
    -------
    betas (n_times, p), gammas (n_times, m), entry (m,), n_iter, status, t_end,
    beta, gamma
    """
    p = beta0.shape[0]
    m = z0.shape[0]
    n = y.shape[0]
    n_times = grid.shape[0]
    betas = np.zeros((n_times, p))
    gammas = np.zeros((n_times, m))
    entry2 = np.full((m, 1), np.inf)

    beta = beta0.copy()
    beta_new = np.empty(p)
    z = z0.reshape(m, 1).copy()
    z_new = np.empty((m, 1))
    zz = np.empty((m, 1))
    gamma = np.zeros((m, 1))
    tmp = np.empty((m, 1))
    Dbeta = np.empty(m)
    diff = np.empty(m)
    grad_b = np.empty(p)
    back = np.empty(p)
    fit = np.empty(n)
    resid = np.empty((1, n)).T
    xtr = np.empty((p, 1))

    t = t0
    gi = 0
    while gi < n_times and grid[gi] <= t0:
        copy_1d(betas[gi], beta)
        gi += 1
    status = MAX_ITER
    k_iter = 0
    while k_iter < max_iter:
        if gi >= n_times:
            status = OK
            break
        # data part of -grad_beta
        if use_gram:
            copy_1d(grad_b, np.dot(H, beta) - c)
        else:
            product(Xf, xdata, xind, xptr, xmean, is_sparse, beta, fit)
            for i in range(n):
                resid[i, 0] = fit[i] - y[i]
            transpose_product(Xf, xdata, xind, xptr, xmean, is_sparse, resid, xtr)
            for j in range(p):
                grad_b[j] = xtr[j, 0] / n
        csr_matvec(d_data, d_ind, d_ptr, beta, Dbeta)
        for r in range(m):
            diff[r] = (gamma[r, 0] - Dbeta[r]) / nu
        csr_rmatvec(d_data, d_ind, d_ptr, diff, back)
        big = 0.0
        for j in range(p):
            beta_new[j] = beta[j] - kappa * alpha * (grad_b[j] - back[j])
            big = max(big, abs(beta_new[j]))
        for r in range(m):
            z_new[r, 0] = z[r, 0] - alpha * diff[r]
            big = max(big, abs(z_new[r, 0]))
        if not np.isfinite(big) or big * kappa > 1e100:
            status = DIVERGED
            break
        record_entries(z, z_new, t, alpha, entry2, elementwise, group_ptr, group_idx)
        while gi < n_times and grid[gi] <= t + alpha:
            f = (grid[gi] - t) / alpha
            if f < 0.0:
                f = 0.0
            copy_2d(zz, z + f * (z_new - z))
            prox_inplace(zz, tmp, kappa, elementwise, group_ptr, group_idx)
            copy_1d(gammas[gi], tmp[:, 0])
            copy_1d(betas[gi], beta + f * (beta_new - beta))
            gi += 1
        copy_1d(beta, beta_new)
        copy_2d(z, z_new)
        prox_inplace(z, gamma, kappa, elementwise, group_ptr, group_idx)
        t += alpha
        k_iter += 1
    if gi >= n_times and status == MAX_ITER:
        status = OK
    return betas[:gi], gammas[:gi], entry2[:, 0].copy(), k_iter, status, t, beta, \
        gamma[:, 0].copy()
