"""LBIRegressor, LBIClassifier and the CV estimators: behaviour, API and bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sparsestat import LBIClassifier, LBIClassifierCV, LBIRegressor, LBIRegressorCV


def _regression(n=120, p=15, k=3, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[:k] = [3.0, -2.0, 1.5][:k]
    return X, X @ beta + 0.7 + noise * rng.standard_normal(n), beta


def test_regressor_end_of_path_is_ols_and_predict_is_linear():
    X, y, _ = _regression(p=5)
    reg = LBIRegressor(kappa=20, t_ratio=5e3).fit(X, y)
    ols = LinearRegression().fit(X, y)
    np.testing.assert_allclose(reg.coef_, ols.coef_, atol=1e-7)
    assert reg.intercept_ == pytest.approx(ols.intercept_, abs=1e-7)
    np.testing.assert_allclose(reg.predict(X), X @ reg.coef_ + reg.intercept_)
    assert reg.t_ == pytest.approx(reg.regularization_path_.times[-1])


def test_regressor_reads_path_at_t():
    X, y, _ = _regression()
    full = LBIRegressor().fit(X, y)
    t = full.regularization_path_.times[20]
    at_t = LBIRegressor(t=t).fit(X, y)
    np.testing.assert_allclose(at_t.coef_, full.regularization_path_.coefs[20])
    assert np.count_nonzero(at_t.coef_) < np.count_nonzero(full.coef_)


def test_multi_output_group_rows_enter_together():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 8))
    B = np.zeros((8, 3))
    B[[1, 4]] = rng.standard_normal((2, 3)) * 2
    Y = X @ B + 0.1 * rng.standard_normal((100, 3))
    reg = LBIRegressor(penalty="group").fit(X, Y)
    assert reg.coef_.shape == (3, 8)
    et = reg.entry_times_
    assert np.all(et == et[:, :1])
    assert set(np.argsort(et[:, 0])[:2]) == {1, 4}
    assert reg.predict(X).shape == (100, 3)


def test_huber_resists_gross_outliers():
    X, y, beta = _regression(n=200, p=5, noise=0.3, seed=2)
    y_bad = y.copy()
    y_bad[:20] += 50
    sq = LBIRegressor(t_ratio=1e3).fit(X, y_bad)
    hub = LBIRegressor(loss="huber", t_ratio=1e3).fit(X, y_bad)
    assert np.linalg.norm(hub.coef_ - beta) < 0.25 * np.linalg.norm(sq.coef_ - beta)


def test_group_penalty_user_groups():
    X, y, _ = _regression(p=9)
    groups = np.repeat(["a", "b", "c"], 3)
    reg = LBIRegressor(penalty="group", groups=groups, t=None).fit(X, y)
    path = reg.regularization_path_
    for g in "abc":
        members = groups == g
        support = path.coefs[:, members] != 0
        assert np.all(support.all(axis=1) == support.any(axis=1))


def test_split_lbi_regressor_fused():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((150, 12))
    truth = np.repeat([1.0, -1.0, 2.0], 4)
    y = X @ truth + 0.1 * rng.standard_normal(150)
    D = np.diff(np.eye(12), axis=0)
    reg = LBIRegressor(D=D, t_ratio=20).fit(X, y)
    assert reg.gamma_.shape == (11,)
    assert set(reg.gamma_path_.entry_order()[:2]) == {3, 7}
    assert np.allclose(reg.sparse_coef_, truth, atol=0.1)


def test_classifier_binary_and_multiclass_match_mle():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 3))
    y = np.argmax(X @ rng.standard_normal((3, 3)) + rng.gumbel(size=(300, 3)), axis=1)
    clf = LBIClassifier(kappa=5, t_ratio=3e3).fit(X, y)
    mle = LogisticRegression(C=np.inf, max_iter=10000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), mle.predict_proba(X), atol=1e-4)
    assert set(clf.classes_) == {0, 1, 2}
    yb = np.where(y == 0, "zero", "other")
    clf = LBIClassifier(kappa=5, t_ratio=3e3).fit(X, yb)
    mle = LogisticRegression(C=np.inf, max_iter=10000, tol=1e-10).fit(X, yb)
    np.testing.assert_allclose(clf.predict_proba(X), mle.predict_proba(X), atol=1e-6)
    assert list(clf.classes_) == ["other", "zero"]
    assert np.all(clf.predict(X) == mle.predict(X))


def test_regressor_cv_chooses_interior_time_and_1se_is_sparser():
    X, y, beta = _regression(n=150, p=40, k=3, noise=2.0, seed=4)
    cv = KFold(5, shuffle=True, random_state=0)
    reg = LBIRegressorCV(cv=cv).fit(X, y)
    assert reg.cv_scores_.shape == (5, reg.times_.shape[0])
    assert 0 < reg.t_index_ < reg.times_.shape[0] - 1
    np.testing.assert_allclose(reg.cv_mean_scores_, reg.cv_scores_.mean(axis=0))
    # independent check of one fold's score at the chosen time
    train, test = next(cv.split(X))
    fold = LBIRegressor(t=reg.t_).fit(X[train], y[train])
    path = LBIRegressor().fit(X[train], y[train])
    assert path.regularization_path_.t0 > 0
    mse = np.mean((fold.predict(X[test]) - y[test]) ** 2)
    assert reg.cv_scores_[0, reg.t_index_] == pytest.approx(-mse, rel=0.05)
    se = LBIRegressorCV(cv=cv, one_standard_error=True).fit(X, y)
    assert se.t_ <= reg.t_
    assert np.count_nonzero(se.coef_) <= np.count_nonzero(reg.coef_)
    assert set(np.flatnonzero(se.coef_)) >= set(np.flatnonzero(beta))


def test_classifier_cv_accuracy_scoring():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    clf = LBIClassifierCV(cv=3, scoring="accuracy", n_times=20, t_ratio=30).fit(X, y)
    assert np.all((clf.cv_scores_ >= 0) & (clf.cv_scores_ <= 1))
    assert clf.score(X, y) > 0.95


def test_cv_runs_folds_in_parallel_identically():
    X, y, _ = _regression()
    a = LBIRegressorCV(cv=3, n_jobs=1).fit(X, y)
    b = LBIRegressorCV(cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(a.cv_scores_, b.cv_scores_)


def test_pipeline_and_grid_search():
    X, y, _ = _regression(n=100, p=10)
    pipe = make_pipeline(StandardScaler(), LBIRegressor(n_times=20))
    # t_relative means the same point of the path on every fold (t0 differs between folds)
    grid = GridSearchCV(pipe, {"lbiregressor__kappa": [5.0, 50.0],
                               "lbiregressor__t_relative": [1.01, 100.0]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["lbiregressor__t_relative"] == 100.0
    assert grid.score(X, y) > 0.9


def test_sparse_input_matches_dense():
    X, y, _ = _regression()
    X[np.abs(X) < 0.5] = 0
    dense = LBIRegressor().fit(X, y)
    sparse = LBIRegressor().fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-10)
    np.testing.assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), atol=1e-9)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_refused(bad):
    X, y, _ = _regression()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        LBIRegressor().fit(X, y)
    X, y, _ = _regression()
    y[0] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        LBIRegressor().fit(X, y)


def test_empty_and_mismatched_input():
    with pytest.raises(ValueError, match="0 sample"):
        LBIRegressor().fit(np.zeros((0, 3)), np.zeros(0))
    X, y, _ = _regression()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LBIRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="1 sample"):
        LBIRegressor().fit(X[:1], y[:1])


def test_single_class_is_refused():
    X, _, _ = _regression()
    with pytest.raises(ValueError, match="single class"):
        LBIClassifier().fit(X, np.ones(len(X)))


def test_constant_columns_warn_and_stay_zero():
    X, y, _ = _regression()
    X[:, 5] = 3.0
    with pytest.warns(UserWarning, match="constant column"):
        reg = LBIRegressor().fit(X, y)
    assert reg.coef_[5] == 0 and np.isinf(reg.entry_times_[5])


def test_constant_target_gives_intercept_only_model():
    X, _, _ = _regression()
    with pytest.warns(UserWarning, match="path is empty"):
        reg = LBIRegressor().fit(X, np.full(len(X), 2.5))
    assert np.all(reg.coef_ == 0) and reg.intercept_ == pytest.approx(2.5)


def test_bad_groups_and_D():
    X, y, _ = _regression(p=6)
    with pytest.raises(ValueError, match="one group label per feature"):
        LBIRegressor(penalty="group", groups=[0, 0, 1]).fit(X, y)
    with pytest.raises(ValueError, match="needs groups"):
        LBIRegressor(penalty="group").fit(X, y)
    with pytest.raises(ValueError, match="one column per feature"):
        LBIRegressor(D=np.eye(5)).fit(X, y)


@pytest.mark.parametrize("params", [{"kappa": 0}, {"kappa": -1.0}, {"alpha": 0.0},
                                    {"t_ratio": 1.0}, {"n_times": 1}, {"loss": "l2"}])
def test_impossible_parameters(params):
    X, y, _ = _regression()
    with pytest.raises(ValueError, match=list(params)[0]):
        LBIRegressor(**params).fit(X, y)


def test_iss_refuses_other_losses():
    X, y, _ = _regression()
    with pytest.raises(ValueError, match="solver='iss'"):
        LBIRegressor(solver="iss", loss="huber").fit(X, y)


def test_split_sparse_intercept_keeps_prediction_at_the_mean():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((80, 6)) + 3.0
    y = X @ np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0]) + 0.1 * rng.standard_normal(80)
    reg = LBIRegressor(D=np.diff(np.eye(6), axis=0), t_ratio=10).fit(X, y)
    xbar = X.mean(axis=0)
    assert xbar @ reg.sparse_coef_ + reg.sparse_intercept_ == pytest.approx(
        xbar @ reg.coef_ + reg.intercept_)
    assert np.all(np.isfinite(reg.regularization_path_.entry_times) |
                  np.isinf(reg.regularization_path_.entry_times))


def test_cv_warns_when_best_time_is_the_grid_end():
    X, y, _ = _regression(n=200, p=5, noise=0.1)
    with pytest.warns(UserWarning, match="Increase t_ratio"):
        LBIRegressorCV(cv=3, t_ratio=1.5, n_times=5).fit(X, y)


def test_entry_order_by_name_follows_the_data_frame_columns():
    pd = pytest.importorskip("pandas")
    X, y, _ = _regression()
    names = [f"f_{j}" for j in range(X.shape[1])][::-1]
    frame = pd.DataFrame(X, columns=names)
    for est in (LBIRegressor(), LBIRegressor(solver="iss")):
        path = est.fit(frame, y).regularization_path_
        order = path.entry_order()
        np.testing.assert_array_equal(path.entry_order(names=True), np.array(names)[order])
        # permuting the columns permutes the names with the order
        perm = np.random.default_rng(0).permutation(X.shape[1])
        other = est.fit(frame.iloc[:, perm], y).regularization_path_
        k = int(np.isfinite(path.entry_times).sum())   # ties among never-entered: index order
        assert k >= 3
        assert other.entry_order(names=True)[:k].tolist() == \
            path.entry_order(names=True)[:k].tolist()
    # without names: scikit-learn's x0, x1, ...
    path = LBIRegressor().fit(X, y).regularization_path_
    assert path.entry_order(names=True).tolist() == [f"x{j}" for j in path.entry_order()]
    clf = LBIClassifier().fit(frame, (y > np.median(y)).astype(int))
    assert set(clf.regularization_path_.entry_order(names=True)) == set(names)
