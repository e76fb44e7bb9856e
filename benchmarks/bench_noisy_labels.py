"""NoisyLabelDetector against cleanlab on load_digits with planted label noise, and its scale.

Quality: clean labels, 10%, 20% and 40% symmetric noise and 20% and 30% class-pair noise
on the 8x8 digits (raw pixels as features, the same for both methods). cleanlab's
``find_label_issues`` is fed 5-fold out-of-fold probabilities of a
LogisticRegression (standardized features); its wall time includes those fits.
The published fixed rule (the earlier-entering half of every class is noisy)
is shown on our own entry times. Precision, recall and F1 of the detection,
mean over ``--seeds`` noise draws, with the number of samples flagged.

Scale: ``--scale-n`` samples (default 1,000,000) x 64 features x 10 classes of
Gaussian class clusters with 20% symmetric noise, ``n_jobs=2``.

Run: ``python benchmarks/bench_noisy_labels.py [--seeds 3] [--scale-n 1000000]
[--skip-scale] [--skip-quality]``. cleanlab is not a dependency:
``pip install cleanlab``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from sparsestat.datasets import make_noisy_labels
from sparsestat.robust import NoisyLabelDetector


def scores(flagged, truth):
    tp = float(np.sum(flagged & truth))
    p = tp / max(flagged.sum(), 1)
    r = tp / max(truth.sum(), 1)
    f = 2 * p * r / max(p + r, 1e-12)
    return p, r, f


def run_cleanlab(X, y_noisy):
    from cleanlab.filter import find_label_issues
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    proba = cross_val_predict(model, X, y_noisy, cv=5, method="predict_proba")
    return find_label_issues(y_noisy, proba)


def fixed_half_rule(det, y_noisy):
    """The published rule: the earlier-entering half of every class is noisy."""
    out = np.zeros(y_noisy.size, dtype=bool)
    for k in np.unique(y_noisy):
        idx = np.flatnonzero(y_noisy == k)
        out[idx[np.argsort(det.entry_times_[idx], kind="stable")[: idx.size // 2]]] = True
    return out


def quality(seeds: int) -> None:
    X, y = load_digits(return_X_y=True)
    settings = [("clean", 0.0), ("symmetric", 0.1), ("symmetric", 0.2), ("symmetric", 0.4),
                ("pair", 0.2), ("pair", 0.3)]
    print(f"load_digits: {X.shape[0]} samples, {X.shape[1]} features, 10 classes; "
          f"mean over {seeds} noise draws")
    header = (f"{'noise':<14}{'method':<26}{'precision':>10}{'recall':>8}{'F1':>7}"
              f"{'est. rate':>10}{'flagged':>9}{'time s':>8}")
    print(header)
    print("-" * len(header))
    for noise, rate in settings:
        rows = {"sparsestat SPR (auto)": [], "SPR fixed 50% rule": [], "cleanlab (OOF LR)": []}
        for seed in range(seeds):
            if rate > 0:
                y_noisy, truth = make_noisy_labels(y, rate, noise=noise, random_state=seed)
            else:
                y_noisy, truth = y, np.zeros(y.size, dtype=bool)
            t = time.perf_counter()
            det = NoisyLabelDetector(random_state=seed).fit(X, y_noisy)
            t_spr = time.perf_counter() - t
            rows["sparsestat SPR (auto)"].append((*scores(det.outliers_, truth),
                                                  det.noise_rate_, det.outliers_.sum(), t_spr))
            half = fixed_half_rule(det, y_noisy)
            rows["SPR fixed 50% rule"].append((*scores(half, truth), half.mean(), half.sum(),
                                               t_spr))
            t = time.perf_counter()
            issues = run_cleanlab(X, y_noisy)
            t_cl = time.perf_counter() - t
            rows["cleanlab (OOF LR)"].append((*scores(issues, truth), issues.mean(),
                                              issues.sum(), t_cl))
        label = noise if rate == 0 else f"{noise} {rate:.0%}"
        for name, vals in rows.items():
            p, r, f, est, flagged, tt = np.mean(vals, axis=0)
            print(f"{label:<14}{name:<26}{p:>10.3f}{r:>8.3f}{f:>7.3f}"
                  f"{est:>10.3f}{flagged:>9.1f}{tt:>8.2f}")
        if rate > 0:
            f_ours = np.mean([v[2] for v in rows["sparsestat SPR (auto)"]])
            f_cl = np.mean([v[2] for v in rows["cleanlab (OOF LR)"]])
            print(f"{'':<14}F1 ratio sparsestat / cleanlab = {f_ours / f_cl:.3f}")


def scale(n: int) -> None:
    rng = np.random.default_rng(0)
    K, p = 10, 64
    centers = rng.standard_normal((K, p)) * 0.6
    y = rng.integers(0, K, n)
    X = centers[y] + rng.standard_normal((n, p))
    y_noisy, truth = make_noisy_labels(y, 0.2, random_state=0)
    t = time.perf_counter()
    det = NoisyLabelDetector(n_jobs=2, random_state=0).fit(X, y_noisy)
    wall = time.perf_counter() - t
    pr, rc, f1 = scores(det.outliers_, truth)
    print(f"\nscale: n={n:,} x {p} features x {K} classes, 20% symmetric noise, n_jobs=2: "
          f"{det.n_pieces_:,} pieces, {wall:.1f} s wall (goal < 120 s for n=1,000,000); "
          f"precision {pr:.3f} recall {rc:.3f} F1 {f1:.3f}, est. rate {det.noise_rate_:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scale-n", type=int, default=1_000_000)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    if not args.skip_quality:
        with threadpool_limits(1):   # same single BLAS thread for both methods
            quality(args.seeds)
    if not args.skip_scale:
        scale(args.scale_n)


if __name__ == "__main__":
    main()
