"""RobustPairwiseRanker: units, relabelling, row order and orientation change only what they should.

Margins scaled by ``c`` give the same flags and path order, scores times ``c``; item labels
relabelled give permuted scores and the same flags; rows permuted give permuted flags; a
comparison written the other way round (``(j, i, -y)``) changes nothing. The same for +1/-1
votes (whose outcomes carry no unit).
"""

import numpy as np
import pytest

from sparsestat import RobustPairwiseRanker
from sparsestat.datasets import make_pairwise_comparisons

SCALES = [1e-8, 1e-4, 1e4, 1e8]


@pytest.fixture(scope="module")
def margins():
    """Margins with vote-flipping annotators: a few dozen comparisons are flagged."""
    data = make_pairwise_comparisons(30, 600, 20, 0.15, random_state=0, outcome="margin",
                                     noise=0.2)
    w = np.random.default_rng(0).integers(1, 4, 600).astype(float)
    return data.comparisons, data.outcomes, w, data.annotators


@pytest.fixture(scope="module")
def votes():
    """+1/-1 votes with a promotion attack: the manipulation test flags votes."""
    data = make_pairwise_comparisons(40, 3000, 30, 0.1, random_state=1, behavior="promote",
                                     n_promoted=2)
    return data.comparisons, data.outcomes


def _fit(pairs, y, **kw):
    fit_kw = {k: kw.pop(k) for k in ("sample_weight", "annotators") if k in kw}
    return RobustPairwiseRanker(**kw).fit(pairs, y, **fit_kw)


def _assert_scaled(est, base, c):
    """``est`` is ``base`` fitted to ``c * y``."""
    np.testing.assert_array_equal(est.outliers_, base.outliers_)
    np.testing.assert_array_equal(np.isfinite(est.entry_times_), np.isfinite(base.entry_times_))
    np.testing.assert_array_equal(np.argsort(est.entry_times_, kind="stable"),
                                  np.argsort(base.entry_times_, kind="stable"))
    finite = np.isfinite(base.entry_times_)
    np.testing.assert_allclose(est.entry_times_[finite] * c, base.entry_times_[finite],
                               rtol=1e-7)
    scale = np.abs(base.scores_).max()
    np.testing.assert_allclose(est.scores_ / c, base.scores_, rtol=1e-7, atol=1e-9 * scale)
    np.testing.assert_allclose(est.gamma_ / c, base.gamma_, rtol=1e-7, atol=1e-9 * scale)
    np.testing.assert_allclose(est.proba_scale_ * c, base.proba_scale_, rtol=1e-7)
    np.testing.assert_array_equal(est.ranking_, base.ranking_)


@pytest.mark.parametrize("solver", ["factorize", "cg"])
def test_margins_scaled_by_c_give_the_same_flags_and_scores_times_c(margins, solver):
    pairs, y, w, _ = margins
    base = _fit(pairs, y, solver=solver, sample_weight=w)
    assert 10 <= base.outliers_.sum() <= 200
    for c in SCALES:
        _assert_scaled(_fit(pairs, c * y, solver=solver, sample_weight=w), base, c)


def test_annotator_flags_do_not_depend_on_units(margins):
    pairs, y, _, ann = margins
    base = _fit(pairs, y, annotators=ann)
    assert 1 <= len(base.annotator_outliers_) < 20
    for c in SCALES:
        est = _fit(pairs, c * y, annotators=ann)
        np.testing.assert_array_equal(est.annotator_outliers_, base.annotator_outliers_)
        _assert_scaled(est, base, c)


def test_float_contamination_flags_do_not_depend_on_units(margins):
    pairs, y, _, _ = margins
    base = _fit(pairs, y, contamination=0.1)
    for c in SCALES:
        _assert_scaled(_fit(pairs, c * y, contamination=0.1), base, c)


def _relabelled(pairs, kind, rng):
    """New labels for the items ``0..n-1`` (a permutation of ints, or strings) and the map."""
    n = int(pairs.max()) + 1
    perm = rng.permutation(n)
    names = perm if kind == "int" else np.array([f"item-{p:03d}" for p in perm])
    return names[pairs], names


def _scores_by_old_label(est, names):
    return est.scores_[np.searchsorted(est.items_, names)]


@pytest.mark.parametrize("kind", ["int", "str"])
def test_relabelling_items_permutes_scores_and_keeps_flags(margins, kind):
    pairs, y, w, _ = margins
    base = _fit(pairs, y, sample_weight=w)
    new_pairs, names = _relabelled(pairs, kind, np.random.default_rng(2))
    est = _fit(new_pairs, y, sample_weight=w)
    np.testing.assert_array_equal(est.outliers_, base.outliers_)
    np.testing.assert_allclose(_scores_by_old_label(est, names), base.scores_, atol=1e-9)
    np.testing.assert_allclose(est.entry_times_, base.entry_times_, rtol=1e-9)
    np.testing.assert_array_equal(est.ranking_, names[base.ranking_])


def _reordered(pairs, y, rng):
    """Rows permuted, half of them written the other way round with the margin negated."""
    order = rng.permutation(len(y))
    swap = rng.random(len(y)) < 0.5
    p2, y2 = pairs[order].copy(), y[order].copy()
    p2[swap] = p2[swap][:, ::-1]
    y2[swap] *= -1.0
    return p2, y2, order


def test_row_order_and_orientation(margins):
    pairs, y, w, _ = margins
    base = _fit(pairs, y, sample_weight=w)
    p2, y2, order = _reordered(pairs, y, np.random.default_rng(3))
    est = _fit(p2, y2, sample_weight=w[order])
    np.testing.assert_array_equal(est.outliers_, base.outliers_[order])
    np.testing.assert_allclose(est.scores_, base.scores_, atol=1e-9)
    np.testing.assert_allclose(est.entry_times_, base.entry_times_[order], rtol=1e-9)
    # gamma is the outlier term of the comparison as written: it changes sign with it
    flip = np.sign(y2 * y[order])
    np.testing.assert_allclose(est.gamma_ * flip, base.gamma_[order], atol=1e-9)


@pytest.mark.parametrize("link", ["linear", "logistic"])
def test_votes_unchanged_by_relabelling_rows_and_orientation(votes, link):
    pairs, y = votes
    base = _fit(pairs, y, link=link)
    assert base.manipulated_items_.size and base.outliers_.sum() > 20
    rng = np.random.default_rng(4)
    new_pairs, names = _relabelled(pairs, "str", rng)
    p2, y2, order = _reordered(new_pairs, y, rng)
    est = _fit(p2, y2, link=link)
    np.testing.assert_array_equal(est.outliers_, base.outliers_[order])
    assert set(est.manipulated_items_) == set(names[base.manipulated_items_])
    np.testing.assert_allclose(_scores_by_old_label(est, names), base.scores_, atol=1e-8)
    np.testing.assert_allclose(est.proba_scale_, base.proba_scale_, rtol=1e-8)
