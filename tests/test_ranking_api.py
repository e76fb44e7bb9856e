"""RobustPairwiseRanker: 1 / 0 votes with the logistic link, and ``to_frame``."""

import numpy as np
import pytest

from sparsestat import RobustPairwiseRanker
from sparsestat.datasets import make_pairwise_comparisons


@pytest.mark.parametrize("behavior, contamination, annotators", [
    ("flip", 0.1, False), ("promote", "auto", False), ("flip", "auto", True),
])
def test_logistic_link_fits_one_zero_votes_as_plus_minus_one(behavior, contamination,
                                                              annotators):
    data = make_pairwise_comparisons(15, 400, 10, 0.2, random_state=3, behavior=behavior,
                                     n_promoted=1)
    pm = data.outcomes.astype(float)
    assert set(np.unique(pm)) == {-1.0, 1.0}
    one_zero = (pm > 0).astype(int)                       # 1: first preferred, 0: second
    kw = {"annotators": data.annotators} if annotators else {}
    a = RobustPairwiseRanker(contamination, link="logistic").fit(data.comparisons, pm, **kw)
    b = RobustPairwiseRanker(contamination, link="logistic").fit(data.comparisons, one_zero,
                                                                 **kw)
    np.testing.assert_array_equal(a.outliers_, b.outliers_)
    np.testing.assert_array_equal(a.entry_times_, b.entry_times_)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    np.testing.assert_array_equal(a.gamma_, b.gamma_)
    np.testing.assert_array_equal(a.manipulated_items_, b.manipulated_items_)
    assert a.outliers_.any()                               # a fit with something to agree on
    assert a.score(data.comparisons, pm) == b.score(data.comparisons, one_zero)
    # the score counts the votes the scores predict (a reference written here)
    pred = np.sign(a.decision_function(data.comparisons))
    assert b.score(data.comparisons, one_zero) == pytest.approx(np.mean(pred == pm))


def test_one_zero_votes_mean_what_they_say():
    # the first item wins 21 of 24 comparisons (a > b > c > d): in either coding a ranks first
    pairs = np.array([["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"], ["b", "d"], ["a", "d"]] * 4)
    first_won = np.ones(24, dtype=int)
    first_won[[0, 7, 14]] = 0
    ranker = RobustPairwiseRanker(link="logistic", manipulation=None).fit(pairs, first_won)
    assert ranker.ranking_.tolist() == ["a", "b", "c", "d"]
    flipped = RobustPairwiseRanker(link="logistic", manipulation=None).fit(pairs, 1 - first_won)
    assert flipped.ranking_.tolist() == ["d", "c", "b", "a"]


@pytest.mark.parametrize("y", [[1, 0, -1, 1, 0, 1], [1, 2, 1, 1, 1, 1], [0.5, 1, 1, 1, 1, 1]])
def test_logistic_link_refuses_other_outcomes(y):
    pairs = np.array([[0, 1], [1, 2], [0, 2], [2, 3], [1, 3], [0, 3]])
    with pytest.raises(ValueError, match=r"needs \+1 / -1 outcomes \(or 1 / 0"):
        RobustPairwiseRanker(link="logistic").fit(pairs, np.array(y, dtype=float))


def test_linear_link_keeps_zero_as_a_tie():
    # with least squares 0 is a margin (a tie), not a vote for the second item
    pairs = np.array([["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"], ["b", "d"], ["a", "d"]])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    ranker = RobustPairwiseRanker(contamination=0.2).fit(pairs, y)
    assert ranker.scores_[0] == pytest.approx(ranker.scores_[1], abs=0.35)


def test_to_frame_is_the_ranking_as_columns():
    data = make_pairwise_comparisons(25, 600, 12, 0.1, random_state=1, outcome="margin")
    names = np.array([f"item {i:02d}" for i in range(25)])
    ranker = RobustPairwiseRanker().fit(names[data.comparisons], data.outcomes)
    frame = ranker.to_frame()
    assert list(frame.columns) == ["item", "score", "rank", "component"]
    assert frame.shape == (25, 4)
    # an independent reference: an item's rank is one plus the number of better items
    score_of = dict(zip(ranker.items_.tolist(), ranker.scores_))
    for item, score, rank in zip(frame["item"], frame["score"], frame["rank"]):
        assert score == score_of[item]
        assert rank == 1 + sum(s > score for s in score_of.values())
    assert frame["item"].tolist() == ranker.ranking_.tolist()
    df = frame.set_index("item")
    assert df.loc[ranker.ranking_[0], "rank"] == 1 and df.shape == (25, 3)


def test_to_frame_relabelled_items_follow_their_scores():
    data = make_pairwise_comparisons(12, 300, 8, 0.0, random_state=4, outcome="margin")
    a = RobustPairwiseRanker().fit(data.comparisons, data.outcomes).to_frame()
    relabel = np.random.default_rng(0).permutation(12) + 100
    b = RobustPairwiseRanker().fit(relabel[data.comparisons], data.outcomes).to_frame()
    np.testing.assert_allclose(b["score"], a["score"], atol=1e-9)
    np.testing.assert_array_equal(b["item"], relabel[a["item"]])


def test_to_frame_per_component():
    pairs = np.array([["a", "b"], ["b", "c"], ["a", "c"], ["x", "y"], ["y", "z"], ["x", "z"]])
    y = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 6.0])
    ranker = RobustPairwiseRanker(contamination=0.2, on_disconnected="per_component").fit(
        pairs, y)
    frame = ranker.to_frame()
    comp = dict(zip(frame["item"].tolist(), frame["component"].tolist()))
    assert comp["a"] == comp["b"] == comp["c"] != comp["x"] == comp["y"] == comp["z"]
    assert frame["item"][0] == "x"                    # x's margins are the largest
    with pytest.raises(Exception, match="not fitted"):
        RobustPairwiseRanker().to_frame()


def test_errors_name_items_as_plain_strings():
    pairs = np.array([["Ohio", "Iowa"], ["Illinois", "Illinois"], ["Iowa", "Utah"]])
    with pytest.raises(ValueError) as exc:
        RobustPairwiseRanker().fit(pairs, np.ones(3))
    assert "(first: item 'Illinois')" in str(exc.value) and "np.str_" not in str(exc.value)
