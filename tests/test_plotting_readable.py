"""Path figures that stay readable: which lines are labelled and how, labels inside the
axes, standardized coefficients, the shift paths of the ranker and the mean-shift
detector, and the cross-validation curve."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from sparsestat import (  # noqa: E402
    LBIClassifierCV,
    LBIRegressor,
    LBIRegressorCV,
    RobustPairwiseRanker,
)
from sparsestat.plotting import CVPathDisplay, RegularizationPathDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def texts_of(disp):
    return [t.get_text() for t in disp.texts_]


def assert_labels_inside_and_apart(disp):
    """Every label lies inside its axes once drawn, and no two labels overlap."""
    disp.figure_.canvas.draw()
    box = disp.ax_.get_window_extent()
    extents = [t.get_window_extent() for t in disp.texts_]
    for text, e in zip(disp.texts_, extents):
        assert box.x0 - 0.5 <= e.x0 and e.x1 <= box.x1 + 0.5, text.get_text()
        assert box.y0 - 0.5 <= e.y0 and e.y1 <= box.y1 + 0.5, text.get_text()
    spans = sorted((e.y0, e.y1) for e in extents)
    for (_, top), (bottom, _) in zip(spans, spans[1:]):
        assert bottom >= top - 0.5


ACTIVE_EFFECTS = [3.0, -2.0, 1.5, 1.0, -0.8]


def active_of(p):
    return np.linspace(0, p - 1, len(ACTIVE_EFFECTS)).astype(int)


def wide_problem(n=150, p=40, seed=0):
    """Many features, five of them active (``active_of(p)``), with very different column
    scales; the effects are given per standard deviation of the feature."""
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(-3, 3, p))
    X = rng.standard_normal((n, p)) * scales
    beta_std = np.zeros(p)
    beta_std[active_of(p)] = ACTIVE_EFFECTS
    y = (X / scales) @ beta_std + 0.5 * rng.standard_normal(n)
    return X, y


def late_dominant_path():
    """Coefficient 5 enters last but ends largest; 0..4 enter in order, 6 never."""
    times = np.geomspace(1.0, 100.0, 30)
    entry = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 50.0, np.inf])
    final = np.array([1.0, -0.8, 0.6, 0.5, -0.4, 9.0, 0.0])
    coefs = np.where(times[:, None] >= entry[None, :], final[None, :], 0.0)
    return times, coefs, entry


def test_only_the_first_entries_are_labelled_in_distinct_viridis_colours():
    X, y = wide_problem()
    reg = LBIRegressor(solver="iss").fit(X, y)
    entry = reg.entry_times_
    order = np.argsort(entry, kind="stable")
    disp = RegularizationPathDisplay.from_estimator(reg, n_labels=4)
    last = reg.regularization_path_.coefs[-1]
    expected = list(order[:4])
    largest = int(np.argmax(np.abs(last)))
    if largest not in expected:
        expected.append(largest)
    assert texts_of(disp) == [f"x{j}" for j in expected]
    np.testing.assert_array_equal(disp.labelled_, expected)
    # evenly spaced viridis colours in entry order, none repeated, label = line colour
    cmap = colormaps["viridis"]
    want = [cmap(v) for v in np.linspace(0.0, 0.85, len(expected))]
    got = [to_rgba(disp.lines_[j].get_color()) for j in expected]
    np.testing.assert_allclose(got, want)
    assert len({tuple(c) for c in got}) == len(expected)
    for text, j in zip(disp.texts_, expected):
        assert to_rgba(text.get_color()) == to_rgba(disp.lines_[j].get_color())
    # every other line is grey (entered: darker than never-entered)
    for j in set(range(X.shape[1])) - set(expected):
        r, g, b, _ = to_rgba(disp.lines_[j].get_color())
        assert r == g == b
    assert_labels_inside_and_apart(disp)


def test_a_late_line_that_ends_largest_is_labelled():
    times, coefs, entry = late_dominant_path()
    disp = RegularizationPathDisplay(times, coefs, entry).plot(n_labels=3)
    assert texts_of(disp) == ["x0", "x1", "x2", "x5"]
    assert to_rgba(disp.lines_[5].get_color()) == to_rgba(colormaps["viridis"](0.85))
    # when it is among the first entries already, nothing is added
    assert texts_of(RegularizationPathDisplay(times, coefs, entry).plot(n_labels=6)) == \
        ["x0", "x1", "x2", "x3", "x4", "x5"]
    # n_labels=0 means no label at all
    assert RegularizationPathDisplay(times, coefs, entry).plot(n_labels=0).texts_ == []


def test_many_labels_with_long_names_stay_inside_the_axes_and_apart():
    times, coefs, entry = late_dominant_path()
    coefs = np.repeat(coefs, 3, axis=1) * np.repeat([1.0, 1.01, 0.99], 7)  # near-ties
    entry = np.repeat(entry, 3)
    names = [f"a rather long feature name number {j}" for j in range(coefs.shape[1])]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    disp = RegularizationPathDisplay(times, coefs, entry, feature_names=names).plot(
        ax=ax, n_labels=12)
    assert len(disp.texts_) == 13
    # shortened to 32 characters, keeping the ends that tell the names apart
    assert [t.get_text() for t in disp.texts_] == \
        [names[j][:15] + "…" + names[j][-16:] for j in disp.labelled_]
    assert len(set(texts_of(disp))) == 13
    assert_labels_inside_and_apart(disp)
    # the lines end left of every label
    disp.figure_.canvas.draw()
    x_end = ax.transData.transform((times[-1], 0.0))[0]
    assert all(t.get_window_extent().x0 >= x_end for t in disp.texts_)


def test_standardized_coefficients_are_coefficient_times_feature_sd():
    X, y = wide_problem(seed=1)
    reg = LBIRegressor(n_times=40).fit(X, y)
    disp = RegularizationPathDisplay.from_estimator(reg, X, standardize=True, n_labels=5)
    sd = np.sqrt(np.mean((X - X.mean(axis=0)) ** 2, axis=0))
    for j in (0, 7, 12, 39):  # active and inactive features
        np.testing.assert_allclose(disp.lines_[j].get_ydata(),
                                   reg.regularization_path_.coefs[:, j] * sd[j], rtol=1e-12)
    assert disp.ax_.get_ylabel().startswith("standardized coefficient")
    # on the common scale the five planted features are the five largest at the end
    last = np.array([line.get_ydata()[-1] for line in disp.lines_])
    assert set(np.argsort(-np.abs(last))[:5]) == set(active_of(40))
    # a sparse copy of X gives the same standard deviations
    import scipy.sparse as sp

    sparse = RegularizationPathDisplay.from_estimator(reg, sp.csr_matrix(X), standardize=True)
    for j in (0, 7, 39):
        np.testing.assert_allclose(sparse.lines_[j].get_ydata(), disp.lines_[j].get_ydata(),
                                   rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="pass the training data as X="):
        RegularizationPathDisplay.from_estimator(reg, standardize=True)
    with pytest.raises(ValueError, match="40 coefficients"):
        RegularizationPathDisplay.from_estimator(reg, X[:, :5], standardize=True)


@pytest.mark.parametrize("c", [1e-6, 1e-2, 1e3, 1e6])
def test_standardized_paths_do_not_depend_on_the_units_of_a_feature(c):
    X, y = wide_problem(n=80, p=8, seed=2)
    Xc = X.copy()
    Xc[:, 3] *= c
    base = RegularizationPathDisplay.from_estimator(LBIRegressor().fit(X, y), X,
                                                    standardize=True)
    moved = RegularizationPathDisplay.from_estimator(LBIRegressor().fit(Xc, y), Xc,
                                                     standardize=True)
    for j in range(8):
        np.testing.assert_allclose(moved.lines_[j].get_ydata(), base.lines_[j].get_ydata(),
                                   rtol=1e-7, atol=1e-9)
    assert texts_of(moved) == texts_of(base)


def test_standardize_through_a_pipeline_uses_the_preprocessed_features():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = wide_problem(n=80, p=8, seed=3)
    pipe = make_pipeline(StandardScaler(), LBIRegressor()).fit(X, y)
    disp = RegularizationPathDisplay.from_estimator(pipe, X, standardize=True)
    # the final step sees unit-variance columns: standardized = raw coefficients
    for j in range(8):
        np.testing.assert_allclose(disp.lines_[j].get_ydata(),
                                   pipe[-1].regularization_path_.coefs[:, j], rtol=1e-10)


def ranking_problem():
    """Four items a > b > c > d with unit gaps, and one backwards vote (d beat a)."""
    pairs = np.array([["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"], ["b", "d"],
                      ["a", "d"], ["d", "a"], ["c", "a"]])
    y = np.array([1.0, 1.0, 2.0, 1.0, 2.0, 3.0, 3.0, -2.0])
    return pairs, y


def test_ranker_comparisons_are_named_winner_over_loser():
    pairs, y = ranking_problem()
    ranker = RobustPairwiseRanker(contamination=1 / 8).fit(pairs, y)
    disp = RegularizationPathDisplay.from_estimator(ranker, pairs, y, n_labels=8)
    winners = [a if s > 0 else b for (a, b), s in zip(pairs, y)]
    losers = [b if s > 0 else a for (a, b), s in zip(pairs, y)]
    names = [f"{w} > {lo}" for w, lo in zip(winners, losers)]
    # the path is stored sparsely: one line per comparison that ever enters
    entered = np.flatnonzero(np.isfinite(ranker.entry_times_))
    assert entered.size >= 1
    assert [line.get_label() for line in disp.lines_] == [names[k] for k in entered]
    assert names[6] == "d > a" and names[7] == "a > c"  # the outcome's sign decides
    assert texts_of(disp) == [disp.lines_[k].get_label() for k in disp.labelled_]
    assert texts_of(disp)[0] == "d > a"  # the backwards vote enters first
    assert disp.ax_.get_ylabel() == r"shift $\gamma$"
    dense = ranker.regularization_path_.coefs.toarray()
    for line, k in zip(disp.lines_, entered):
        np.testing.assert_array_equal(line.get_ydata(), dense[:, k])
    assert_labels_inside_and_apart(disp)


def test_ranker_labels_do_not_depend_on_how_a_pair_is_written():
    pairs, y = ranking_problem()
    flipped = pairs[:, ::-1]
    a = RegularizationPathDisplay.from_estimator(
        RobustPairwiseRanker(contamination=1 / 8).fit(pairs, y), pairs, y)
    b = RegularizationPathDisplay.from_estimator(
        RobustPairwiseRanker(contamination=1 / 8).fit(flipped, -y), flipped, -y)
    assert texts_of(a) == texts_of(b)
    with pytest.raises(ValueError, match="item pairs"):
        RegularizationPathDisplay.from_estimator(
            RobustPairwiseRanker(contamination=1 / 8).fit(pairs, y), pairs[:3], y)


def test_ranker_with_many_items_keeps_labels_inside_the_axes():
    from sparsestat.datasets import make_pairwise_comparisons

    data = make_pairwise_comparisons(n_items=20, n_comparisons=300, random_state=0,
                                     outcome="margin")
    names = np.array([f"contestant_{i:02d}" for i in range(20)])
    pairs = names[np.asarray(data.comparisons, dtype=int)]
    ranker = RobustPairwiseRanker().fit(pairs, data.outcomes)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    disp = RegularizationPathDisplay.from_estimator(ranker, pairs, data.outcomes, ax=ax)
    assert len(disp.texts_) >= 10
    assert all(" > contestant_" in t for t in texts_of(disp))
    assert_labels_inside_and_apart(disp)


def test_mean_shift_rows_are_numbered_from_one_and_the_stop_time_is_marked():
    from sparsestat.datasets import load_stackloss
    from sparsestat.robust import MeanShiftOutlierDetector

    data = load_stackloss()
    det = MeanShiftOutlierDetector().fit(data.data, data.target)
    disp = RegularizationPathDisplay.from_estimator(det, n_labels=4)
    # the documented stack-loss outliers are days 1, 3, 4 and 21 (1-based)
    assert set(texts_of(disp)[:4]) == {"row 1", "row 3", "row 4", "row 21"}
    flagged = np.flatnonzero(det.outliers_)
    labelled_rows = {int(t.split()[1]) - 1 for t in texts_of(disp)}
    assert set(flagged) <= labelled_rows
    assert disp.vline_ is not None and disp.vline_.get_xdata()[0] == det.stop_time_
    assert disp.ax_.get_ylabel() == r"shift $\gamma_i$"
    assert RegularizationPathDisplay.from_estimator(det, t_chosen=None).vline_ is None
    assert_labels_inside_and_apart(disp)


def one_se_reference(scores):
    """Mean, standard error, argmax and the one-standard-error index, written out here."""
    k = scores.shape[0]
    mean = scores.mean(axis=0)
    se = np.sqrt(((scores - mean) ** 2).sum(axis=0) / (k - 1)) / np.sqrt(k)
    best = int(np.argmax(mean))
    first = min(i for i in range(mean.size) if mean[i] >= mean[best] - se[best])
    return mean, se, best, first


def band_limits(band, times):
    vertices = band.get_paths()[0].vertices
    lo = np.array([vertices[np.isclose(vertices[:, 0], t), 1].min() for t in times])
    hi = np.array([vertices[np.isclose(vertices[:, 0], t), 1].max() for t in times])
    return lo, hi


def test_cv_display_is_the_mean_error_with_its_band_and_both_times():
    X, y = wide_problem(n=120, p=15, seed=4)
    reg = LBIRegressorCV(cv=5, n_times=40, t_ratio=300).fit(X, y)
    mean, se, best, first = one_se_reference(reg.cv_scores_)
    disp = CVPathDisplay.from_estimator(reg)
    np.testing.assert_array_equal(disp.line_.get_xdata(), reg.times_)
    np.testing.assert_allclose(disp.line_.get_ydata(), -mean, rtol=1e-12)  # MSE = -score
    lo, hi = band_limits(disp.band_, reg.times_)
    np.testing.assert_allclose(lo, -mean - se, rtol=1e-10)
    np.testing.assert_allclose(hi, -mean + se, rtol=1e-10)
    assert disp.vline_best_.get_xdata()[0] == reg.times_[best] == reg.t_best_
    assert disp.vline_1se_.get_xdata()[0] == reg.times_[first] == reg.t_1se_
    assert first <= best
    assert disp.ax_.get_xscale() == "log"
    assert disp.ax_.get_ylabel() == "CV mean squared error"
    assert disp.ax_.get_xlabel() == RegularizationPathDisplay.from_estimator(reg).ax_.get_xlabel()
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert any(s.startswith("minimum") for s in labels)
    assert any(s.startswith("one standard error") for s in labels)
    np.testing.assert_allclose(reg.cv_standard_errors_, se, rtol=1e-12)
    # the one-standard-error estimator reads its model at the same time
    rule = LBIRegressorCV(cv=5, n_times=40, t_ratio=300, one_standard_error=True).fit(X, y)
    assert rule.t_ == reg.t_1se_


def test_cv_display_of_a_classifier_shows_the_misclassification_rate():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    clf = LBIClassifierCV(cv=3, kappa=2.0, t_ratio=300, n_times=25,
                          scoring="accuracy").fit(X[:, :10], y)
    disp = CVPathDisplay.from_estimator(clf)
    np.testing.assert_allclose(disp.line_.get_ydata(), 1 - clf.cv_scores_.mean(axis=0))
    assert disp.ax_.get_ylabel() == "CV misclassification rate"
    default = CVPathDisplay.from_estimator(
        LBIClassifierCV(cv=3, kappa=2.0, t_ratio=300, n_times=25).fit(X[:, :10], y))
    assert default.ax_.get_ylabel() == "CV log loss"
    assert np.all(default.line_.get_ydata() > 0)  # a log loss is positive


def test_cv_display_needs_a_cross_validated_estimator():
    X, y = wide_problem(n=40, p=5, seed=5)
    with pytest.raises(ValueError, match="LBIRegressorCV"):
        CVPathDisplay.from_estimator(LBIRegressor().fit(X, y))
    with pytest.raises(ValueError, match="standard_errors"):
        CVPathDisplay(np.ones(3), np.ones(3), np.ones(2)).plot()
    with pytest.raises(ValueError, match="positive"):
        CVPathDisplay(np.array([0.0, 1.0]), np.ones(2), np.ones(2)).plot()


def test_ranker_names_its_comparisons_from_what_it_was_fitted_on():
    pairs, y = ranking_problem()
    ranker = RobustPairwiseRanker(contamination=1 / 8).fit(pairs, y)
    np.testing.assert_array_equal(ranker.items_[ranker.pairs_], pairs)
    np.testing.assert_array_equal(ranker.outcomes_, y)
    given = RegularizationPathDisplay.from_estimator(ranker, pairs, y, n_labels=8)
    kept = RegularizationPathDisplay.from_estimator(ranker, n_labels=8)
    assert [line.get_label() for line in kept.lines_] == \
        [line.get_label() for line in given.lines_]
    assert texts_of(kept) == texts_of(given) and texts_of(kept)[0] == "d > a"
