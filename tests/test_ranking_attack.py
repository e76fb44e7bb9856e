"""Targeted manipulation of +1/-1 votes: the contaminated Bradley-Terry model and its test."""

import numpy as np
import pytest
from scipy.stats import chi2, kendalltau

from sparsestat import RobustPairwiseRanker
from sparsestat.datasets import make_pairwise_comparisons
from sparsestat.ranking._attack import (
    _item_views,
    fit_lapse,
    posterior_fdr_set,
    profile_lrt,
    step_up_cut,
    targeted_attack,
)


def _contaminated_votes(rng, n, m, promote, demote, lapse, theta=None):
    """Votes drawn from P(i beats j) = a_ij + lapse/2 + (1 - a_ij - a_ji - lapse) sigma(d)."""
    theta = rng.standard_normal(n) if theta is None else theta
    left = rng.integers(0, n, m)
    right = (left + rng.integers(1, n, m)) % n
    a = promote[left] + demote[right]
    b = promote[right] + demote[left]
    u = rng.random(m)
    s = 1.0 / (1.0 + np.exp(-(theta[left] - theta[right])))
    kind = np.select([u < a, u < a + b, u < a + b + lapse], [1, 2, 3], 0)
    honest = np.where(rng.random(m) < s, 1.0, -1.0)
    coin = np.where(rng.random(m) < 0.5, 1.0, -1.0)
    y = np.select([kind == 1, kind == 2, kind == 3], [1.0, -1.0, coin], honest)
    return left, right, y, theta, kind


def _bradley_terry(left, right, y):
    """Plain Bradley-Terry scores (the starting point the ranker hands to the attack model)."""
    ranker = RobustPairwiseRanker(link="logistic", contamination=1e-9, manipulation=None)
    return ranker.fit(np.column_stack([left, right]), y).scores_


def test_em_recovers_the_attack_rates_of_its_own_model():
    # a weak item pushed up and a strong item pushed down (where an attack shows: a middling
    # item that wins 30% more often looks much like a better item)
    rng = np.random.default_rng(0)
    n, m = 30, 12000
    theta = np.sort(2.0 * rng.standard_normal(n))
    promote, demote = np.zeros(n), np.zeros(n)
    promote[1], demote[n - 2] = 0.3, 0.25
    left, right, y, theta, kind = _contaminated_votes(rng, n, m, promote, demote, 0.1, theta)
    res = targeted_attack(left, right, y, np.ones(m), n, _bradley_terry(left, right, y),
                          direction="both")
    assert set(np.flatnonzero(res.promote)) == {1}
    assert set(np.flatnonzero(res.demote)) == {n - 2}
    assert abs(res.promote[1] - 0.3) < 0.06 and abs(res.demote[n - 2] - 0.25) < 0.06
    assert abs(res.lapse - 0.1) < 0.03
    assert kendalltau(res.theta, theta)[0] > 0.9
    # the posterior is calibrated: attack votes among those the model is sure about
    attack = (kind == 1) | (kind == 2)
    sure = res.posterior > 0.5
    assert sure.sum() > 100 and attack[sure].mean() > res.posterior[sure].mean() - 0.1
    assert abs(res.posterior.sum() - attack.sum()) < 0.15 * attack.sum()


def test_no_attack_rate_without_an_attack():
    # plain Bradley-Terry votes, and votes with careless (lapse) answers: nothing is attacked
    for seed, lapse in [(1, 0.0), (2, 0.2)]:
        rng = np.random.default_rng(seed)
        n, m = 40, 6000
        left, right, y, _, _ = _contaminated_votes(rng, n, m, np.zeros(n), np.zeros(n), lapse)
        res = targeted_attack(left, right, y, np.ones(m), n, _bradley_terry(left, right, y),
                              direction="both")
        assert not np.any(res.promote) and not np.any(res.demote)
        assert np.all(res.posterior == 0)


def test_posterior_fdr_set_against_brute_force():
    rng = np.random.default_rng(3)
    post = rng.random(200) ** 0.3
    got = posterior_fdr_set(post, 0.1)
    # brute force: the largest k such that the top-k (among posterior > 1/2) has mean
    # (1 - posterior) <= 0.1
    top = np.sort(post[post > 0.5])[::-1]
    best = max([k for k in range(1, top.size + 1) if np.mean(1 - top[:k]) <= 0.1], default=0)
    assert got.sum() == best
    assert np.all(post[got] >= (post[~got].max() if best < post.size else 0))


