"""GraphicalKnockoffSelector: the GGM knockoff filter for the edges of a Gaussian graph."""

import itertools

import numpy as np
import pytest

from sparsestat.covariance import GraphicalKnockoffSelector
from sparsestat.covariance._knockoffs import ggm_knockoff_filter

C_A = {1.0: 1.93, 0.01: 102.0}


def reference_filter(W, q, rule, a):
    """The GGM knockoff filter's global step, written out with loops."""
    p = W.shape[0]
    factor = 2.0 if rule == "and" else 1.0
    for m in range(p - 1, -1, -1):
        T = np.full(p, np.inf)
        for i in range(p):
            for t in sorted({abs(w) for w in W[i] if w != 0}):
                if sum(1 for w in W[i] if w <= -t) <= m:
                    T[i] = t
                    break
        edges = set()
        for i, j in itertools.permutations(range(p), 2):
            hit_i = W[i, j] > 0 and W[i, j] >= T[i]
            hit_j = W[j, i] > 0 and W[j, i] >= T[j]
            if (hit_i and hit_j) if rule == "and" else (hit_i or hit_j):
                edges.add((min(i, j), max(i, j)))
        if (a + m) / max(1, len(edges)) <= factor * q / (C_A[a] * p):
            return edges, m
    return set(), -1


@pytest.mark.parametrize("rule", ["and", "or"])
@pytest.mark.parametrize("a", [1.0, 0.01])
def test_global_step_matches_a_loop_reference(rule, a):
    rng = np.random.default_rng(0)
    for trial in range(30):
        p = int(rng.integers(3, 9))
        # mostly positive statistics, rounded so that magnitudes tie
        W = np.round(rng.normal(0.6, 1.0, (p, p)), 1)
        np.fill_diagonal(W, 0.0)
        q = float(rng.choice([0.3, 0.6, 0.9]))
        adjacency, T, m = ggm_knockoff_filter(W, q, rule, a)
        edges, m_ref = reference_filter(W, q, rule, a)
        assert m == m_ref
        assert {tuple(e) for e in np.argwhere(np.triu(adjacency, 1))} == edges
        assert np.array_equal(adjacency, adjacency.T)


@pytest.mark.parametrize("rule, factor", [("and", 2.0), ("or", 1.0)])
def test_the_rule_needs_a_c_a_p_over_c_q_edges(rule, factor):
    # k strong edges, every other statistic a small negative: only m = 0 can select,
    # and it does exactly when k >= c_a p / (factor q)
    p, q = 20, 0.4
    need = int(np.ceil(1.93 * p / (factor * q)))
    pairs = list(itertools.combinations(range(p), 2))
    for k in (need - 1, need):
        W = np.full((p, p), -0.01)
        np.fill_diagonal(W, 0.0)
        for i, j in pairs[:k]:
            W[i, j] = W[j, i] = 1.0
        adjacency, _, m = ggm_knockoff_filter(W, q, rule)
        assert (int(np.triu(adjacency, 1).sum()), m) == ((k, 0) if k >= need else (0, -1))


def random_graph(p, prob, rng, weight=1.0):
    """Precision matrix of an Erdos-Renyi graph with +-weight entries, made positive
    definite by the diagonal, and the graph."""
    upper = np.triu(rng.random((p, p)) < prob, 1)
    S = upper * rng.choice([-weight, weight], (p, p))
    S = S + S.T
    Theta = S + (0.2 - min(np.linalg.eigvalsh(S).min(), 0.0)) * np.eye(p)
    return Theta, S != 0


def edge_fdp_power(adjacency, truth):
    upper = np.triu(np.ones_like(truth, dtype=bool), 1)
    selected = adjacency & upper
    false = np.count_nonzero(selected & ~truth)
    return false / max(1, selected.sum()), np.count_nonzero(selected & truth) / (truth & upper).sum()


