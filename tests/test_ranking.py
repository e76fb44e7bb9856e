"""RobustPairwiseRanker: HodgeRank scores, the cycle-space residual, outlier recovery."""

import itertools

import numpy as np
import pytest

from sparsestat import RobustPairwiseRanker
from sparsestat.datasets import make_pairwise_comparisons


def _incidence(pairs, n):
    C = np.zeros((len(pairs), n))
    C[np.arange(len(pairs)), pairs[:, 0]] = 1.0
    C[np.arange(len(pairs)), pairs[:, 1]] = -1.0
    return C


def _wls_hodgerank(pairs, y, w, n):
    """Weighted least-squares HodgeRank with numpy's lstsq (min-norm => centred)."""
    C = _incidence(pairs, n)
    sw = np.sqrt(w)
    theta, *_ = np.linalg.lstsq(C * sw[:, None], y * sw, rcond=None)
    return theta - theta.mean()


def _random_graph(rng, n, m):
    left = rng.integers(0, n, m)
    right = (left + rng.integers(1, n, m)) % n
    return np.column_stack([left, right])


def test_complete_graph_without_noise_recovers_scores_exactly():
    rng = np.random.default_rng(0)
    n = 12
    theta = rng.standard_normal(n)
    pairs = np.array(list(itertools.combinations(range(n), 2)))
    y = theta[pairs[:, 0]] - theta[pairs[:, 1]]
    with pytest.warns(UserWarning, match="path is empty: every ranking"):
        ranker = RobustPairwiseRanker().fit(pairs, y)
    np.testing.assert_allclose(ranker.scores_, theta - theta.mean(), atol=1e-10)
    assert not ranker.outliers_.any()
    assert list(ranker.ranking_) == list(np.argsort(-theta))
    assert abs(ranker.scores_.sum()) < 1e-10
    # the outlier path is empty: nothing ever enters
    path = ranker.regularization_path_
    assert np.all(np.isinf(ranker.entry_times_)) and path.t0 == np.inf
    assert not np.any(path.coef_at(1e6)) and not np.any(path.support_at(1.0))


@pytest.mark.parametrize("solver", ["factorize", "cg"])
def test_scores_equal_weighted_least_squares_hodgerank(solver):
    rng = np.random.default_rng(1)
    n, m = 25, 300
    pairs = _random_graph(rng, n, m)
    theta = rng.standard_normal(n)
    y = theta[pairs[:, 0]] - theta[pairs[:, 1]] + 0.3 * rng.standard_normal(m)
    w = rng.integers(1, 5, m).astype(float)
    ranker = RobustPairwiseRanker(solver=solver).fit(pairs, y, sample_weight=w)
    assert not ranker.outliers_.any()  # Gaussian noise only: nothing flagged
    np.testing.assert_allclose(ranker.scores_, _wls_hodgerank(pairs, y, w, n), atol=1e-7)


def test_refit_without_flagged_comparisons_is_least_squares_on_the_rest():
    data = make_pairwise_comparisons(20, 400, 10, 0.2, random_state=3, outcome="margin",
                                     noise=0.1)
    pairs, y = data.comparisons, data.outcomes
    ranker = RobustPairwiseRanker().fit(pairs, y)
    keep = ~ranker.outliers_
    assert ranker.outliers_.sum() > 20
    np.testing.assert_allclose(ranker.scores_, _wls_hodgerank(pairs[keep], y[keep],
                                                              np.ones(keep.sum()), 20),
                               atol=1e-8)
    # gamma_ is the refit residual of the flagged comparisons
    d = ranker.scores_[pairs[:, 0]] - ranker.scores_[pairs[:, 1]]
    np.testing.assert_allclose(ranker.gamma_[~keep], (y - d)[~keep], atol=1e-12)
    assert np.all(ranker.gamma_[keep] == 0)


def test_repeated_comparisons_are_weighted_like_duplicated_rows():
    rng = np.random.default_rng(2)
    n, m = 15, 120
    pairs = _random_graph(rng, n, m)
    y = rng.standard_normal(m)
    counts = rng.integers(1, 4, m)
    # the outlier term differs (one gamma per weighted row), the least-squares scores do not
    plain_w = RobustPairwiseRanker(contamination=1e-9).fit(pairs, y, sample_weight=counts)
    plain_d = RobustPairwiseRanker(contamination=1e-9).fit(np.repeat(pairs, counts, axis=0),
                                                          np.repeat(y, counts))
    np.testing.assert_allclose(plain_w.scores_, plain_d.scores_, atol=1e-10)


