"""NoisyLabelDetector from a classifier's probabilities; fit_predict and score_samples."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sparsestat.datasets import make_noisy_labels
from sparsestat.robust import NoisyLabelDetector
from sparsestat.robust._noisy_labels import probability_features


@pytest.fixture(autouse=True)
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _f1(flagged, truth):
    tp = np.sum(flagged & truth)
    p, r = tp / max(flagged.sum(), 1), tp / max(truth.sum(), 1)
    return 2 * p * r / max(p + r, 1e-12)


@pytest.fixture(scope="module")
def digits_probs():
    """Out-of-fold LogisticRegression probabilities on the digits, clean and 20% noisy."""
    X, y = load_digits(return_X_y=True)
    y_noisy, truth = make_noisy_labels(y, 0.2, random_state=3)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P_clean = cross_val_predict(model, X, y, cv=5, method="predict_proba")
        P_noisy = cross_val_predict(model, X, y_noisy, cv=5, method="predict_proba")
    return X, y, y_noisy, truth, P_clean, P_noisy


def test_probability_features_are_centred_log_ratios():
    P = np.array([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    L = np.log(np.clip(P, 1e-6, None))
    expected = (L - L.mean(axis=1, keepdims=True)) / np.log(1e6)
    np.testing.assert_allclose(probability_features(P), expected)
    # a certain prediction has norm sqrt(1 - 1/K) (up to the floor), the uniform one zero
    norms = np.linalg.norm(probability_features(P), axis=1)
    np.testing.assert_allclose(norms[1:], [np.sqrt(2 / 3), 0.0], atol=1e-6)


def test_from_probabilities_beats_cleanlab(digits_probs):
    filt = pytest.importorskip("cleanlab.filter")
    X, y, y_noisy, truth, P_clean, P_noisy = digits_probs
    ours = NoisyLabelDetector(random_state=0).fit(None, y_noisy, pred_probs=P_noisy)
    theirs = filt.find_label_issues(y_noisy, P_noisy)
    assert _f1(ours.outliers_, truth) >= _f1(theirs, truth) + 0.03
    assert abs(ours.noise_rate_ - 0.2) < 0.04
    # on clean labels: no more flags than cleanlab (which flags 27 here)
    clean = NoisyLabelDetector(random_state=0).fit(None, y, pred_probs=P_clean)
    assert clean.outliers_.sum() <= filt.find_label_issues(y, P_clean).sum()
    assert clean.noise_rate_ <= 0.01


def test_features_and_probabilities_together(digits_probs):
    X, y, y_noisy, truth, _, P_noisy = digits_probs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # the digits' all-zero pixels
        both = NoisyLabelDetector(random_state=0).fit(X, y_noisy, pred_probs=P_noisy)
    assert _f1(both.outliers_, truth) > 0.9
    assert both.n_features_in_ == 64
    # the fit's coefficients span the two blocks: 64 - 3 varying pixels ... plus 10 log-ratios
    n_varying = int(np.sum(np.ptp(X, axis=0) > 0))
    assert both.coef_.shape == (1 + n_varying + 10, 10)


def test_relabelling_classes_and_permuting_rows(digits_probs):
    _, _, y_noisy, _, _, P = digits_probs
    ref = NoisyLabelDetector(random_state=0).fit(None, y_noisy, pred_probs=P)
    # names in the same order: the same fit
    names = np.array([f"digit {k}" for k in range(10)])
    named = NoisyLabelDetector(random_state=0).fit(None, names[y_noisy], pred_probs=P)
    np.testing.assert_array_equal(named.outliers_, ref.outliers_)
    np.testing.assert_array_equal(named.suggested_labels_, names[ref.suggested_labels_])
    # relabel class k as 9 - k: the columns of P follow np.unique of the new labels, so the
    # derived features' columns are permuted (distances and the noise rate are not; the
    # seeded random split into pieces is, so a few flags near the cut may move)
    relabelled = NoisyLabelDetector(random_state=0).fit(None, 9 - y_noisy,
                                                         pred_probs=P[:, ::-1])
    assert relabelled.noise_rate_ == pytest.approx(ref.noise_rate_, abs=1e-12)
    assert np.mean(relabelled.outliers_ != ref.outliers_) <= 0.005
    assert np.mean(relabelled.suggested_labels_ != 9 - ref.suggested_labels_) <= 0.02
    perm = np.random.default_rng(0).permutation(y_noisy.size)
    permuted = NoisyLabelDetector(random_state=0).fit(None, y_noisy[perm], pred_probs=P[perm])
    np.testing.assert_array_equal(permuted.outliers_, ref.outliers_[perm])


def test_fit_predict_and_score_samples_on_training_data(digits_probs):
    _, _, y_noisy, _, _, P = digits_probs
    det = NoisyLabelDetector(random_state=0)
    labels = det.fit_predict(None, y_noisy, pred_probs=P)
    assert set(np.unique(labels)) == {-1, 1}
    np.testing.assert_array_equal(labels == -1, det.outliers_)
    s = det.score_samples(None, y_noisy, pred_probs=P)
    assert np.all((s >= -1) & (s < 0))
    # the flags are the lowest scores among the labels the fit does not score best
    candidates = det.margins_ > 0
    assert s[det.outliers_].max() <= s[candidates & ~det.outliers_].min()
    # the score is the mean of the two ranks, recomputed here from the fitted attributes
    from scipy.stats import rankdata

    n = y_noisy.size
    ranks = rankdata(det.margins_) + rankdata(det.neighbour_disagreement_)
    np.testing.assert_allclose(s, -ranks / (2 * n))


def test_score_samples_of_new_samples(digits_probs):
    _, _, y_noisy, truth, _, P = digits_probs
    det = NoisyLabelDetector(random_state=0).fit(None, y_noisy[:1200], pred_probs=P[:1200])
    s = det.score_samples(None, y_noisy[1200:], pred_probs=P[1200:])
    # subsets score the same as the whole (each sample on its own)
    np.testing.assert_allclose(det.score_samples(None, y_noisy[1200:1300],
                                                 pred_probs=P[1200:1300]), s[:100])
    # held-out wrong labels score lower than held-out right ones
    held = truth[1200:]
    assert np.median(s[held]) < np.percentile(s[~held], 10)


def test_bad_probabilities(digits_probs):
    _, _, y_noisy, _, _, P = digits_probs
    det = NoisyLabelDetector(random_state=0)
    with pytest.raises(ValueError, match="rows for"):
        det.fit(None, y_noisy, pred_probs=P[:-1])
    with pytest.raises(ValueError, match="columns for the 10 classes"):
        det.fit(None, y_noisy, pred_probs=P[:, :9])
    with pytest.raises(ValueError, match="negative"):
        det.fit(None, y_noisy, pred_probs=P - 0.01)
    with pytest.raises(ValueError, match="sum to 1"):
        det.fit(None, y_noisy, pred_probs=2 * P)
    bad = P.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        det.fit(None, y_noisy, pred_probs=bad)
    with pytest.raises(ValueError, match="Pass features X"):
        det.fit(None, y_noisy)
    det.fit(None, y_noisy, pred_probs=P)
    with pytest.raises(ValueError, match="fitted on pred_probs"):
        det.score_samples(np.zeros((y_noisy.size, 64)), y_noisy)
    with pytest.raises(ValueError, match="not fitted on"):
        det.score_samples(None, y_noisy + 20, pred_probs=P)
