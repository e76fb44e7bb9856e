"""NoisyLabelDetector: planted label flips, a calibrated noise rate, the split into pieces,
theory of the path start, invariances and degenerate input."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from sparsestat.datasets import make_noisy_labels
from sparsestat.robust import NoisyLabelDetector
from sparsestat.robust._label_neighbours import Pool, anchor_noise_rate, neighbour_votes
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
    assert precision > 0.8
    assert recall > 0.85
    assert abs(det.noise_rate_ - rate) < 0.05
    # 'auto' flags as many samples as the estimated rate says
    assert abs(det.outliers_.sum() - round(det.noise_rate_ * len(y))) <= 1
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
    assert det.outliers_.mean() <= 0.02
    assert det.noise_rate_ <= 0.02


def _oof_disagreements(X, y):
    """Samples whose label differs from an out-of-fold LogisticRegression's prediction."""
    pred = cross_val_predict(LogisticRegression(max_iter=2000), X, y, cv=5)
    return int(np.sum(pred != y))


@pytest.mark.parametrize("kw", [
    dict(n_samples=1000, n_features=20, n_informative=10, n_classes=5, class_sep=1.0),
    dict(n_samples=600, n_features=12, n_informative=6, n_redundant=0, n_classes=4,
         n_clusters_per_class=1, class_sep=0.5),
    dict(n_samples=400, n_features=30, n_informative=8, n_classes=3, class_sep=1.0),
])
def test_overlapping_clean_classes_are_not_noise(kw):
    """Clean labels of overlapping classes: a linear model disagrees with many of them,
    the calibrated rate stays at most 0.02."""
    X, y = make_classification(random_state=7, flip_y=0.0, **kw)
    det = NoisyLabelDetector(random_state=0).fit(X, y)
    disagree = _oof_disagreements(X, y)
    assert disagree > 0.1 * len(y)          # the classes do overlap
    assert det.noise_rate_ <= 0.02
    assert det.outliers_.sum() <= min(0.02 * len(y), disagree)


def test_clean_digits_flag_no_more_than_cleanlab():
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        det = NoisyLabelDetector(random_state=0).fit(X, y)
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    proba = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                              X, y, cv=5, method="predict_proba")
    issues = cleanlab_filter.find_label_issues(y, proba)
    assert det.noise_rate_ <= 0.02
    assert det.outliers_.sum() <= issues.sum()


@pytest.mark.parametrize("m", [0, 15, 60])
def test_anchor_rate_counts_flips_of_separated_classes(m):
    """Separated classes: every flip shows at the purest neighbourhoods, the estimate is
    the flipped fraction m / n (up to the sampling error of the purest half)."""
    X, y = make_blobs(600, n_features=5, centers=4, cluster_std=0.5, random_state=3)
    y = y.copy()
    rng = np.random.default_rng(0)
    flip = rng.choice(600, m, replace=False)
    y[flip] = (y[flip] + rng.integers(1, 4, m)) % 4
    Xn = normalize_rows(X)
    rate = anchor_noise_rate(neighbour_votes(Xn, y, Pool.of(Xn, y, 4), 15), y, 4)
    se = np.sqrt(max(m / 600, 0.01) * (1 - m / 600) / 300)
    assert abs(rate - m / 600) < 3 * se


def _brute_votes(Zq, codes_q, Zp, codes_p, k, labels_of=None, n_labels=3):
    """Votes by sorting all distances; one identical pool row of the query's label left out
    (the query itself when it is in the pool); ``labels_of(i)``: the labels searched."""
    out = []
    for i in range(Zq.shape[0]):
        d = np.sum((Zp - Zq[i]) ** 2, axis=1)
        same = np.flatnonzero((codes_p == codes_q[i]) & (d <= 1e-12))
        if same.size:
            d[same[0]] = np.inf
        if labels_of is not None:
            d[~np.isin(codes_p, labels_of(i))] = np.inf
        kth = np.sort(d)[k - 1]
        near = d <= kth + 1e-9
        frac = np.bincount(codes_p[near], minlength=n_labels) / near.sum()
        top = np.flatnonzero(frac >= frac.max() - 1e-12)
        out.append((frac[codes_q[i]], frac.max(), top[0], top.size > 1, np.sqrt(kth)))
    return [np.array(v) for v in zip(*out)]


def _assert_votes(votes, expected):
    for got, want in zip(votes, expected):
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                   atol=1e-7)


