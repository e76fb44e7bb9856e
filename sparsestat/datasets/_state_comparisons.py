"""Pairwise comparisons of the US states by high-school graduation rate (bundled CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

_CSV = Path(__file__).parent / "data" / "state_comparisons.csv"

# recipe of the bundled file (``_generate`` with these values wrote it)
_SEED = 2009
_N_COMPARISONS = 2000
_N_ANNOTATORS = 40
_ATTACKERS = (7, 23)          # annotator ids of the two attackers
_N_PROMOTED = 2               # the states with the lowest graduation rates
_LOGODDS_PER_POINT = 0.5      # Bradley-Terry score per percentage point of graduation


def _state_scores():
    """State names (statsmodels order) and their 2009 high-school graduation rate (%)."""
    from statsmodels.datasets import statecrime

    frame = statecrime.load_pandas().data
    names = np.char.strip(np.asarray(frame.index, dtype=str))  # a few carry a trailing blank
    return names, frame["hs_grad"].to_numpy(dtype=float)


def _generate(states, hs_grad, random_state=_SEED):
    """The comparisons of the bundled file, from the graduation rates (see the loader)."""
    rng = check_random_state(random_state)
    n, m = states.shape[0], _N_COMPARISONS
    score = _LOGODDS_PER_POINT * (hs_grad - hs_grad.mean())
    left = rng.randint(0, n, size=m)
    right = (left + rng.randint(1, n, size=m)) % n
    annotator = rng.randint(0, _N_ANNOTATORS, size=m)
    honest = np.where(rng.rand(m) < 1.0 / (1.0 + np.exp(-(score[left] - score[right]))), 1, -1)
    attack = np.isin(annotator, _ATTACKERS)
    promoted = np.argsort(hs_grad, kind="stable")[:_N_PROMOTED]
    na = int(attack.sum())
    target = promoted[rng.randint(0, _N_PROMOTED, size=na)]
    other = rng.randint(0, n - 1, size=na)
    other = other + (other >= target)
    first = rng.rand(na) < 0.5
    left[attack] = np.where(first, target, other)
    right[attack] = np.where(first, other, target)
    outcome = honest.copy()
    outcome[attack] = np.where(first, 1, -1)
    return left, right, outcome, annotator, attack


def load_state_comparisons() -> Bunch:
    """Crowd comparisons of the 50 US states and DC by high-school graduation rate.

    Derived data, bundled as ``sparsestat/datasets/data/state_comparisons.csv``
    (2000 rows: ``left, right, outcome, annotator, attack``). The items and their
    true scores are real: the percentage of the population with a high-school
    diploma in 2009 (``hs_grad`` of the ``statecrime`` data set shipped with
    statsmodels, from the American Statistical Abstracts; public domain). No
    real pairwise data with a clear licence ships with the package's
    dependencies, so the comparisons are simulated from those scores -- "which
    state has the higher graduation rate?" -- with a documented recipe (seed
    2009):

    - 2000 comparisons, each of two distinct states drawn uniformly and
      answered by one of 40 annotators drawn uniformly;
    - honest annotators answer by the Bradley--Terry model with score
      ``0.5 * (hs_grad - mean)`` (half a log-odds per percentage point: a
      state 2 points ahead wins 73% of its comparisons);
    - two annotators (ids 7 and 23, 5% of the crowd) are attackers: each of
      their comparisons pits one of the two states with the lowest graduation
      rates against another state, and they vote it the winner (about 45% of
      those states' comparisons).

    The data and this description are released with the package (BSD-3-Clause);
    the underlying rates are public domain.

    Returns
    -------
    data : Bunch
        ``comparisons`` (2000, 2) state names, ``outcomes`` (2000,) ``+1`` when the
        first state is judged higher, ``-1`` otherwise, ``annotators`` (2000,) int,
        ``attack`` (2000,) bool, true for the attack votes, ``promoted`` the two
        promoted states, ``states`` the 51 states, ``scores`` (51,) their true
        Bradley--Terry scores and ``hs_grad`` (51,) the graduation rates (in the
        order of ``states``, which is sorted), ``DESCR``.

    Examples
    --------
    >>> from sparsestat.datasets import load_state_comparisons
    >>> data = load_state_comparisons()
    >>> data.comparisons.shape, len(data.states)
    ((2000, 2), 51)
    >>> sorted(data.promoted.tolist())
    ['Mississippi', 'Texas']
    """
    states, hs_grad = _state_scores()
    raw = np.genfromtxt(_CSV, delimiter=",", names=True, dtype=None, encoding="utf-8")
    comparisons = np.column_stack([raw["left"], raw["right"]]).astype(str)
    order = np.argsort(states)
    items, rates = states[order], hs_grad[order]
    attack = raw["attack"].astype(bool)
    winners = np.where(raw["outcome"] > 0, comparisons[:, 0], comparisons[:, 1])
    return Bunch(
        comparisons=comparisons, outcomes=raw["outcome"].astype(float),
        annotators=raw["annotator"].astype(np.int64), attack=attack,
        promoted=np.unique(winners[attack]), states=items,
        scores=_LOGODDS_PER_POINT * (rates - rates.mean()), hs_grad=rates,
        DESCR="Simulated crowd comparisons of the US states by their 2009 high-school "
              "graduation rate (statsmodels statecrime, public domain), with two attackers "
              "promoting the two lowest states. See load_state_comparisons.__doc__.",
    )


def _write_csv(path=_CSV):  # pragma: no cover - how the bundled file was made
    states, hs_grad = _state_scores()
    left, right, outcome, annotator, attack = _generate(states, hs_grad)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("left,right,outcome,annotator,attack\n")
        for row in zip(states[left], states[right], outcome, annotator, attack.astype(int)):
            fh.write(",".join(map(str, row)) + "\n")
