"""LBIGraphicalModel: edge recovery against the peers, theory at the path's end, invariances."""

import numpy as np
import pytest
from scipy.optimize import minimize

from sparsestat.covariance import GraphDisplay, LBIGraphicalModel, LBIGraphicalModelCV
from validation.validate_graphical import (chain, edge_auc, entry_score, gaussian_sample,
                                           glasso_entry_scores, grid_graph, ising_sample,
                                           logistic_neighbourhood_scores, potts_sample,
                                           random_graph)


# shorter paths with less damping than the defaults: fewer iterations, the same ranking
FAST = dict(kappa=5.0, t_ratio=30.0)


def _ising_chain(p, n, seed, coupling=0.5):
    rng = np.random.default_rng(seed)
    A = chain(p)[0]
    J = coupling * A * np.triu(rng.choice([-1.0, 1.0], size=(p, p)), 1)
    return A, ising_sample(J + J.T, n, rng)


# ---------------------------------------------------------------------- recovery vs peers
@pytest.mark.parametrize("graph, n, seed", [("chain", 150, 0), ("grid", 200, 1),
                                            ("random", 200, 2)])
def test_gaussian_auc_at_least_graphical_lasso(graph, n, seed):
    rng = np.random.default_rng(seed)
    A = {"chain": chain(16)[0], "grid": grid_graph(4), "random": random_graph(16, 16, rng)}[graph]
    X, _ = gaussian_sample(A, n, rng)
    model = LBIGraphicalModel(**FAST, n_times=20).fit(X)
    ours = edge_auc(A, entry_score(model.edge_entry_times_))
    peer = edge_auc(A, glasso_entry_scores(X, n_alphas=25))
    assert ours >= peer - 0.02
    assert ours > 0.85


def test_ising_auc_at_least_logistic_neighbourhood_selection():
    A, S = _ising_chain(12, 400, seed=3)
    model = LBIGraphicalModel("ising", **FAST, n_times=20).fit(S)
    ours = edge_auc(A, entry_score(model.edge_entry_times_))
    peer = edge_auc(A, logistic_neighbourhood_scores(S, n_cs=15))
    assert ours >= peer - 0.02
    assert ours > 0.9


def test_potts_recovers_a_chain_of_three_level_columns():
    rng = np.random.default_rng(4)
    A = chain(8)[0]
    X = potts_sample(A, 3, 0.8, 500, rng, sweeps=100)
    model = LBIGraphicalModel("potts", **FAST, n_times=20).fit(X)
    assert edge_auc(A, entry_score(model.edge_entry_times_)) > 0.95
    # every true edge enters before every non-edge
    rows, cols = np.triu_indices(8, 1)
    entry, true = model.edge_entry_times_[rows, cols], A[rows, cols]
    assert entry[true].max() < entry[~true].min()
    assert model.interaction_blocks_[(0, 1)].shape == (3, 3)


# ---------------------------------------------------------------------- theory
def _symmetric_regression_lstsq(Z):
    """The unpenalized minimizer of ||Z - Z Theta||_F^2 over symmetric zero-diagonal Theta."""
    n, p = Z.shape
    rows, cols = np.triu_indices(p, 1)
    design = np.zeros((n * p, rows.size))
    for e, (j, k) in enumerate(zip(rows, cols)):
        design[j * n:(j + 1) * n, e] = Z[:, k]       # Theta_kj predicts column j
        design[k * n:(k + 1) * n, e] = Z[:, j]
    theta, *_ = np.linalg.lstsq(design, Z.T.ravel(), rcond=None)
    return theta


def test_gaussian_path_ends_at_the_unpenalized_symmetric_regression():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 5)) @ rng.standard_normal((5, 5))
    model = LBIGraphicalModel(kappa=2.0, t_ratio=1e3, n_times=5).fit(X)
    Z = (X - X.mean(0)) / X.std(0)
    ref = _symmetric_regression_lstsq(Z)
    got = model.neighbourhood_coef_[np.triu_indices(5, 1)]
    np.testing.assert_allclose(got, ref, atol=1e-4)


def _ising_pseudo_mle(X):
    """Unpenalized pseudo-likelihood fit of a 0/1 Ising model, written from its definition."""
    n, p = X.shape
    rows, cols = np.triu_indices(p, 1)

    def nll(par):
        h, th = par[:p], par[p:]
        T = np.zeros((p, p))
        T[rows, cols] = th
        T = T + T.T
        eta = h + X @ T
        return np.sum(np.logaddexp(0.0, eta) - X * eta) / n

    res = minimize(nll, np.zeros(p + rows.size), method="BFGS", options={"gtol": 1e-10})
    return res.x[p:]