def test_neighbour_votes_match_brute_force():
    """Label fractions among the k nearest pool rows (ties at the k-th distance included,
    the query itself left out), against a reference that sorts all distances: the whole
    data as pool, a subsample, and duplicated rows."""
    rng = np.random.default_rng(1)
    Xn = normalize_rows(rng.integers(0, 3, size=(80, 3)).astype(float))   # many ties
    codes = rng.integers(0, 3, 80)
    for ref in (np.arange(80), np.arange(0, 80, 2)):
        pool = Pool.of(Xn[ref], codes[ref], 3)
        votes = neighbour_votes(Xn, codes, pool, 5, block=17)
        _assert_votes(votes, _brute_votes(Xn, codes, Xn[ref], codes[ref], 5))


def test_neighbour_votes_over_candidate_labels():
    """Searching the pool rows of a few candidate labels per query (own label first) is
    the full search restricted to those labels, ties and all, in blocks or in one."""
    rng = np.random.default_rng(2)
    n, K = 300, 12
    Xn = normalize_rows(rng.integers(0, 3, size=(n, 4)).astype(float) + 0.01 * np.eye(4)[
        rng.integers(0, 4, n)])
    codes = rng.integers(0, K, n)
    others = np.array([rng.permutation(np.setdiff1d(np.arange(K), [c]))[:3] for c in codes])
    cands = np.column_stack([codes, others])
    pool = Pool.of(Xn, codes, K)
    expected = _brute_votes(Xn, codes, Xn, codes, 7, labels_of=lambda i: cands[i], n_labels=K)
    for block in (1024, 5):
        _assert_votes(neighbour_votes(Xn, codes, pool, 7, candidates=cands, block=block),
                      expected)


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


@pytest.fixture(scope="module")
def noisy_fit(features):
    X, y = features
    y_noisy, _ = make_noisy_labels(y, 0.15, random_state=6)
    return X, y_noisy, NoisyLabelDetector(random_state=0).fit(X, y_noisy)


def test_relabelling_classes_changes_nothing_else(noisy_fit):
    """Permuting class names, or naming them by strings, maps the suggested labels and
    leaves every flag, entry time and the noise rate as they were."""
    X, y_noisy, det = noisy_fit
    names = np.array(["k3", "k10", "k0", "k4", "k2"])     # string order differs from int order
    relabelled = NoisyLabelDetector(random_state=0).fit(X, names[y_noisy])
    np.testing.assert_array_equal(relabelled.outliers_, det.outliers_)
    np.testing.assert_allclose(relabelled.entry_times_, det.entry_times_, rtol=1e-9)
    assert relabelled.noise_rate_ == pytest.approx(det.noise_rate_, abs=1e-12)
    np.testing.assert_array_equal(relabelled.suggested_labels_, names[det.suggested_labels_])
    np.testing.assert_array_equal(relabelled.pieces_, det.pieces_)


def test_row_permutation_permutes_flags(noisy_fit):
    X, y_noisy, det = noisy_fit
    perm = np.random.default_rng(2).permutation(len(y_noisy))
    b = NoisyLabelDetector(random_state=0).fit(X[perm], y_noisy[perm])
    np.testing.assert_array_equal(b.outliers_, det.outliers_[perm])
    np.testing.assert_array_equal(b.suggested_labels_, det.suggested_labels_[perm])
    assert b.noise_rate_ == pytest.approx(det.noise_rate_, abs=1e-12)


@pytest.mark.parametrize("c", [1e-8, 1e8])
def test_scaling_features_changes_nothing(noisy_fit, c):
    X, y_noisy, det = noisy_fit
    b = NoisyLabelDetector(random_state=0).fit(c * X, y_noisy)
    np.testing.assert_array_equal(b.outliers_, det.outliers_)
    np.testing.assert_allclose(b.entry_times_, det.entry_times_, rtol=1e-6)
    assert b.noise_rate_ == pytest.approx(det.noise_rate_, abs=1e-12)


def test_random_state_reproducible(noisy_fit):
    X, y_noisy, det = noisy_fit
    again = NoisyLabelDetector(random_state=0).fit(X, y_noisy)
    np.testing.assert_array_equal(again.outliers_, det.outliers_)
    np.testing.assert_array_equal(again.entry_times_, det.entry_times_)
    assert again.noise_rate_ == det.noise_rate_
    # another seed splits the pieces differently but estimates the same rate
    other = NoisyLabelDetector(random_state=1).fit(X, y_noisy)
    assert not np.array_equal(other.pieces_, det.pieces_)
    assert other.noise_rate_ == det.noise_rate_


