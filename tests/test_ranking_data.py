"""The bundled state comparisons: provenance, the recipe, and what the ranker finds in them."""

import numpy as np
from scipy.stats import kendalltau

from sparsestat import RobustPairwiseRanker
from sparsestat.datasets import load_state_comparisons
from sparsestat.datasets._state_comparisons import _generate, _state_scores


def test_loader_shape_and_provenance():
    data = load_state_comparisons()
    assert data.comparisons.shape == (2000, 2) and data.outcomes.shape == (2000,)
    assert len(data.states) == 51 and "District of Columbia" in data.states.tolist()
    assert np.all(data.comparisons[:, 0] != data.comparisons[:, 1])
    assert set(np.unique(data.comparisons)) <= set(data.states.tolist())
    assert set(np.unique(data.outcomes).tolist()) == {-1.0, 1.0}
    # the true scores are the statsmodels graduation rates, half a log-odds per point
    from statsmodels.datasets import statecrime
    frame = statecrime.load_pandas().data
    rates = dict(zip([s.strip() for s in frame.index], frame["hs_grad"]))
    np.testing.assert_allclose(data.hs_grad, [rates[s] for s in data.states])
    np.testing.assert_allclose(np.diff(data.scores), 0.5 * np.diff(data.hs_grad))
    # the attack: two annotators vote the two lowest states the winner
    lowest = data.states[np.argsort(data.hs_grad)[:2]]
    assert set(data.promoted.tolist()) == set(lowest.tolist())
    assert set(np.unique(data.annotators[data.attack]).tolist()) == {7, 23}
    assert not np.any(np.isin(data.annotators[~data.attack], [7, 23]))
    winners = np.where(data.outcomes > 0, data.comparisons[:, 0], data.comparisons[:, 1])
    assert np.all(np.isin(winners[data.attack], data.promoted))


def test_bundled_file_is_the_documented_recipe():
    data = load_state_comparisons()
    states, hs_grad = _state_scores()
    left, right, outcome, annotator, attack = _generate(states, hs_grad)
    np.testing.assert_array_equal(data.comparisons, np.column_stack([states[left],
                                                                    states[right]]))
    np.testing.assert_array_equal(data.outcomes, outcome)
    np.testing.assert_array_equal(data.annotators, annotator)
    np.testing.assert_array_equal(data.attack, attack)


def test_honest_votes_follow_bradley_terry():
    data = load_state_comparisons()
    score = dict(zip(data.states, data.scores))
    honest = ~data.attack
    d = np.array([score[a] - score[b] for a, b in data.comparisons[honest]])
    p = 1.0 / (1.0 + np.exp(-d))
    first = data.outcomes[honest] > 0
    # observed wins of the first state against the model's expectation (3 standard errors)
    assert abs(first.sum() - p.sum()) < 3 * np.sqrt(np.sum(p * (1 - p)))
    # and by bins of the predicted probability
    for lo, hi in [(0, 0.3), (0.3, 0.7), (0.7, 1.0)]:
        b = (p >= lo) & (p < hi)
        assert abs(first[b].mean() - p[b].mean()) < 3 * np.sqrt(np.mean(p[b] * (1 - p[b])) / b.sum())


def test_ranker_finds_the_promoted_states():
    data = load_state_comparisons()
    ranker = RobustPairwiseRanker().fit(data.comparisons, data.outcomes)
    plain = RobustPairwiseRanker(manipulation=None).fit(data.comparisons, data.outcomes)
    assert sorted(ranker.manipulated_items_.tolist()) == sorted(data.promoted.tolist())
    flagged = ranker.outliers_
    assert np.mean(data.attack[flagged]) >= 0.8 and np.mean(flagged[data.attack]) >= 0.8
    idx = np.searchsorted(ranker.items_, data.states)
    tau = kendalltau(ranker.scores_[idx], data.scores)[0]
    tau0 = kendalltau(plain.scores_[idx], data.scores)[0]
    assert tau > tau0 + 0.03


def test_cli_on_the_bundled_file_names_the_promoted_states(capsys):
    from sparsestat.cli import main
    from sparsestat.datasets._state_comparisons import _CSV

    args = ["rank", str(_CSV), "--left", "left", "--right", "right", "--outcome", "outcome"]
    assert main(args) == 0
    text = capsys.readouterr().out
    line = [ln for ln in text.splitlines() if ln.startswith("items with a targeted")]
    assert line and set(line[0].split(": ")[1].split(", ")) == {"Mississippi", "Texas"}
    assert main(args + ["--manipulation", "none"]) == 0
    assert "targeted" not in capsys.readouterr().out