@pytest.mark.parametrize("n_dir", [1, 2])
def test_step_up_cut_is_benjamini_hochberg(n_dir):
    # reference: the Benjamini-Hochberg procedure on the boundary chi-square p-values
    rng = np.random.default_rng(5)
    n, alpha = 200, 0.05
    for trial in range(30):
        lrt = np.where(rng.random(n) < 0.5, 0.0, rng.chisquare(1, n))
        k_true = int(rng.integers(0, 8))
        lrt[:k_true] = rng.uniform(6.0, 16.0, k_true)   # a few items with evidence
        p = np.where(lrt > 0, n_dir * 0.5 * chi2.sf(lrt, 1), 1.0)
        order = np.argsort(p)
        passed = np.flatnonzero(p[order] <= alpha * np.arange(1, n + 1) / n)
        expected = np.zeros(n, dtype=bool)
        if passed.size:
            expected[order[: passed[-1] + 1]] = True
        np.testing.assert_array_equal(lrt > step_up_cut(lrt, alpha, n_dir), expected)
    # a single rejection is a Bonferroni rejection
    bonferroni = chi2.isf(2 * alpha / (n_dir * n), 1)
    lrt = np.zeros(n)
    lrt[0] = bonferroni + 0.5
    assert step_up_cut(lrt, alpha, n_dir) == pytest.approx(bonferroni)
    lrt[0] = bonferroni - 0.01
    assert step_up_cut(lrt, alpha, n_dir) == np.inf


def test_several_promoted_items_need_less_evidence_each():
    # 2% of the votes promote 3 items: one of them is below the Bonferroni cut-off of its
    # first test, the step-up rule finds all three and nothing else
    data = make_pairwise_comparisons(100, 8000, 100, 0.02, random_state=0, behavior="promote")
    left, right = data.comparisons[:, 0], data.comparisons[:, 1]
    y, w, n = data.outcomes, np.ones(8000), 100
    theta = _bradley_terry(left, right, y)
    theta = theta - theta.mean()
    lapse = fit_lapse(theta, left, right, y > 0, w)
    item, opp, won, vw = _item_views(left, right, y > 0, w)
    zero = np.zeros(item.shape[0])
    first = profile_lrt(theta, item, opp, won, vw, n, lapse, zero, zero)
    assert np.min(first[data.promoted]) < chi2.isf(2 * 0.05 / n, 1)
    res = targeted_attack(left, right, y, w, n, theta)
    assert set(np.flatnonzero(res.promote)) == set(data.promoted.tolist())


@pytest.mark.parametrize("frac,seed,recall,gain", [(0.02, 3, 0.2, 0.01), (0.02, 4, 0.2, 0.01),
                                                   (0.04, 0, 0.3, 0.03), (0.08, 1, 0.3, 0.03)])
def test_promoted_items_are_found_from_single_votes(frac, seed, recall, gain):
    """Weak (2%) to strong (8%) attacks: the promoted items, the attack votes with
    precision >= 0.8, and a better ranking than the plain fit."""
    data = make_pairwise_comparisons(100, 8000, 100, frac, random_state=seed,
                                     behavior="promote")
    plain = RobustPairwiseRanker(manipulation=None).fit(data.comparisons, data.outcomes)
    ranker = RobustPairwiseRanker().fit(data.comparisons, data.outcomes)
    assert set(ranker.manipulated_items_.tolist()) == set(data.promoted.tolist())
    flagged = ranker.outliers_
    assert flagged.sum() > recall * data.outliers.sum()
    assert np.mean(data.outliers[flagged]) >= 0.8
    tau = kendalltau(ranker.scores_, data.scores)[0]
    assert tau > kendalltau(plain.scores_, data.scores)[0] + gain
    if frac >= 0.04:
        # with annotator ids the attackers are flagged as a whole
        by_ann = RobustPairwiseRanker().fit(data.comparisons, data.outcomes,
                                            annotators=data.annotators)
        np.testing.assert_array_equal(np.sort(by_ann.annotator_outliers_), data.malicious)


@pytest.mark.parametrize("behavior,frac", [("flip", 0.0), ("random", 0.3)])
def test_clean_and_careless_votes_are_left_alone(behavior, frac):
    data = make_pairwise_comparisons(100, 8000, 100, frac, random_state=0, behavior=behavior)
    for link in ("linear", "logistic"):
        ranker = RobustPairwiseRanker(link=link).fit(data.comparisons, data.outcomes)
        plain = RobustPairwiseRanker(link=link, manipulation=None).fit(data.comparisons,
                                                                      data.outcomes)
        assert ranker.manipulated_items_.size == 0
        np.testing.assert_array_equal(ranker.outliers_, plain.outliers_)
        np.testing.assert_allclose(ranker.scores_, plain.scores_, atol=1e-12)


def test_demotion_needs_the_demote_direction():
    rng = np.random.default_rng(4)
    n, m = 40, 8000
    demote = np.zeros(n)
    left, right, y, theta, kind = _contaminated_votes(rng, n, m, np.zeros(n), demote, 0.0)
    strong = int(np.argmax(theta))
    # attackers make the best item lose a third of its comparisons
    mine = ((left == strong) | (right == strong)) & (rng.random(m) < 0.35)
    y[mine] = np.where(left[mine] == strong, -1.0, 1.0)
    for direction in ("demote", "both"):
        ranker = RobustPairwiseRanker(manipulation=direction).fit(np.column_stack([left, right]),
                                                                  y)
        assert ranker.manipulated_items_.tolist() == [strong]
        assert np.mean(mine[ranker.outliers_]) >= 0.8
