"""Robust regression and outlier detection along the mean-shift path."""

from sparsestat.robust._clean_learning import CleanLabelClassifier
from sparsestat.robust._clean_set import CleanSetSelector
from sparsestat.robust._fixed import mean_shift_fixed
from sparsestat.robust._noisy_labels import NoisyLabelDetector
from sparsestat.robust._mean_shift import (
    MeanShiftOutlierDetector,
    ShiftFit,
    auto_cutoff,
    check_outlier_data,
    fit_mean_shift,
)

__all__ = ["CleanLabelClassifier", "CleanSetSelector", "MeanShiftOutlierDetector",
           "NoisyLabelDetector", "ShiftFit", "auto_cutoff", "check_outlier_data",
           "fit_mean_shift", "mean_shift_fixed"]
