"""RegularizationPathDisplay: what is drawn is the path, labelled in entry order."""

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sparsestat import LBIClassifier, LBIRegressor, LBIRegressorCV  # noqa: E402
from sparsestat.path import SparseRegularizationPath  # noqa: E402
from sparsestat.plotting import RegularizationPathDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def orthogonal_problem(n=120, p=8, seed=0):
    """Centered design with X^T X / n = I: feature j enters at t_j = 1 / |x_j^T y / n|."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, p))
    A -= A.mean(axis=0)
    Q, _ = np.linalg.qr(A)
    X = Q * np.sqrt(n)
    beta = np.array([0.0, 3.0, 0.0, -2.2, 0.0, 1.4, 0.7, 0.0])[:p]
    y = X @ beta + 0.3 * rng.standard_normal(n)
    return X, y


def test_lines_are_the_path_coefficients():
    X, y = orthogonal_problem()
    reg = LBIRegressor(kappa=20).fit(X, y)
    path = reg.regularization_path_
    disp = RegularizationPathDisplay.from_estimator(reg)
    assert disp.lines_.shape == (X.shape[1],)
    for j, line in enumerate(disp.lines_):
        np.testing.assert_array_equal(line.get_xdata(), path.times)
        np.testing.assert_array_equal(line.get_ydata(), path.coefs[:, j])
    assert disp.ax_.get_xscale() == "log"
    assert disp.figure_ is disp.ax_.figure
    assert disp.vline_ is None  # no CV: no chosen time


def test_labels_follow_the_theoretical_entry_order():
    # orthogonal design: the correlation c_j = x_j^T (y - mean y) / n alone decides when
    # feature j enters (t_j = 1 / |c_j|), so the entry order is the order of |c_j|
    X, y = orthogonal_problem()
    c = X.T @ (y - y.mean()) / X.shape[0]
    expected = np.argsort(-np.abs(c))[:3]
    names = [f"feat_{j}" for j in range(X.shape[1])]
    reg = LBIRegressor(solver="iss").fit(X, y)
    disp = RegularizationPathDisplay.from_estimator(reg, feature_names=names, n_labels=3)
    assert [t.get_text() for t in disp.texts_] == [names[j] for j in expected]
    # each label has its line's colour and sits right of the axes
    for text, j in zip(disp.texts_, expected):
        assert text.get_color() == disp.lines_[j].get_color()
    # the exact ISS path is piecewise constant and drawn as steps
    assert disp.lines_[0].get_drawstyle() == "steps-post"


def test_only_entered_features_are_labelled():
    X, y = orthogonal_problem()
    reg = LBIRegressor(t_ratio=3.0).fit(X, y)
    entered = np.isfinite(reg.entry_times_)
    assert 0 < entered.sum() < X.shape[1]
    disp = RegularizationPathDisplay.from_estimator(reg, n_labels=X.shape[1])
    labelled = {t.get_text() for t in disp.texts_}
    assert labelled == {f"x{j}" for j in np.flatnonzero(entered)}


def test_vertical_line_at_the_cross_validated_time():
    X, y = orthogonal_problem()
    reg = LBIRegressorCV(cv=3, n_times=30, t_ratio=1000).fit(X, y)
    disp = RegularizationPathDisplay.from_estimator(reg)
    assert disp.vline_ is not None
    assert disp.vline_.get_xdata()[0] == pytest.approx(reg.times_[np.argmax(reg.cv_mean_scores_)])
    assert disp.vline_.get_xdata()[0] == reg.t_
    # an explicit time overrides the CV choice; None removes the line
    t = float(reg.times_[3])
    assert RegularizationPathDisplay.from_estimator(reg, t_chosen=t).vline_.get_xdata()[0] == t
    assert RegularizationPathDisplay.from_estimator(reg, t_chosen=None).vline_ is None


def test_multiclass_path_one_panel_per_class():
    from sklearn.datasets import load_iris

    iris = load_iris()
    clf = LBIClassifier(t_ratio=20, n_times=40).fit(iris.data, iris.target)
    path = clf.regularization_path_
    disp = RegularizationPathDisplay.from_estimator(clf, feature_names=iris.feature_names)
    assert disp.ax_.shape == (3,)
    assert disp.lines_.shape == (4, 3)
    for k in range(3):
        for j in range(4):
            np.testing.assert_array_equal(disp.lines_[j, k].get_ydata(), path.coefs[:, j, k])
        assert disp.ax_[k].get_title() == f"LBIClassifier: class {clf.classes_[k]}"
        entered = np.isfinite(path.entry_times[:, k])
        order = np.flatnonzero(entered)[np.argsort(path.entry_times[entered, k])]
        assert [t.get_text() for t in disp.texts_[k]] == [iris.feature_names[j] for j in order]


def test_one_chosen_target_on_one_axes():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 5))
    Y = np.column_stack([2 * X[:, 0], -3 * X[:, 4]]) + 0.1 * rng.standard_normal((100, 2))
    reg = LBIRegressor().fit(X, Y)
    fig, ax = plt.subplots()
    disp = RegularizationPathDisplay.from_estimator(reg, target=1, ax=ax, n_labels=1)
    assert disp.ax_ is ax
    np.testing.assert_array_equal(disp.lines_[4].get_ydata(),
                                  reg.regularization_path_.coefs[:, 4, 1])
    assert [t.get_text() for t in disp.texts_] == ["x4"]
    assert ax.get_title() == "LBIRegressor: target 1"
    # all targets need one Axes each
    with pytest.raises(ValueError, match="2 Axes"):
        RegularizationPathDisplay.from_estimator(reg, ax=ax)
    with pytest.raises(ValueError, match="target must be an integer"):
        RegularizationPathDisplay.from_estimator(reg, target=2)


def test_binary_classifier_path_is_drawn_on_one_axes():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    clf = LBIClassifier(t_ratio=10, n_times=20).fit(X[:, :6], y)
    disp = RegularizationPathDisplay.from_estimator(clf)
    assert disp.lines_.shape == (6,)
    np.testing.assert_array_equal(disp.lines_[2].get_ydata(),
                                  clf.regularization_path_.coefs[:, 2, 0])


def test_pipeline_uses_final_step_and_dataframe_names():
    pd = pytest.importorskip("pandas")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = orthogonal_problem()
    frame = pd.DataFrame(X, columns=[f"gene{j}" for j in range(X.shape[1])])
    pipe = make_pipeline(StandardScaler(), LBIRegressor()).fit(frame, y)
    disp = RegularizationPathDisplay.from_estimator(pipe, n_labels=1)
    first = int(np.argmin(pipe[-1].entry_times_))
    assert [t.get_text() for t in disp.texts_] == [f"gene{first}"]
    assert disp.ax_.get_title() == "LBIRegressor"


def test_from_path_on_a_sparsely_stored_path_draws_entered_coefficients():
    dense = np.zeros((3, 5))
    dense[1:, 3] = [1.0, 2.0]
    dense[2, 0] = -1.0
    path = SparseRegularizationPath(
        times=np.array([1.0, 2.0, 4.0]), coefs=sp.csr_matrix(dense), intercepts=np.zeros((3, 1)),
        entry_times=np.array([3.0, np.inf, np.inf, 1.5, np.inf]), t0=1.0, n_targets=1)
    disp = RegularizationPathDisplay.from_path(path, feature_names=list("abcde"))
    assert disp.lines_.shape == (2,)
    np.testing.assert_array_equal(disp.lines_[1].get_ydata(), dense[:, 3])
    assert [t.get_text() for t in disp.texts_] == ["d", "a"]
    default = RegularizationPathDisplay.from_path(path)
    # one coefficient per data row: numbered from 1, as the rows of a data file
    assert [t.get_text() for t in default.texts_] == ["row 4", "row 1"]


def test_unrecorded_entry_times_are_read_from_the_coefficients():
    times = np.array([1.0, 2.0, 4.0, 8.0])
    coefs = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.5], [0.2, 0.0, 0.7], [0.3, 0.0, 0.9]])
    disp = RegularizationPathDisplay(times, coefs, np.full(3, np.nan)).plot()
    assert [t.get_text() for t in disp.texts_] == ["x2", "x0"]


def test_split_lbi_estimator_draws_gamma_by_default_and_beta_on_request():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 12))
    beta = np.repeat([0.0, 2.0, 0.0], 4)
    y = X @ beta + 0.2 * rng.standard_normal(60)
    reg = LBIRegressor(D=np.diff(np.eye(12), axis=0), n_times=30).fit(X, y)
    gamma = RegularizationPathDisplay.from_estimator(reg, n_labels=2)
    assert gamma.lines_.shape == (11,)  # one line per row of D
    for i in range(11):
        np.testing.assert_array_equal(gamma.lines_[i].get_ydata(), reg.gamma_path_.coefs[:, i])
    # the two jumps of beta (between features 3, 4 and 7, 8) are the first rows to enter;
    # row i of the first-difference operator is x_{i+1} - x_i
    assert sorted(t.get_text() for t in gamma.texts_) == ["x4 - x3", "x8 - x7"]
    assert gamma.ax_.get_ylabel() == r"$\gamma = D\beta$"
    beta_disp = RegularizationPathDisplay.from_estimator(reg, quantity="beta")
    for j in range(12):
        np.testing.assert_array_equal(beta_disp.lines_[j].get_ydata(),
                                      reg.regularization_path_.coefs[:, j])
    assert beta_disp.ax_.get_ylabel() == "coefficient"
    with pytest.raises(ValueError, match="quantity='beta'"):
        RegularizationPathDisplay.from_estimator(reg, X, standardize=True)
    with pytest.raises(ValueError, match="Split LBI"):
        RegularizationPathDisplay.from_estimator(LBIRegressor().fit(X, y), quantity="gamma")


def test_constructor_and_plot_validate_input():
    times = np.array([1.0, 2.0])
    coefs = np.zeros((2, 3))
    entry = np.full(3, np.inf)
    with pytest.raises(ValueError, match="positive"):
        RegularizationPathDisplay(np.array([0.0, 1.0]), coefs, entry).plot()
    with pytest.raises(ValueError, match="coefs must have shape"):
        RegularizationPathDisplay(times, np.zeros((3, 3)), entry).plot()
    with pytest.raises(ValueError, match="entry_times must have shape"):
        RegularizationPathDisplay(times, coefs, np.zeros(2)).plot()
    with pytest.raises(ValueError, match="one name per coefficient"):
        RegularizationPathDisplay(times, coefs, entry, feature_names=["a"]).plot()
    with pytest.raises(ValueError, match="n_labels"):
        RegularizationPathDisplay(times, coefs, entry).plot(n_labels=-1)
    with pytest.raises(ValueError, match="fit"):
        RegularizationPathDisplay.from_estimator(LBIRegressor())


def test_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    disp = RegularizationPathDisplay(np.array([1.0, 2.0]), np.zeros((2, 1)), np.zeros(1))
    with pytest.raises(ImportError, match=r'pip install "sparsestat\[plot\]"'):
        disp.plot()


def test_import_does_not_load_matplotlib():
    code = ("import sys; import sparsestat, sparsestat.plotting; "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
