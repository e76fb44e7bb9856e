"""ICIFewShot: gains over the support-only classifier, credibility order, bad input."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sparsestat.semi_supervised import ICIFewShot


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # many tiny dense fits: BLAS threads only contend on a shared machine
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _episode(seed, shot, n_query=15, n_way=5):
    """A few-shot episode: ``shot`` labeled and ``n_query`` unlabeled samples per class."""
    X, y = make_classification(n_way * (shot + n_query), 32, n_informative=12, n_redundant=0,
                               n_classes=n_way, n_clusters_per_class=1, class_sep=1.5,
                               weights=None, flip_y=0.0, random_state=seed)
    rng = np.random.default_rng(seed)
    support = np.concatenate([rng.choice(np.flatnonzero(y == k), shot, replace=False)
                              for k in range(n_way)])
    y_train = np.full(y.size, -1)
    y_train[support] = y[support]
    return X, y, y_train


@pytest.mark.parametrize("shot", [1, 5])
def test_ici_beats_support_only_classifier(shot):
    gains = []
    for seed in range(12):
        X, y, y_train = _episode(seed, shot)
        query = y_train == -1
        base = LogisticRegression(C=10, max_iter=1000).fit(X[~query], y[~query])
        acc_base = np.mean(base.predict(X[query]) == y[query])
        ici = ICIFewShot().fit(X, y_train)
        acc_ici = np.mean(ici.transduction_[query] == y[query])
        gains.append(acc_ici - acc_base)
    gains = np.array(gains)
    # paired comparison over episodes: a clear mean gain, more wins than losses
    assert gains.mean() > 0.02
    assert np.sum(gains > 0) > np.sum(gains < 0)
    # paired t statistic
    assert gains.mean() / (gains.std(ddof=1) / np.sqrt(gains.size)) > 2.0


@pytest.mark.parametrize("shot", [1, 5])
def test_spreading_prior_improves_pseudo_labels(shot):
    """The label-spreading prior (default) beats the classifier's probabilities alone."""
    gains = []
    for seed in range(12):
        X, y, y_train = _episode(seed, shot)
        query = y_train == -1
        with_prior = ICIFewShot().fit(X, y_train).transduction_[query]
        alone = ICIFewShot(propagation=None).fit(X, y_train).transduction_[query]
        gains.append(np.mean(with_prior == y[query]) - np.mean(alone == y[query]))
    gains = np.array(gains)
    assert gains.mean() > 0.01
    assert gains.mean() / (gains.std(ddof=1) / np.sqrt(gains.size)) > 2.0


def test_label_spreading_matches_dense_solution():
    """Sparse spreading on the full neighbour graph equals the dense closed form."""
    from sparsestat.semi_supervised._graph import propagate_labels, rbf_graph

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    codes = np.full(40, -1)
    codes[:6] = [0, 1, 2, 0, 1, 2]
    gamma, alpha = 0.7, 0.6
    # reference: dense rbf over all pairs, S = D^-1/2 W D^-1/2, F = (I - alpha S)^-1 Y
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    W = np.exp(-gamma * d2)
    np.fill_diagonal(W, 0.0)
    dinv = 1.0 / np.sqrt(W.sum(axis=1))
    S = dinv[:, None] * W * dinv[None, :]
    Y = np.zeros((40, 3))
    Y[np.arange(6), codes[:6]] = 1.0
    F = np.linalg.solve(np.eye(40) - alpha * S, Y)
    F /= F.sum(axis=1, keepdims=True)
    got = propagate_labels(rbf_graph(X, gamma=gamma, n_neighbors=39), codes, 3, alpha)
    np.testing.assert_allclose(got, F, rtol=1e-9, atol=1e-12)


def test_credible_pseudo_labels_are_selected_first():
    """Accepted pseudo-labels early in the order are more often right than late ones."""
    early, late = [], []
    for seed in range(6):
        X, y, y_train = _episode(seed, 1, n_query=30)
        ici = ICIFewShot(step=3).fit(X, y_train)
        order = ici.selection_order_
        # the label an instance received when accepted is its label in the final fit
        right = ici.estimator_.classes_[ici.estimator_.predict(X[order])] == y[order]
        half = order.size // 2
        early.append(right[:half].mean())
        late.append(right[half:].mean())
    assert np.mean(early) > np.mean(late)


