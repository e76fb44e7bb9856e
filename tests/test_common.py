"""scikit-learn conformance checks over every public estimator.

Each estimator gets constructor arguments that keep the checks fast (short
paths); estimators whose API cannot fit a check list it with a reason.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparsestat import LBIClassifier, LBIClassifierCV, LBIRegressor, LBIRegressorCV
from sparsestat import KnockoffSelector, SplitKnockoffSelector
from sparsestat import RobustPairwiseRanker
from sparsestat import MeanShiftOutlierDetector
from sparsestat import CleanLabelClassifier, CleanSetSelector, ICIFewShot, NoisyLabelDetector
from sparsestat import GraphicalKnockoffSelector, LBIGraphicalModel, LBIGraphicalModelCV

FAST = dict(n_times=10, t_ratio=10.0)

ESTIMATORS = [
    LBIRegressor(**FAST),
    LBIRegressor(solver="iss", **FAST),
    LBIRegressor(loss="huber", **FAST),
    LBIClassifier(**FAST),
    LBIRegressorCV(cv=3, **FAST),
    LBIClassifierCV(cv=3, **FAST),
    KnockoffSelector(random_state=0),
    KnockoffSelector(knockoffs="gaussian", statistic="lbi", random_state=0),
    # the checks' small data sets need a larger knockoff part (n2 >= p + m + 1)
    SplitKnockoffSelector(split_fraction=0.3, random_state=0),
    RobustPairwiseRanker(**FAST),
    MeanShiftOutlierDetector(random_state=0),
    NoisyLabelDetector(random_state=0),
    CleanSetSelector(random_state=0),
    CleanLabelClassifier(random_state=0),
    CleanLabelClassifier(action="relabel", inputs="both", cv=3, random_state=0),
    ICIFewShot(),
    LBIGraphicalModel(n_times=10, t_ratio=10.0),
    LBIGraphicalModelCV(cv=3, n_times=10, t_ratio=10.0),
    GraphicalKnockoffSelector(random_state=0),
]

# RobustPairwiseRanker takes pairwise comparisons (an (m, 2) array of item labels), not
# a feature matrix: the generic checks' data are not valid comparisons.
_PAIRWISE_SHAPE = ("X is an (n_comparisons, 2) array of item labels; the check passes a generic "
                   "numeric X of another width")
_PAIRWISE_GRAPH = ("the check's X, read as comparisons, holds self-comparisons or too few comparisons "
                   "to connect its items")
# MeanShiftOutlierDetector needs n_samples > n_features + 1 (the multi-output check has
# n = p + 1).
# NoisyLabelDetector.score_samples scores labelled samples, (X, y), and
# MeanShiftOutlierDetector.score_samples samples with their targets: the checks call it on X.
_LABELLED = "score_samples(X, y) scores labelled samples; the check calls score_samples(X)"
_TARGETS = "score_samples(X, y) scores samples with their targets; the check calls score_samples(X)"
EXPECTED_FAILED = {
    "NoisyLabelDetector": {
        "check_methods_sample_order_invariance": _LABELLED,
        "check_methods_subset_invariance": _LABELLED,
    },
    "ICIFewShot": {
        "check_classifiers_classes": "y = -1 marks unlabeled samples (scikit-learn's "
                                     "semi-supervised convention), so -1 cannot be a class",
    },
    "MeanShiftOutlierDetector": {
        "check_methods_sample_order_invariance": _TARGETS,
        "check_methods_subset_invariance": _TARGETS,
        "check_regressor_multioutput": "n_samples = n_features + 1: too few samples to "
                                       "separate the fit from the outliers",
    },
    "RobustPairwiseRanker": {
        "check_all_zero_sample_weights_error": _PAIRWISE_SHAPE,
        "check_dict_unchanged": _PAIRWISE_SHAPE,
        "check_dont_overwrite_parameters": _PAIRWISE_SHAPE,
        "check_dtype_object": _PAIRWISE_SHAPE,
        "check_estimators_dtypes": _PAIRWISE_SHAPE,
        "check_estimators_nan_inf": _PAIRWISE_SHAPE,
        "check_estimators_pickle": _PAIRWISE_SHAPE,
        "check_f_contiguous_array_estimator": _PAIRWISE_SHAPE,
        "check_fit2d_1feature": _PAIRWISE_SHAPE,
        "check_fit2d_1sample": _PAIRWISE_SHAPE,
        "check_fit2d_predict1d": _PAIRWISE_SHAPE,
        "check_fit_score_takes_y": _PAIRWISE_SHAPE,
        "check_methods_sample_order_invariance": _PAIRWISE_SHAPE,
        "check_methods_subset_invariance": _PAIRWISE_SHAPE,
        "check_n_features_in_after_fitting": _PAIRWISE_SHAPE,
        "check_pipeline_consistency": _PAIRWISE_SHAPE,
        "check_positive_only_tag_during_fit": _PAIRWISE_SHAPE,
        "check_sample_weight_equivalence_on_dense_data": _PAIRWISE_SHAPE,
        "check_sample_weights_list": _PAIRWISE_SHAPE,
        "check_sample_weights_pandas_series": _PAIRWISE_SHAPE,
        "check_estimators_fit_returns_self": _PAIRWISE_GRAPH,
        "check_estimators_overwrite_params": _PAIRWISE_GRAPH,
        "check_fit_check_is_fitted": _PAIRWISE_GRAPH,
        "check_fit_idempotent": _PAIRWISE_GRAPH,
        "check_n_features_in": _PAIRWISE_GRAPH,
        "check_readonly_memmap_input": _PAIRWISE_GRAPH,
        "check_sample_weights_not_an_array": _PAIRWISE_GRAPH,
        "check_sample_weights_not_overwritten": _PAIRWISE_GRAPH,
        "check_sample_weights_shape": _PAIRWISE_GRAPH,
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
