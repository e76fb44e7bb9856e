"""CleanSetSelector (knockoff labels on the mean-shift model) and CleanLabelClassifier."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sparsestat import CleanLabelClassifier, CleanSetSelector, NoisyLabelDetector
from sparsestat.datasets import make_noisy_labels
from sparsestat.robust._clean_set import (
    draw_labels,
    flip_rates,
    shift_entry_time,
    signed_max,
    wrong_label_law,
)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # the digits' all-zero pixels
        yield


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def test_entry_time_is_the_inverse_residual_norm():
    rng = np.random.default_rng(0)
    S = rng.standard_normal((50, 4))
    codes = rng.integers(0, 4, 50)
    Y = np.eye(4)[codes]
    np.testing.assert_allclose(shift_entry_time(S, codes), 1 / np.linalg.norm(Y - S, axis=1))
    assert shift_entry_time(np.eye(3), np.arange(3)).tolist() == [np.inf] * 3


def test_signed_max_is_antisymmetric():
    rng = np.random.default_rng(1)
    a, b = rng.exponential(size=30), rng.exponential(size=30)
    np.testing.assert_array_equal(signed_max(a, b), -signed_max(b, a))
    np.testing.assert_array_equal(np.abs(signed_max(a, b)), np.maximum(a, b))
    assert signed_max(np.array([2.0]), np.array([2.0]))[0] == 0.0


def test_wrong_label_law_symmetric_and_learned():
    K = 4
    # nothing flagged: uniform over the other labels when the fit is certain of the class
    flips = flip_rates(np.arange(K).repeat(5), np.arange(K).repeat(5), np.zeros(20, bool), K)
    q = wrong_label_law(np.eye(K), flips)
    np.testing.assert_allclose(q, (1 - np.eye(K)) / (K - 1))
    # flags turning 0 into 1 make 1 the likely wrong label of a sure 0
    suggested = np.zeros(20, dtype=int)
    observed = np.where(np.arange(20) < 10, 1, 0)
    flips = flip_rates(suggested, observed, np.arange(20) < 10, K)
    q0 = wrong_label_law(np.eye(K)[:1], flips)[0]
    assert q0[0] == 0 and q0[1] > 0.9 and q0.sum() == pytest.approx(1.0)


def test_draw_labels_follows_the_law():
    q = np.tile([0.1, 0.6, 0.3], (30000, 1))
    v = np.random.default_rng(2).random(30000)
    freq = np.bincount(draw_labels(q, v), minlength=3) / 30000
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.01)


def _brute_knockoff_plus(W, q):
    """The least t among |W| with (1 + #{W <= -t}) / max(#{W >= t}, 1) <= q (reference)."""
    for t in np.sort(np.unique(np.abs(W[W != 0]))):
        if (1 + np.sum(W <= -t)) / max(np.sum(W >= t), 1) <= q:
            return t
    return np.inf


@pytest.mark.parametrize("fsr", [0.05, 0.1, 0.2])
def test_selection_is_the_knockoff_plus_filter(digits, fsr):
    X, y = digits
    y_noisy, _ = make_noisy_labels(y, 0.3, random_state=0)
    sel = CleanSetSelector(fsr=fsr, random_state=0).fit(X, y_noisy)
    T = _brute_knockoff_plus(sel.statistics_, fsr)
    assert sel.threshold_ == T
    np.testing.assert_array_equal(sel.clean_, sel.statistics_ >= T)
    np.testing.assert_array_equal(sel.fit_predict(X, y_noisy) == 1, sel.clean_)
    # W has the sign of tau - tau~ (zero where the knockoff label is the sample's own)
    assert np.all(sel.statistics_[sel.knockoff_labels_ == y_noisy] == 0)
    np.testing.assert_array_equal(np.sign(sel.statistics_),
                                  np.sign(sel.entry_times_ - sel.knockoff_entry_times_))


@pytest.mark.parametrize("noise,rate", [("symmetric", 0.2), ("symmetric", 0.4), ("pair", 0.3)])
def test_false_selection_rate_fast_subset(digits, noise, rate):
    """Five noise draws on the digits: the realized FSR stays under the target, the set is large."""
    X, y = digits
    fsp, kept = [], []
    for r in range(5):
        y_noisy, truth = make_noisy_labels(y, rate, noise=noise, random_state=r)
        sel = CleanSetSelector(fsr=0.1, random_state=r).fit(X, y_noisy)
        fsp.append(truth[sel.clean_].mean())
        kept.append(np.mean(sel.clean_[~truth]))
    assert np.mean(fsp) <= 0.1
    assert np.mean(kept) >= 0.8         # most right labels are declared clean


def test_no_signal_no_clean_set():
    """Labels independent of the features: a label is as likely to enter first as its knockoff."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 10))
    y = rng.integers(0, 3, 600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sel = CleanSetSelector(fsr=0.1, random_state=0).fit(X, y)
    # every label is "wrong" against features that carry no information about it
    assert sel.n_clean_ <= 0.1 * 600


def test_row_permutation_permutes_the_clean_set():
    X, y = make_classification(800, 12, n_informative=6, n_redundant=0, n_classes=4,
                               class_sep=2.0, random_state=0)
    y_noisy, _ = make_noisy_labels(y, 0.2, random_state=1)
    ref = CleanSetSelector(random_state=0).fit(X, y_noisy)
    perm = np.random.default_rng(3).permutation(800)
    b = CleanSetSelector(random_state=0).fit(X[perm], y_noisy[perm])
    np.testing.assert_array_equal(b.clean_, ref.clean_[perm])
    np.testing.assert_array_equal(b.halves_, ref.halves_[perm])


def test_clean_set_from_probabilities(digits):
    X, y = digits
    y_noisy, truth = make_noisy_labels(y, 0.3, random_state=4)
    P = np.clip(np.eye(10)[y] * 0.7 + 0.03, 0, 1)   # a classifier right on the true labels
    P /= P.sum(axis=1, keepdims=True)
    sel = CleanSetSelector(fsr=0.1, random_state=0).fit(None, y_noisy, pred_probs=P)
    assert truth[sel.clean_].mean() <= 0.1
    assert not hasattr(sel, "n_features_in_")


def test_clean_set_bad_input(digits):
    X, y = digits
    with pytest.raises(ValueError, match="fewer than 4 samples"):
        y3 = y.copy()
        y3[np.flatnonzero(y3 == 9)[3:]] = 8     # three samples of class 9 left
        CleanSetSelector().fit(X, y3)
    with pytest.raises(ValueError, match="fsr"):
        CleanSetSelector(fsr=1.5).fit(X, y)


# ---------------------------------------------------------------- CleanLabelClassifier


@pytest.fixture(scope="module")
def noisy_split(digits):
    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    y_noisy, truth = make_noisy_labels(y_tr, 0.4, random_state=0)
    return X_tr, X_te, y_noisy, y_te, truth


def _lr():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def test_cleaning_raises_test_accuracy(noisy_split):
    X_tr, X_te, y_noisy, y_te, _ = noisy_split
    plain = _lr().fit(X_tr, y_noisy).score(X_te, y_te)
    clf = CleanLabelClassifier(_lr(), random_state=0).fit(X_tr, y_noisy)
    assert clf.score(X_te, y_te) >= plain + 0.05


def test_drop_is_the_estimator_on_the_kept_samples(noisy_split):
    X_tr, X_te, y_noisy, _, _ = noisy_split
    clf = CleanLabelClassifier(_lr(), random_state=0).fit(X_tr, y_noisy)
    det = NoisyLabelDetector(random_state=0).fit(X_tr, y_noisy)
    np.testing.assert_array_equal(clf.label_issues_, det.outliers_)
    keep = ~det.outliers_
    ref = _lr().fit(X_tr[keep], y_noisy[keep])
    np.testing.assert_allclose(clf.predict_proba(X_te), ref.predict_proba(X_te))


def test_relabel_is_the_estimator_on_the_suggested_labels(noisy_split):
    X_tr, X_te, y_noisy, _, _ = noisy_split
    clf = CleanLabelClassifier(_lr(), action="relabel", random_state=0).fit(X_tr, y_noisy)
    det = NoisyLabelDetector(random_state=0).fit(X_tr, y_noisy)
    y_fit = np.where(det.outliers_, det.suggested_labels_, y_noisy)
    np.testing.assert_array_equal(clf.predict(X_te), _lr().fit(X_tr, y_fit).predict(X_te))


def test_clean_set_detector_drops_everything_outside_the_set(noisy_split):
    X_tr, _, y_noisy, _, truth = noisy_split
    clf = CleanLabelClassifier(_lr(), detector=CleanSetSelector(random_state=0)).fit(
        X_tr, y_noisy)
    np.testing.assert_array_equal(clf.label_issues_, ~clf.detector_.clean_)
    assert truth[~clf.label_issues_].mean() <= 0.1
    with pytest.raises(ValueError, match="action='relabel'"):
        CleanLabelClassifier(detector=CleanSetSelector(), action="relabel").fit(X_tr, y_noisy)


def test_in_grid_search_and_cross_val_score(noisy_split):
    X_tr, X_te, y_noisy, y_te, _ = noisy_split
    clf = CleanLabelClassifier(_lr(), random_state=0)
    grid = GridSearchCV(clf, {"action": ["drop", "relabel"],
                              "estimator__logisticregression__C": [0.01, 1.0]}, cv=3)
    grid.fit(X_tr, y_noisy)
    # the nested parameter reached the estimator that was fitted
    best = grid.best_estimator_
    assert best.estimator_[-1].C == grid.best_params_["estimator__logisticregression__C"]
    scores = cross_val_score(clf, X_tr, y_noisy, cv=3)
    plain = cross_val_score(_lr(), X_tr, y_noisy, cv=3)
    # scored against noisy labels, the cleaned model agrees with them no worse than 5 points
    # below the model fitted on them, yet it is better on the true labels
    assert scores.mean() >= plain.mean() - 0.05
    assert best.score(X_te, y_te) >= _lr().fit(X_tr, y_noisy).score(X_te, y_te)
    # unfitted clones have the parameters and not the fit
    assert not hasattr(clone(best), "estimator_")


def test_probabilities_need_a_probabilistic_estimator(noisy_split):
    from sklearn.svm import LinearSVC

    X_tr, _, y_noisy, _, _ = noisy_split
    with pytest.raises(ValueError, match="has no predict_proba"):
        CleanLabelClassifier(LinearSVC(), inputs="pred_probs").fit(X_tr, y_noisy)
    # on the features a classifier without probabilities is fine, and so is its predict
    clf = CleanLabelClassifier(LinearSVC(), random_state=0).fit(X_tr, y_noisy)
    assert not hasattr(clf, "predict_proba")
    det = NoisyLabelDetector(random_state=0).fit(X_tr, y_noisy)
    np.testing.assert_array_equal(clf.label_issues_, det.outliers_)


def test_in_a_pipeline(noisy_split):
    X_tr, X_te, y_noisy, y_te, _ = noisy_split
    pipe = make_pipeline(StandardScaler(), CleanLabelClassifier(random_state=0))
    pipe.fit(X_tr, y_noisy)
    direct = CleanLabelClassifier(random_state=0).fit(StandardScaler().fit_transform(X_tr),
                                                      y_noisy)
    np.testing.assert_array_equal(pipe[-1].label_issues_, direct.label_issues_)
    assert pipe.score(X_te, y_te) > 0.9