def test_ising_path_ends_at_the_unpenalized_pseudo_likelihood():
    A, S = _ising_chain(4, 600, seed=6, coupling=0.6)
    X01 = (S > 0).astype(float)
    model = LBIGraphicalModel("ising", kappa=2.0, t_ratio=1e3, n_times=5).fit(X01)
    got = model.interaction_[np.triu_indices(4, 1)]
    np.testing.assert_allclose(got, _ising_pseudo_mle(X01), atol=2e-3)
    # the same data coded -1/+1: the same path, couplings of s_j s_k a quarter of x_j x_k's
    spins = LBIGraphicalModel("ising", kappa=2.0, t_ratio=1e3, n_times=5).fit(S)
    np.testing.assert_allclose(spins.edge_entry_times_, model.edge_entry_times_, rtol=1e-12)
    np.testing.assert_allclose(spins.interaction_, model.interaction_ / 4.0, atol=1e-12)


def test_first_edge_is_the_largest_correlation_and_enters_at_t0():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((100, 6)) @ rng.standard_normal((6, 6))
    model = LBIGraphicalModel(**FAST, n_times=10).fit(X)
    C = np.corrcoef(X, rowvar=False) - np.eye(6)
    first = np.unravel_index(np.argmin(model.edge_entry_times_), (6, 6))
    assert abs(C[first]) == pytest.approx(np.max(np.abs(C)))
    # t0 = 1 / max |d loss / d theta_e| at zero, and the gradient there is -2 C_jk
    assert model.regularization_path_.t0 == pytest.approx(1.0 / (2 * np.max(np.abs(C))))
    assert model.edge_entry_times_.min() == pytest.approx(model.regularization_path_.t0)


def test_precision_is_the_graph_constrained_likelihood_maximum():
    rng = np.random.default_rng(8)
    A = chain(10)[0]
    X, _ = gaussian_sample(A, 60, rng)
    X = X * rng.uniform(0.1, 10.0, size=10) + 3.0
    model = LBIGraphicalModel(**FAST, n_times=30, t_relative=3.0).fit(X)
    P, C = model.precision_, model.covariance_
    assert np.linalg.eigvalsh(P)[0] > 0
    np.testing.assert_allclose(P, P.T, atol=1e-12)
    np.testing.assert_allclose(P @ C, np.eye(10), atol=1e-8)
    # zeros off the graph; the fitted covariance matches the sample one on the diagonal and
    # on every edge (the likelihood equations of covariance selection)
    off = ~model.adjacency_ & ~np.eye(10, dtype=bool)
    assert np.all(P[off] == 0)
    S = np.cov(X, rowvar=False, bias=True)
    keep = model.adjacency_ | np.eye(10, dtype=bool)
    np.testing.assert_allclose(C[keep], S[keep], rtol=1e-6)


def test_precision_positive_definite_with_fewer_samples_than_columns():
    rng = np.random.default_rng(9)
    X, _ = gaussian_sample(chain(30)[0], 20, rng)
    model = LBIGraphicalModel(**FAST, n_times=20).fit(X)      # read at the end: a dense graph
    assert model.adjacency_.sum() > 0
    assert np.linalg.eigvalsh(model.precision_)[0] > 0


# ---------------------------------------------------------------------- properties
def test_permuting_columns_permutes_the_graph():
    rng = np.random.default_rng(10)
    X, _ = gaussian_sample(chain(8)[0], 120, rng)
    perm = rng.permutation(8)
    a = LBIGraphicalModel(**FAST, n_times=15, t_relative=2.0).fit(X)
    b = LBIGraphicalModel(**FAST, n_times=15, t_relative=2.0).fit(X[:, perm])
    np.testing.assert_allclose(b.edge_entry_times_, a.edge_entry_times_[np.ix_(perm, perm)],
                               rtol=1e-9)
    np.testing.assert_array_equal(b.adjacency_, a.adjacency_[np.ix_(perm, perm)])
    np.testing.assert_allclose(b.precision_, a.precision_[np.ix_(perm, perm)], rtol=1e-7,
                               atol=1e-12)


def test_permuting_columns_permutes_the_ising_graph():
    _, S = _ising_chain(6, 300, seed=11)
    perm = np.random.default_rng(0).permutation(6)
    a = LBIGraphicalModel("ising", **FAST, n_times=15).fit(S)
    b = LBIGraphicalModel("ising", **FAST, n_times=15).fit(S[:, perm])
    np.testing.assert_allclose(b.edge_entry_times_, a.edge_entry_times_[np.ix_(perm, perm)],
                               rtol=1e-9)
    np.testing.assert_allclose(b.interaction_, a.interaction_[np.ix_(perm, perm)], atol=1e-10)


