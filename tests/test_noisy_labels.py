"""NoisyLabelDetector: planted label flips, the split into pieces, theory of the path start."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from sparsestat.datasets import make_noisy_labels
from sparsestat.robust import NoisyLabelDetector
from sparsestat.robust._noisy_labels import (
    class_groups,
    normalize_rows,
    reduce_features,
    shift_entry_times,
)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # many tiny dense fits: BLAS threads only contend on a shared machine
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def features():
    X, y = make_classification(1000, 20, n_informative=10, n_redundant=0, n_classes=5,
                               n_clusters_per_class=1, class_sep=2.0, random_state=0)
    return X, y


def _precision_recall(flagged, truth):
    tp = np.sum(flagged & truth)
    return tp / max(flagged.sum(), 1), tp / max(truth.sum(), 1)


@pytest.mark.parametrize("noise, rate", [("symmetric", 0.2), ("symmetric", 0.4),
                                         ("pair", 0.2)])
def test_planted_flips_found(features, noise, rate):
    X, y = features
    y_noisy, truth = make_noisy_labels(y, rate, noise=noise, random_state=1)
    det = NoisyLabelDetector(random_state=0).fit(X, y_noisy)
    precision, recall = _precision_recall(det.outliers_, truth)
    # chance precision is the noise rate itself
    assert precision > 0.85
    assert recall > 0.85
    assert abs(det.noise_rate_ - rate) < 0.05
    # the suggested label of a flagged noisy sample is mostly its true label
    hit = det.outliers_ & truth
    assert np.mean(det.suggested_labels_[hit] == y[hit]) > 0.9
    # entry times rank the wrong labels first: AUC well above 1/2
    e = det.entry_times_
    auc = np.mean(e[truth][:, None] < e[~truth][None, :])
    assert auc > 0.85


def test_no_flips_few_flagged(features):
    X, y = features
    det = NoisyLabelDetector(random_state=0).fit(X, y)
    assert det.outliers_.mean() < 0.03
    assert det.noise_rate_ < 0.03


def test_contamination_flags_earliest_entries(features):
    X, y = features
    y_noisy, _ = make_noisy_labels(y, 0.1, random_state=2)
    det = NoisyLabelDetector(contamination=0.15, random_state=0).fit(X, y_noisy)
    k = int(np.ceil(0.15 * len(y)))
    assert det.outliers_.sum() == k
    flagged_times = det.entry_times_[det.outliers_]
    assert flagged_times.max() <= det.entry_times_[~det.outliers_].min()


def test_first_entry_is_largest_studentized_residual():
    """At the start of the path the first shift to enter is the sample with the largest
    leverage-studentized residual norm ``||((I - H) Y)_i|| / sqrt(1 - h_ii)`` (H the hat
    matrix of ``[1, Z]``), computed here by plain least squares."""
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((60, 4))
    codes = np.argmax(Z[:, :3] + 0.8 * rng.standard_normal((60, 3)), axis=1)
    entry = shift_entry_times(Z, codes, 3)
    A = np.column_stack([np.ones(60), Z])
    Y = np.eye(3)[codes]
    R = Y - A @ np.linalg.lstsq(A, Y, rcond=None)[0]
    h = np.einsum("ij,ji->i", A, np.linalg.pinv(A))
    stat = np.linalg.norm(R, axis=1) / np.sqrt(1 - h)
    assert np.argmin(entry) == np.argmax(stat)
    # the entry time of the first one is n / ||...|| divided by n: 1 / max stat
    assert entry.min() == pytest.approx(1.0 / stat.max(), rel=1e-6)


def test_sample_order_invariance(features):
    X, y = features
    y_noisy, _ = make_noisy_labels(y, 0.2, random_state=4)
    perm = np.random.default_rng(0).permutation(len(y))
    a = NoisyLabelDetector(random_state=0).fit(X, y_noisy)
    b = NoisyLabelDetector(random_state=0).fit(X[perm], y_noisy[perm])
    np.testing.assert_array_equal(a.outliers_[perm], b.outliers_)
    np.testing.assert_allclose(a.entry_times_[perm], b.entry_times_, rtol=1e-8)


def test_pieces_and_parallel_jobs(features):
    X, y = features
    y_noisy, _ = make_noisy_labels(y, 0.2, random_state=5)
    det = NoisyLabelDetector(samples_per_class=20, random_state=0).fit(X, y_noisy)
    # 200 samples per class -> 10 pieces, each with 20 samples of every class
    assert det.n_pieces_ == 10
    for p in range(det.n_pieces_):
        counts = np.bincount(y_noisy[det.pieces_ == p], minlength=5)
        assert counts.min() >= 15 and counts.max() <= 25
    par = NoisyLabelDetector(samples_per_class=20, n_jobs=2, random_state=0).fit(X, y_noisy)
    np.testing.assert_array_equal(det.outliers_, par.outliers_)
    np.testing.assert_allclose(det.entry_times_, par.entry_times_)


def test_groups_separate_similar_classes():
    # classes 0/1 and 2/3 have nearly the same prototype: a group of two must split them
    base = np.array([[1.0, 0, 0, 0], [0.98, 0.2, 0, 0], [0, 0, 1.0, 0], [0, 0, 0.98, 0.2]])
    protos = normalize_rows(base)
    groups = class_groups(protos, 2)
    assert len(groups) == 2
    for g in groups:
        assert not ({0, 1} <= set(g.tolist()) or {2, 3} <= set(g.tolist()))


def test_reduce_features_keeps_leading_components():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((50, 6)) * np.array([5, 4, 3, 0.1, 0.1, 0.1])
    out = reduce_features(Z, 3)
    assert out.shape == (50, 3)
    # the kept components carry the variance of the three large directions
    assert out.var(axis=0).sum() > 0.99 * (Z - Z.mean(0)).var(axis=0)[:3].sum()


def test_bad_input(features):
    X, y = features
    y1 = y.copy()
    y1[0] = 7                      # class 7 has a single sample
    with pytest.raises(ValueError, match="single sample"):
        NoisyLabelDetector().fit(X, y1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        NoisyLabelDetector().fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NoisyLabelDetector().fit(Xn, y)
    with pytest.raises(ValueError, match="one class"):
        NoisyLabelDetector().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="Unknown label type"):
        NoisyLabelDetector().fit(X, np.linspace(0, 1, len(y)))


def test_make_noisy_labels_rates():
    y = np.repeat(np.arange(4), 50)
    y_noisy, noisy = make_noisy_labels(y, 0.3, random_state=0)
    assert noisy.sum() == 60
    assert np.all(np.bincount(y[noisy]) == 15)
    y_pair, noisy = make_noisy_labels(y, 0.2, noise="pair", pairs={0: 3, 1: 2},
                                      random_state=0)
    assert set(y_pair[noisy & (y == 0)]) == {3} and set(y_pair[noisy & (y == 1)]) == {2}
    assert not noisy[(y == 2) | (y == 3)].any()
    with pytest.raises(ValueError, match="noise_rate"):
        make_noisy_labels(y, 1.5)
