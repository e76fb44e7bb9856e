"""Split LBI for structural sparsity ``gamma = D beta`` under a smooth loss.

The loss couples the fit and the sparse variable,
``l(beta, gamma) = ||y - X beta||^2 / (2n) + ||gamma - D beta||^2 / (2 nu)``
(or the mean logistic loss of ``X beta + b`` in place of the squared one, with
the intercept ``b`` stepped with ``beta`` as the last entry of the free block);
``beta`` takes plain gradient steps of size ``kappa * alpha`` while
``gamma`` follows the linearized Bregman iteration::

    beta_{k+1} = beta_k - kappa alpha grad_beta l(beta_k, gamma_k)
    z_{k+1}    = z_k - alpha grad_gamma l(beta_k, gamma_k)
    gamma_{k+1} = kappa * prox(z_{k+1})
"""

import numpy as np

from sparsestat._kernels._arrays import copy_1d, copy_2d
from sparsestat._kernels._core import diverged, free_step, lbi_update, record_dense
from sparsestat._kernels._design import csr_matvec, csr_rmatvec, product, transpose_product
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._losses import SQUARED, loss_derivative
from sparsestat._kernels._status import DIVERGED, MAX_ITER, OK


@kernel
def split_lbi_path(Xf, xdata, xind, xptr, xmean, is_sparse, y, use_gram, H, c,
                   d_data, d_ind, d_ptr, nu, beta0, z0, t0, alpha, kappa,
                   elementwise, group_ptr, group_idx, grid, max_iter, loss_code, with_intercept):
    """Run Split LBI from the analytic start; record ``beta`` and ``gamma`` on ``grid``.

    ``use_gram`` replaces ``X^T (y - X beta) / n`` by ``c - H beta`` (squared loss).
    Another ``loss_code`` (:mod:`sparsestat._kernels._losses`) takes the data gradient
    ``X^T G / n`` of that loss at ``eta = X beta (+ b)``; with ``with_intercept`` the
    last entry of ``beta0`` is the intercept ``b``, stepped with ``beta`` by
    ``-kappa alpha sum(G) / n`` and recorded as the last column of ``betas``.

    Returns
    -------
    betas (n_times, p or p + 1), gammas (n_times, m), entry (m,), n_iter, status,
    t_end, beta, gamma
    """
    n_free = beta0.shape[0]
    p = n_free - 1 if with_intercept else n_free
    m = z0.shape[0]
    n = y.shape[0]
    n_times = grid.shape[0]
    betas = np.zeros((n_times, n_free))
    gammas = np.zeros((n_times, m, 1))
    entry2 = np.full((m, 1), np.inf)
    no_duals = np.zeros((0, m, 1))
    no_scale = np.empty(0)

    beta = beta0.copy()
    beta_new = np.empty(n_free)
    z = z0.reshape(m, 1).copy()
    z_new = np.empty((m, 1))
    zz = np.empty((m, 1))
    gamma = np.zeros((m, 1))
    tmp = np.empty((m, 1))
    Dbeta = np.empty(m)
    grad_z = np.empty((m, 1))
    grad_b = np.zeros(n_free)
    back = np.empty(p)
    fit = np.empty(n)
    resid = np.empty((1, n)).T
    xtr = np.empty((p, 1))
    eta = np.empty((n, 1))
    G = np.empty((n, 1))
    Y = y.reshape(n, 1)
    w = np.ones(n)

    t = t0
    # the grid times at (or before) t0 see the start state (a step of length zero)
    gi = record_dense(z, z, beta, beta, t0, 0.0, grid, 0, kappa, elementwise, group_ptr,
                      group_idx, gammas, betas, no_duals, zz, tmp)
    status = MAX_ITER
    k_iter = 0
    while k_iter < max_iter:
        if gi >= n_times:
            status = OK
            break
        # the data part of grad_beta
        if loss_code != SQUARED:
            product(Xf, xdata, xind, xptr, xmean, is_sparse, beta[:p], fit)
            b = beta[p] if with_intercept else 0.0
            for i in range(n):
                eta[i, 0] = fit[i] + b
            loss_derivative(eta, Y, w, loss_code, 0.0, G)
            transpose_product(Xf, xdata, xind, xptr, xmean, is_sparse, G, xtr)
            for j in range(p):
                grad_b[j] = xtr[j, 0] / n
            if with_intercept:
                grad_b[p] = np.sum(G) / n
        elif use_gram:
            copy_1d(grad_b, np.dot(H, beta) - c)
        else:
            product(Xf, xdata, xind, xptr, xmean, is_sparse, beta, fit)
            for i in range(n):
                resid[i, 0] = fit[i] - y[i]
            transpose_product(Xf, xdata, xind, xptr, xmean, is_sparse, resid, xtr)
            for j in range(p):
                grad_b[j] = xtr[j, 0] / n
        # the coupling: grad_gamma = (gamma - D beta) / nu, grad_beta -= D^T grad_gamma
        csr_matvec(d_data, d_ind, d_ptr, beta[:p], Dbeta)
        for r in range(m):
            grad_z[r, 0] = (gamma[r, 0] - Dbeta[r]) / nu
        csr_rmatvec(d_data, d_ind, d_ptr, grad_z[:, 0], back)
        for j in range(p):
            grad_b[j] -= back[j]
        big_beta = free_step(beta, grad_b, kappa * alpha, beta_new)
        if diverged(big_beta, kappa):
            status = DIVERGED
            break
        # the dual step, the entries inside it and gamma = kappa * prox(z) at its end
        big, _, _ = lbi_update(z, grad_z, alpha, no_scale, kappa, no_scale, t, entry2, 0,
                               False, elementwise, group_ptr, group_idx, z_new, gamma)
        if diverged(big, kappa):
            status = DIVERGED
            break
        gi = record_dense(z, z_new, beta, beta_new, t, alpha, grid, gi, kappa, elementwise,
                          group_ptr, group_idx, gammas, betas, no_duals, zz, tmp)
        copy_1d(beta, beta_new)
        copy_2d(z, z_new)
        t += alpha
        k_iter += 1
    if gi >= n_times and status == MAX_ITER:
        status = OK
    return betas[:gi], gammas[:gi, :, 0].copy(), entry2[:, 0].copy(), k_iter, status, t, beta, \
        gamma[:, 0].copy()
