"""A fast subset of validation/validate_outliers.py: the promises at small n / p.

On clean data with normal noise the detector flags about half a sample per data set
and at most one on average for every n >= 2p + 5 (the trimmed scales it starts from
are biased down by a factor near 3 at n = 30, p = 10, which once made it flag 6 to 11
clean samples per data set there); planted outliers six standard deviations out are
all found.
"""

import numpy as np
import pytest

from validation.validate_outliers import false_flags, plant_outliers, recall


@pytest.mark.parametrize("n, p", [(30, 10), (50, 20)])
def test_clean_data_at_most_one_false_flag_per_data_set(n, p):
    counts, scales = false_flags(n, p, reps=30, seed=11)
    # measured about 0.55 per data set over 100 data sets (docs/validation.md)
    assert counts.mean() <= 1.0
    assert np.mean(counts > 0) <= 0.65
    # the inliers' scale estimates the noise level (sigma = 1)
    assert abs(np.median(scales) - 1.0) < 0.15


@pytest.mark.parametrize("n, p, frac, kind", [(50, 20, 0.05, "random"),
                                              (50, 20, 0.05, "cluster"),
                                              (100, 10, 0.10, "cluster")])
def test_outliers_six_sigma_out_are_found(n, p, frac, kind):
    rec, false, ceiling = recall(n, p, frac, kind, reps=15, seed=12)
    assert rec.mean() >= 0.99
    assert false.mean() <= 1.0
    # the test told the outlying set finds them too: the planted shifts are what they say
    assert ceiling.mean() >= 0.99


def test_planted_shift_is_six_prediction_standard_deviations():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ [1.0, -1.0, 2.0] + 0.5
    for kind in ["random", "cluster"]:
        Xo, yo, truth = plant_outliers(X, y, 0.1, kind, np.random.default_rng(1))
        A = np.column_stack([np.ones(40), Xo])
        beta = np.linalg.lstsq(A[~truth], yo[~truth], rcond=None)[0]
        G_inv = np.linalg.inv(A[~truth].T @ A[~truth])
        h = np.einsum("ij,jk,ik->i", A[truth], G_inv, A[truth])
        shift = yo[truth] - A[truth] @ beta
        np.testing.assert_array_equal(Xo[~truth], X[~truth])
        np.testing.assert_array_equal(yo[~truth], y[~truth])
        if kind == "random":
            # noise-free clean data: exactly six prediction standard deviations
            np.testing.assert_allclose(np.abs(shift), 6.0 * np.sqrt(1 + h))
        else:
            # one side, six prediction standard deviations plus unit noise, at
            # Mahalanobis distance about 4 from the clean centre
            assert len(set(np.sign(shift))) == 1
            assert np.all(np.abs(np.abs(shift) - 6.0 * np.sqrt(1 + h)) < 4.0)
            d = Xo[truth] - Xo[~truth].mean(axis=0)
            S_inv = np.linalg.inv(np.cov(Xo[~truth], rowvar=False))
            np.testing.assert_allclose(np.sqrt(np.einsum("ij,jk,ik->i", d, S_inv, d)), 4.0,
                                       atol=0.5)