def test_attributes_and_predict():
    X, y, y_train = _episode(0, 5)
    ici = ICIFewShot(step=4).fit(X, y_train)
    unl = np.flatnonzero(y_train == -1)
    # every unlabeled sample accepted exactly once, credibility decreasing along the order
    assert sorted(ici.selection_order_.tolist()) == unl.tolist()
    assert np.all(np.diff(ici.credibility_[ici.selection_order_]) < 0)
    assert np.all(ici.credibility_[y_train != -1] == 1.0)
    assert ici.labeled_mask_.all()
    np.testing.assert_array_equal(ici.transduction_[y_train != -1], y_train[y_train != -1])
    proba = ici.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(ici.classes_[proba.argmax(axis=1)], ici.predict(X))
    # at most `step` accepted per class and round: 75 unlabeled need >= 4 rounds
    assert ici.n_iter_ - 1 >= int(np.ceil(75 / (5 * 4)))


def test_sample_order_invariance():
    X, y, y_train = _episode(3, 1)
    perm = np.random.default_rng(0).permutation(y.size)
    a = ICIFewShot().fit(X, y_train)
    b = ICIFewShot().fit(X[perm], y_train[perm])
    np.testing.assert_array_equal(a.transduction_[perm], b.transduction_)
    np.testing.assert_array_equal(perm[b.selection_order_], a.selection_order_)


def test_auto_stop_accepts_a_subset():
    X, y, y_train = _episode(1, 1)
    full = ICIFewShot().fit(X, y_train)
    auto = ICIFewShot(stop="auto").fit(X, y_train)
    assert auto.selection_order_.size <= full.selection_order_.size
    np.testing.assert_array_equal(auto.labeled_mask_.sum(), 5 + auto.selection_order_.size)


def test_max_iter_bounds_rounds():
    X, y, y_train = _episode(2, 1)
    ici = ICIFewShot(max_iter=1, step=2).fit(X, y_train)
    assert ici.n_iter_ == 2
    assert ici.selection_order_.size <= 10


def test_bad_input_and_documented_behaviour():
    X, y, y_train = _episode(0, 1)
    with pytest.raises(ValueError, match="All samples are unlabeled"):
        ICIFewShot().fit(X, np.full(y.size, -1))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ICIFewShot().fit(X, y_train[:-1])
    with pytest.raises(ValueError, match="one class"):
        yy = np.full(y.size, -1)
        yy[:3] = 0
        ICIFewShot().fit(X, yy)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        ICIFewShot(alpha=1.0).fit(X, y_train)
    with pytest.raises(ValueError, match="'gamma' parameter"):
        ICIFewShot(gamma=0.0).fit(X, y_train)
    # one labeled sample per class (1-shot) is the normal case, not an error
    assert ICIFewShot().fit(X, y_train).classes_.size == 5
    # fewer unlabeled samples than step: they are all taken in the first round
    keep = np.concatenate([np.flatnonzero(y_train != -1), np.flatnonzero(y_train == -1)[:3]])
    ici = ICIFewShot(step=5).fit(X[keep], y_train[keep])
    assert ici.n_iter_ == 2
    assert sorted(ici.selection_order_.tolist()) == [5, 6, 7]


@pytest.mark.filterwarnings("ignore:.*duplicate another row")
def test_degenerate_features_refused_or_warned():
    """Constant features used to put 116 of 120 samples in one class, silently."""
    X, y, y_train = _episode(0, 2, n_query=22)
    with pytest.raises(ValueError, match="Every feature of X is constant"):
        ICIFewShot().fit(np.ones_like(X), y_train)
    # fewer distinct feature vectors than labeled classes
    two = np.where((y % 2 == 0)[:, None], X[0], X[1])
    with pytest.raises(ValueError, match="2 distinct feature vectors .* for 5 classes"):
        ICIFewShot().fit(two, y_train)
    pool = y_train == -1
    same = X.copy()
    same[pool] = X[pool][0]
    with pytest.warns(UserWarning, match="unlabeled samples have the same feature vector"):
        ici = ICIFewShot().fit(same, y_train)
    # identical samples cannot be told apart: they all receive one label
    assert np.unique(ici.transduction_[pool]).size == 1


def test_class_without_support_sample():
    """The classes are those of the labeled samples: pool samples of a class without a
    support sample are given one of them, and the others are still labeled as well as
    without that class."""
    X, y, y_train = _episode(4, 3)
    dropped = y_train.copy()
    dropped[y_train == 4] = -1          # class 4 keeps its queries but loses its support
    ici = ICIFewShot().fit(X, dropped)
    np.testing.assert_array_equal(ici.classes_, [0, 1, 2, 3])
    assert set(np.unique(ici.transduction_)) <= {0, 1, 2, 3}
    known = (dropped == -1) & (y != 4)
    base = LogisticRegression(C=10, max_iter=1000).fit(X[dropped != -1], dropped[dropped != -1])
    assert np.mean(ici.transduction_[known] == y[known]) >= np.mean(
        base.predict(X[known]) == y[known])