@pytest.mark.parametrize("scale", [1e-8, 1e-4, 1e4, 1e8])
def test_rescaling_and_shifting_a_gaussian_column_changes_nothing_in_the_graph(scale):
    rng = np.random.default_rng(12)
    X, _ = gaussian_sample(chain(6)[0], 100, rng)
    a = LBIGraphicalModel(**FAST, n_times=15, t_relative=2.0).fit(X)
    Xs = X.copy()
    Xs[:, 2] = Xs[:, 2] * scale + 7.0 * scale
    b = LBIGraphicalModel(**FAST, n_times=15, t_relative=2.0).fit(Xs)
    np.testing.assert_allclose(b.edge_entry_times_, a.edge_entry_times_, rtol=1e-8)
    np.testing.assert_array_equal(b.adjacency_, a.adjacency_)
    # the precision carries the column's units: row and column 2 divide by the scale
    d = np.ones(6)
    d[2] = scale
    np.testing.assert_allclose(b.precision_ * np.outer(d, d), a.precision_, rtol=1e-6,
                               atol=1e-10)


def test_flipping_a_binary_column_flips_the_signs_of_its_couplings():
    _, S = _ising_chain(5, 300, seed=13)
    a = LBIGraphicalModel("ising", **FAST, n_times=15).fit(S)
    flipped = S.copy()
    flipped[:, 1] *= -1
    b = LBIGraphicalModel("ising", **FAST, n_times=15).fit(flipped)
    np.testing.assert_allclose(b.edge_entry_times_, a.edge_entry_times_, rtol=1e-9)
    sign = np.ones(5)
    sign[1] = -1
    np.testing.assert_allclose(b.interaction_, a.interaction_ * np.outer(sign, sign),
                               atol=1e-9)


def test_potts_on_binary_columns_is_the_ising_model_and_ignores_level_values():
    _, S = _ising_chain(5, 300, seed=14)
    ising = LBIGraphicalModel("ising", **FAST, n_times=15).fit(S)
    potts = LBIGraphicalModel("potts", **FAST, n_times=15).fit(S * 10.0 + 3.0)  # -7 and 13
    np.testing.assert_allclose(potts.edge_entry_times_, ising.edge_entry_times_, rtol=1e-9)


# ---------------------------------------------------------------------- CV and display
def test_cv_chooses_a_time_with_the_best_held_out_score_and_a_sparse_graph():
    rng = np.random.default_rng(15)
    A = chain(10)[0]
    X, _ = gaussian_sample(A, 300, rng)
    cv = LBIGraphicalModelCV(**FAST, n_times=25, cv=3).fit(X)
    mean = cv.cv_scores_.mean(axis=0)
    assert cv.t_ == cv.cv_times_[np.argmax(mean)]
    assert cv.cv_scores_.shape == (3, 25)
    # the chosen graph holds every true edge and few false ones
    found = cv.adjacency_[np.triu_indices(10, 1)]
    true = A[np.triu_indices(10, 1)]
    assert found[true].all()
    assert found[~true].sum() <= 12
    se = LBIGraphicalModelCV(**FAST, n_times=25, cv=3, one_standard_error=True).fit(X)
    assert se.t_ <= cv.t_
    assert se.adjacency_.sum() <= cv.adjacency_.sum()


def test_cv_for_ising_scores_held_out_pseudo_likelihood():
    A, S = _ising_chain(6, 400, seed=16, coupling=0.6)
    cv = LBIGraphicalModelCV("ising", **FAST, n_times=15, cv=3).fit(S)
    # the held-out pseudo-likelihood at the chosen time beats the empty graph's
    assert cv.cv_scores_.mean(axis=0).max() > cv.cv_scores_.mean(axis=0)[0]
    rows, cols = np.triu_indices(6, 1)
    assert cv.adjacency_[rows, cols][A[rows, cols]].all()


def test_score_is_the_held_out_pseudo_likelihood_of_independent_columns():
    """With no edges the Ising pseudo-likelihood is the sum of Bernoulli log-likelihoods."""
    rng = np.random.default_rng(17)
    X = (rng.random((200, 3)) < [0.2, 0.5, 0.7]).astype(float)
    model = LBIGraphicalModel("ising", **FAST, n_times=5, t_relative=0.5).fit(X)
    freq = X.mean(axis=0)
    expected = np.mean(np.sum(X * np.log(freq) + (1 - X) * np.log(1 - freq), axis=1))
    assert model.score(X) == pytest.approx(expected, rel=1e-8)


def test_graph_display_draws_the_edges_of_the_graph():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(18)
    X, _ = gaussian_sample(chain(6)[0], 200, rng)
    model = LBIGraphicalModel(**FAST, n_times=15, t_relative=2.0).fit(X)
    disp = GraphDisplay.from_estimator(model, node_names=list("abcdef"))
    rows, cols = np.nonzero(np.triu(model.adjacency_, 1))
    assert sorted(disp.edges_) == sorted(zip(rows.tolist(), cols.tolist()))
    assert [t.get_text() for t in disp.texts_] == list("abcdef")
    plt.close(disp.figure_)
