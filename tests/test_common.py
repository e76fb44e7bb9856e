"""scikit-learn conformance checks over every public estimator.

Each estimator gets constructor arguments that keep the checks fast (short
paths); estimators whose API cannot fit a check list it with a reason.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparsestat import LBIClassifier, LBIClassifierCV, LBIRegressor, LBIRegressorCV
from sparsestat import KnockoffSelector

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
]

EXPECTED_FAILED = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