def test_residual_lies_in_the_cycle_space():
    data = make_pairwise_comparisons(30, 600, 20, 0.1, random_state=4, outcome="margin",
                                     noise=0.2)
    pairs, y = data.comparisons, data.outcomes
    w = np.random.default_rng(4).uniform(0.5, 2.0, len(y))
    ranker = RobustPairwiseRanker().fit(pairs, y, sample_weight=w)
    C = _incidence(pairs, 30)
    r = y - C @ ranker.scores_
    wc = np.where(ranker.outliers_, 0.0, w)
    # the residual is orthogonal to every gradient flow: C^T W r = 0
    assert np.abs(C.T @ (wc * r)).max() < 1e-8 * np.abs(y).max() * len(y)
    # and after removing the outlier term the whole residual is a cycle
    assert np.abs(C.T @ (wc * (r - ranker.gamma_))).max() < 1e-8 * len(y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_flipped_comparisons_are_found(seed):
    data = make_pairwise_comparisons(40, 1200, 30, 0.1, random_state=seed, outcome="margin",
                                     noise=0.05, behavior="flip")
    ranker = RobustPairwiseRanker().fit(data.comparisons, data.outcomes)
    flagged, truth = ranker.outliers_, data.outliers
    tp = np.sum(flagged & truth)
    assert tp / flagged.sum() >= 0.9
    assert tp / truth.sum() >= 0.9
    # and the refit scores are much closer to the truth than plain HodgeRank
    plain = RobustPairwiseRanker(contamination=1e-9).fit(data.comparisons, data.outcomes)
    target = data.scores - data.scores.mean()
    assert (np.abs(ranker.scores_ - target).mean()
            < 0.3 * np.abs(plain.scores_ - target).mean())


def test_contamination_fraction_flags_the_earliest_entries():
    data = make_pairwise_comparisons(30, 500, 20, 0.1, random_state=5, outcome="margin",
                                     noise=0.1)
    ranker = RobustPairwiseRanker(contamination=0.06).fit(data.comparisons, data.outcomes)
    assert ranker.outliers_.sum() == round(0.06 * 500)
    et = ranker.entry_times_
    assert et[ranker.outliers_].max() <= et[~ranker.outliers_].min()


def test_per_component_ranks_each_component_separately():
    rng = np.random.default_rng(7)
    pa = _random_graph(rng, 10, 80)
    pb = _random_graph(rng, 8, 60) + 10
    pairs = np.vstack([pa, pb])
    theta = rng.standard_normal(18)
    y = theta[pairs[:, 0]] - theta[pairs[:, 1]] + 0.1 * rng.standard_normal(140)
    ranker = RobustPairwiseRanker(on_disconnected="per_component").fit(pairs, y)
    assert ranker.n_components_ == 2
    assert len(set(ranker.component_[:10])) == 1 and len(set(ranker.component_[10:])) == 1
    a = RobustPairwiseRanker().fit(pa, y[:80])
    b = RobustPairwiseRanker().fit(pb - 10, y[80:])
    np.testing.assert_allclose(ranker.scores_, np.concatenate([a.scores_, b.scores_]),
                               atol=1e-9)


def test_item_features_give_linear_scores_for_unseen_items():
    rng = np.random.default_rng(8)
    n, d = 30, 3
    Phi = rng.standard_normal((n, d))
    beta = np.array([1.0, -2.0, 0.5])
    pairs = _random_graph(rng, n, 300)
    y = Phi[pairs[:, 0]] @ beta - Phi[pairs[:, 1]] @ beta
    ranker = RobustPairwiseRanker().fit(pairs, y, item_features=Phi)
    np.testing.assert_allclose(ranker.coef_, beta, atol=1e-9)
    new = rng.standard_normal((5, d))
    seen = ranker.score_items(Phi)
    np.testing.assert_allclose(seen, ranker.scores_, atol=1e-9)
    diff = ranker.score_items(new)[:, None] - ranker.score_items(new)[None, :]
    np.testing.assert_allclose(diff, (new @ beta)[:, None] - (new @ beta)[None, :], atol=1e-9)


def test_predictions_agree_with_scores():
    data = make_pairwise_comparisons(20, 600, 10, 0.0, random_state=9, score_scale=2.0)
    ranker = RobustPairwiseRanker().fit(data.comparisons, data.outcomes)
    d = ranker.decision_function(data.comparisons)
    np.testing.assert_allclose(d, ranker.scores_[data.comparisons[:, 0]]
                               - ranker.scores_[data.comparisons[:, 1]])
    pred = ranker.predict(data.comparisons)
    np.testing.assert_array_equal(pred, np.where(d >= 0, 1, -1))
    assert ranker.score(data.comparisons, data.outcomes) == pytest.approx(
        np.mean(pred == data.outcomes))
    proba = ranker.predict_proba(data.comparisons)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(np.diff(proba[np.argsort(d), 1]) >= -1e-15)
    # the fitted link is calibrated: mean predicted win rate equals the observed one
    assert abs(proba[:, 1].mean() - np.mean(data.outcomes > 0)) < 0.02
    # Bradley-Terry data: the slope is positive and the scores rank like the truth
    assert ranker.proba_scale_ > 0
    assert np.corrcoef(ranker.scores_, data.scores)[0, 1] > 0.95


def test_string_labels_and_y_none_mean_first_won():
    pairs = np.array([["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"], ["a", "d"], ["b", "d"]])
    ranker = RobustPairwiseRanker().fit(pairs)
    assert list(ranker.ranking_) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(ranker.scores_, _wls_hodgerank(
        np.searchsorted(ranker.items_, pairs), np.ones(6), np.ones(6), 4), atol=1e-10)


def test_path_starts_empty_and_entries_are_recorded():
    data = make_pairwise_comparisons(20, 300, 10, 0.1, random_state=10, outcome="margin",
                                     noise=0.1)
    ranker = RobustPairwiseRanker(n_times=30).fit(data.comparisons, data.outcomes)
    path = ranker.regularization_path_
    assert path.coefs.shape == (30, 300)
    assert np.all(path.coef_at(0.5 * path.t0) == 0)
    entered = np.isfinite(ranker.entry_times_)
    assert np.all(ranker.entry_times_[entered] >= path.t0 * (1 - 1e-12))
    # the first entry is the comparison with the largest weighted residual of plain HodgeRank
    C = _incidence(data.comparisons, 20)
    theta, *_ = np.linalg.lstsq(C, data.outcomes, rcond=None)
    r = data.outcomes - C @ theta
    assert np.argmin(ranker.entry_times_) == np.argmax(np.abs(r))
    np.testing.assert_allclose(path.t0, len(r) / np.abs(r).max(), rtol=1e-10)


def test_generator_follows_its_model():
    data = make_pairwise_comparisons(50, 20000, 40, 0.25, random_state=11)
    assert len(data.malicious) == 10
    np.testing.assert_array_equal(data.outliers, np.isin(data.annotators, data.malicious))
    assert np.all(data.comparisons[:, 0] != data.comparisons[:, 1])
    honest = ~data.outliers
    diff = data.scores[data.comparisons[:, 0]] - data.scores[data.comparisons[:, 1]]
    p = 1.0 / (1.0 + np.exp(-diff[honest]))
    won = data.outcomes[honest] > 0
    # Bradley-Terry: observed win rate matches the model (3 standard errors)
    assert abs(won.mean() - p.mean()) < 3 * np.sqrt(np.sum(p * (1 - p))) / honest.sum()
    # calibration in bins of the model probability
    for lo in (0.1, 0.5, 0.8):
        sel = (p > lo) & (p < lo + 0.1)
        assert abs(won[sel].mean() - p[sel].mean()) < 4 * 0.5 / np.sqrt(sel.sum())
    # flippers answer against the truth as often as honest annotators answer with it
    bad_agree = np.mean((data.outcomes[~honest] > 0) == (diff[~honest] > 0))
    good_agree = np.mean(won == (diff[honest] > 0))
    assert abs(bad_agree - (1 - good_agree)) < 0.03


def test_generator_promote_and_margin():
    data = make_pairwise_comparisons(30, 3000, 20, 0.2, random_state=12, behavior="promote",
                                     n_promoted=2)
    att = data.outliers
    winners = np.where(data.outcomes > 0, data.comparisons[:, 0], data.comparisons[:, 1])
    assert np.all(np.isin(winners[att], data.promoted))
    assert np.all(data.scores[data.promoted] < np.median(data.scores))
    margin = make_pairwise_comparisons(30, 5000, 20, 0.0, random_state=13, outcome="margin",
                                       noise=0.3)
    d = margin.scores[margin.comparisons[:, 0]] - margin.scores[margin.comparisons[:, 1]]
    assert abs(np.std(margin.outcomes - d) - 0.3) < 0.02


@pytest.mark.parametrize("behavior", ["flip", "random", "promote"])
def test_malicious_annotators_are_found_from_binary_votes(behavior):
    frac = 0.03 if behavior == "promote" else 0.2
    data = make_pairwise_comparisons(60, 5000, 60, frac, random_state=14, behavior=behavior)
    ranker = RobustPairwiseRanker().fit(data.comparisons, data.outcomes,
                                        annotators=data.annotators)
    found = set(ranker.annotator_outliers_.tolist())
    truth = set(data.malicious.tolist())
    assert len(found & truth) >= 0.9 * len(truth)
    assert len(found & truth) >= 0.8 * len(found)
    np.testing.assert_array_equal(ranker.outliers_, np.isin(data.annotators, list(found)))
    # every comparison enters together with its annotator
    for a in ranker.annotators_[:5]:
        et = ranker.entry_times_[data.annotators == a]
        assert np.all(et == et[0])
    # removing them recovers the ranking better than the per-vote model can
    target = data.scores
    tau = np.corrcoef(np.argsort(np.argsort(ranker.scores_)), np.argsort(np.argsort(target)))
    plain = RobustPairwiseRanker(contamination=1e-9).fit(data.comparisons, data.outcomes)
    tau0 = np.corrcoef(np.argsort(np.argsort(plain.scores_)), np.argsort(np.argsort(target)))
    assert tau[0, 1] > tau0[0, 1]


def test_annotator_contamination_fraction_and_scores():
    data = make_pairwise_comparisons(30, 2000, 20, 0.2, random_state=15, outcome="margin",
                                     noise=0.2)
    ranker = RobustPairwiseRanker(contamination=0.2).fit(
        data.comparisons, data.outcomes, annotators=data.annotators)
    assert len(ranker.annotator_outliers_) == 4
    np.testing.assert_array_equal(np.sort(ranker.annotator_outliers_), data.malicious)
    keep = ~ranker.outliers_
    np.testing.assert_allclose(ranker.scores_, _wls_hodgerank(
        data.comparisons[keep], data.outcomes[keep], np.ones(keep.sum()), 30), atol=1e-8)


def _bradley_terry_reference(pairs, y, w, n, ridge):
    """Penalized Bradley-Terry MLE with scipy's L-BFGS (independent of the package)."""
    from scipy.optimize import minimize

    def f(theta):
        d = theta[pairs[:, 0]] - theta[pairs[:, 1]]
        loss = np.sum(w * np.logaddexp(0.0, -y * d)) + 0.5 * ridge * theta @ theta
        g = -w * y / (1.0 + np.exp(y * d))
        grad = (np.bincount(pairs[:, 0], g, n) - np.bincount(pairs[:, 1], g, n)
                + ridge * theta)
        return loss, grad

    res = minimize(f, np.zeros(n), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000})
    return res.x - res.x.mean()