def test_subsampled_rate_estimate():
    """Above ``max_anchor_samples`` the rate is read on a subsample chosen by the features:
    close to the full estimate and invariant to the row order."""
    X, y = make_blobs(3000, n_features=6, centers=5, cluster_std=1.0, random_state=4)
    y_noisy, truth = make_noisy_labels(y, 0.2, random_state=0)
    full = NoisyLabelDetector(max_anchor_samples=3000, random_state=0).fit(X, y_noisy)
    sub = NoisyLabelDetector(max_anchor_samples=1000, random_state=0).fit(X, y_noisy)
    perm = np.random.default_rng(0).permutation(3000)
    sub_perm = NoisyLabelDetector(max_anchor_samples=1000, random_state=0).fit(
        X[perm], y_noisy[perm])
    assert abs(full.noise_rate_ - 0.2) < 0.04
    assert abs(sub.noise_rate_ - 0.2) < 0.06
    assert sub_perm.noise_rate_ == pytest.approx(sub.noise_rate_, abs=1e-12)


def test_degenerate_features_refused_or_warned():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    with pytest.raises(ValueError, match="Every feature of X is constant"):
        NoisyLabelDetector().fit(np.ones((120, 4)), y)
    with pytest.raises(ValueError, match=r"Only 1 feature\(s\) of X vary"):
        NoisyLabelDetector().fit(np.column_stack([rng.normal(size=120), np.ones(120)]), y)
    two = np.repeat(rng.normal(size=(2, 4)), 60, axis=0)
    with pytest.raises(ValueError, match="2 distinct feature vectors .* for 3 classes"):
        NoisyLabelDetector().fit(two, y)
    # rows that are multiples of each other are one direction after normalization
    scaled = np.outer(np.repeat([1.0, 2.0, 3.0], 40), [1.0, -2.0])
    with pytest.raises(ValueError, match="1 distinct feature vectors"):
        NoisyLabelDetector().fit(scaled, y)
    X = rng.normal(size=(120, 4)) + 3.0 * np.eye(4)[y]
    with pytest.warns(UserWarning, match="duplicate another row"):
        NoisyLabelDetector(random_state=0).fit(np.vstack([X, X[:10]]), np.r_[y, y[:10]])
    # five classes on a plane: too few directions to separate them linearly
    y5 = np.repeat(np.arange(5), 30)
    angle = 2 * np.pi * y5 / 5 + 0.1 * rng.normal(size=150)
    plane = np.zeros((150, 6))
    plane[:, 0], plane[:, 1] = np.cos(angle), np.sin(angle)
    with pytest.warns(UserWarning, match="span 2 dimension"):
        NoisyLabelDetector(random_state=0).fit(plane, y5)


def test_constant_offset_column_is_ignored():
    """A constant nonzero feature is warned about and then makes no difference."""
    X, y = make_blobs(300, n_features=5, centers=3, random_state=5)
    y_noisy, _ = make_noisy_labels(y, 0.1, random_state=0)
    base = NoisyLabelDetector(random_state=0).fit(X, y_noisy)
    with pytest.warns(UserWarning, match="constant and nonzero"):
        padded = NoisyLabelDetector(random_state=0).fit(
            np.column_stack([X, np.full(300, 7.0)]), y_noisy)
    np.testing.assert_array_equal(padded.outliers_, base.outliers_)
    assert padded.noise_rate_ == base.noise_rate_


def test_validation_fast_subset():
    """The validation study's promise on a few replicates: at most 0.02 read on clean
    labels, the injected rate within 0.05, F1 above 0.85 on the digits (and at least
    cleanlab's where cleanlab is installed)."""
    from validation.validate_noisy_labels import has_cleanlab, replicate

    peer = has_cleanlab()
    for r in range(2):
        clean = replicate("gen n=500 K=3 p=10 sep=1", "symmetric", 0.0, r, peer=False)
        assert clean["rate"] <= 0.02
        for noise, rate in [("symmetric", 0.2), ("pair", 0.3)]:
            out = replicate("digits", noise, rate, r, peer=peer)
            assert abs(out["rate"] - rate) < 0.05
            assert out["ours"][2] > 0.85
            if peer:
                assert out["ours"][2] >= out["cleanlab"][2]


def test_count_distinct_rows_matches_unique():
    from sparsestat.robust._noisy_labels import count_distinct_rows

    rng = np.random.default_rng(3)
    Z = rng.integers(0, 2, size=(300, 6)).astype(float)     # at most 64 distinct rows
    Z = np.vstack([Z, -0.0 * Z[:5], rng.normal(size=(50, 6))])
    perm = rng.permutation(Z.shape[0])
    expected = np.unique(Z + 0.0, axis=0).shape[0]
    assert count_distinct_rows(Z) == expected
    assert count_distinct_rows(Z[perm]) == expected