def test_edge_fdr_and_power_on_a_dense_random_graph():
    # 20 nodes, about half of the 190 possible edges; the FDR at q and the power of the
    # offset 0.01 (which can select with fewer edges) far above zero
    q, p, n, reps = 0.2, 20, 400, 12
    rng = np.random.default_rng(7)
    Theta, truth = random_graph(p, 0.5, rng)
    Sigma = np.linalg.inv(Theta)
    fdp, power = [], []
    for r in range(reps):
        X = rng.multivariate_normal(np.zeros(p), Sigma, size=n)
        sel = GraphicalKnockoffSelector(fdr=q, offset=0.01, random_state=r).fit(X)
        f, pw = edge_fdp_power(sel.adjacency_, truth)
        fdp.append(f)
        power.append(pw)
    fdp = np.array(fdp)
    assert fdp.mean() <= q + 2 * fdp.std(ddof=1) / np.sqrt(reps) + 1e-12
    assert np.mean(power) > 0.5


@pytest.mark.parametrize("statistic, params", [
    ("lcd", None), ("lcd", {"penalty": "gcv"}), ("lsm", None), ("lbi", None)])
def test_null_statistics_have_fair_signs(statistic, params):
    # independent columns: every W_ij is a null, positive with probability 1/2
    rng = np.random.default_rng(3)
    p, n = 10, 60
    signs = []
    for r in range(20):
        sel = GraphicalKnockoffSelector(statistic=statistic, statistic_params=params,
                                        random_state=r)
        W = sel.fit(rng.standard_normal((n, p))).W_
        off = W[~np.eye(p, dtype=bool)]
        signs.extend(np.sign(off[off != 0]))
    positive = np.mean(np.array(signs) > 0)
    assert abs(positive - 0.5) < 3 * 0.5 / np.sqrt(len(signs))


def test_units_and_locations_do_not_change_the_selection():
    rng = np.random.default_rng(1)
    p = 12
    Theta = np.eye(p) + 0.25 * (np.ones((p, p)) - np.eye(p))
    X = rng.multivariate_normal(np.zeros(p), np.linalg.inv(Theta), size=800)
    base = GraphicalKnockoffSelector(fdr=0.3, offset=0.01, random_state=0).fit(X)
    assert len(base.edges_) > 0
    for scale in (1e-8, 1e8):
        a = scale * rng.uniform(0.5, 2.0, p)
        other = GraphicalKnockoffSelector(fdr=0.3, offset=0.01, random_state=0).fit(X * a + 3.0)
        np.testing.assert_allclose(other.W_, base.W_, rtol=1e-6, atol=1e-9)
        assert np.array_equal(other.adjacency_, base.adjacency_)


def test_edges_and_adjacency_agree():
    rng = np.random.default_rng(2)
    p = 12
    Theta = np.eye(p) + 0.2 * (np.ones((p, p)) - np.eye(p))
    X = rng.multivariate_normal(np.zeros(p), np.linalg.inv(Theta), size=1000)
    sel = GraphicalKnockoffSelector(fdr=0.2, random_state=0).fit(X)
    rebuilt = np.zeros((p, p), dtype=bool)
    rebuilt[tuple(sel.edges_.T)] = True
    assert np.array_equal(rebuilt | rebuilt.T, sel.adjacency_)
    assert np.all(sel.edges_[:, 0] < sel.edges_[:, 1])
    assert not sel.adjacency_.diagonal().any()
    assert np.all(sel.W_.diagonal() == 0)


@pytest.mark.parametrize("X, match", [
    (np.random.default_rng(0).standard_normal((20, 12)), "n >= 2p - 1"),
    (np.column_stack([np.ones(40), np.random.default_rng(0).standard_normal((40, 4))]),
     "constant column"),
    (np.full((40, 4), np.nan), "NaN"),
])
def test_bad_input_is_a_clear_error(X, match):
    with pytest.raises(ValueError, match=match):
        GraphicalKnockoffSelector().fit(X)


def test_bad_parameters_are_clear_errors():
    X = np.random.default_rng(0).standard_normal((40, 5))
    with pytest.raises(ValueError, match="offset"):
        GraphicalKnockoffSelector(offset=0.5).fit(X)
    with pytest.raises(ValueError, match="penalty must be 'cp' or 'gcv'"):
        GraphicalKnockoffSelector(statistic_params={"penalty": "cv"}).fit(X)
    with pytest.raises(ValueError, match="does not take"):
        GraphicalKnockoffSelector(statistic_params={"kappa": 3.0}).fit(X)