def test_logistic_link_is_the_bradley_terry_fit():
    data = make_pairwise_comparisons(25, 1500, 20, 0.0, random_state=16)
    w = np.random.default_rng(16).integers(1, 4, 1500).astype(float)
    ranker = RobustPairwiseRanker(link="logistic").fit(data.comparisons, data.outcomes,
                                                       sample_weight=w)
    assert not ranker.outliers_.any()
    wn = w / w.mean()
    ref = _bradley_terry_reference(data.comparisons, data.outcomes, wn, 25,
                                   1e-3 * wn.sum() / 25)
    np.testing.assert_allclose(ranker.scores_, ref, atol=1e-6)
    # log-odds: predict_proba is the Bradley-Terry probability
    d = ranker.decision_function(data.comparisons[:5])
    np.testing.assert_allclose(ranker.predict_proba(data.comparisons[:5])[:, 1],
                               1.0 / (1.0 + np.exp(-d)))


def test_logistic_link_finds_malicious_annotators():
    data = make_pairwise_comparisons(40, 3000, 30, 0.2, random_state=17, behavior="flip")
    ranker = RobustPairwiseRanker(link="logistic").fit(data.comparisons, data.outcomes,
                                                       annotators=data.annotators)
    np.testing.assert_array_equal(np.sort(ranker.annotator_outliers_), data.malicious)
    keep = ~ranker.outliers_
    ref = _bradley_terry_reference(data.comparisons[keep], data.outcomes[keep],
                                   np.ones(keep.sum()), 40, 1e-3 * keep.sum() / 40)
    np.testing.assert_allclose(ranker.scores_, ref, atol=1e-6)


def test_excess_upsets_counts_votes_the_model_cannot_explain():
    from sparsestat.ranking._selection import excess_upsets

    rng = np.random.default_rng(18)
    p = rng.uniform(0.02, 0.98, 20000)
    y = np.where(rng.random(20000) < p, 1.0, -1.0)
    w = np.ones(20000)
    # votes drawn from the model: no excess
    assert excess_upsets(p, y, w) <= 20
    # plus 300 votes against near-certain outcomes: all of them stand out
    p2 = np.concatenate([p, np.full(300, 0.995)])
    y2 = np.concatenate([y, -np.ones(300)])
    k = excess_upsets(p2, y2, np.ones(20300))
    assert 300 <= k <= 300 / 0.9
