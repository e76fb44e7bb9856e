"""Demo: the stackloss data, where masking hides outliers from least squares and Huber."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_demo(output_dir: Path) -> None:
    """Flag the stackloss outliers, compare with Huber and RANSAC, save ``outliers_path.png``.

    Parameters
    ----------
    output_dir : pathlib.Path
        Existing folder that receives ``outliers_path.png``.
    """
    from sklearn.linear_model import HuberRegressor, RANSACRegressor

    from sparsestat.datasets import load_stackloss
    from sparsestat.robust import MeanShiftOutlierDetector

    data = load_stackloss()
    X, y = data.data, data.target
    det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    rows = np.flatnonzero(det.outliers_) + 1
    print(f"Stack loss plant: {X.shape[0]} days, features {', '.join(data.feature_names)}.")
    print(f"   flagged days (1-based): {rows.tolist()}   (documented: 1, 3, 4, 21)")
    print(f"   entry order of the shifts: {(det.ranking_[:6] + 1).tolist()} ...")
    huber = HuberRegressor().fit(X, y)
    h_rows = np.flatnonzero(huber.outliers_) + 1
    ransac = RANSACRegressor(random_state=0).fit(X, y)
    r_rows = np.flatnonzero(~ransac.inlier_mask_) + 1
    print(f"   HuberRegressor flags {h_rows.tolist()};  RANSACRegressor flags {r_rows.tolist()}")
    print(f"   robust fit: {det.intercept_:.2f} "
          + " ".join(f"{c:+.3f}*{n}" for c, n in zip(det.coef_, data.feature_names))
          + f"  (robust scale {det.scale_:.2f})")
    from sparsestat.cli import can_draw

    if not can_draw("outliers_path.png"):
        return
    from sparsestat.robust._cli import save_path_plot

    save_path_plot(det, Path(output_dir) / "outliers_path.png",
                   title="stackloss: shifts gamma (line: stopping time)")
