"""Demo: wrong labels planted in the digits, and credible pseudo-labels in few-shot episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_demo(output_dir: Path) -> None:
    """Detect 20% planted label flips on load_digits; ICI on 1-shot episodes.

    Parameters
    ----------
    output_dir : pathlib.Path
        Existing folder (unused: the demo only prints).
    """
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    from sparsestat._threads import one_thread
    from sparsestat.datasets import make_noisy_labels
    from sparsestat.robust import NoisyLabelDetector
    from sparsestat.semi_supervised import ICIFewShot

    X, y = load_digits(return_X_y=True)
    y_noisy, truth = make_noisy_labels(y, 0.2, random_state=0)
    det = NoisyLabelDetector(random_state=0).fit(X, y_noisy)
    tp = int(np.sum(det.outliers_ & truth))
    print(f"Digits, {X.shape[0]} samples, 20% of the labels flipped at random "
          f"({int(truth.sum())} wrong labels).")
    print(f"   NoisyLabelDetector flags {int(det.outliers_.sum())} samples: "
          f"{tp} really wrong (precision {tp / max(det.outliers_.sum(), 1):.2f}, "
          f"recall {tp / truth.sum():.2f}); estimated noise rate {det.noise_rate_:.3f}")
    Xn = normalize(X)
    rng = np.random.default_rng(0)
    gains = []
    with one_thread():
        for _ in range(20):
            classes = rng.choice(10, 5, replace=False)
            s = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
            q = np.concatenate([rng.choice(np.setdiff1d(np.flatnonzero(y == c), s), 15,
                                           replace=False) for c in classes])
            y_train = np.r_[y[s], np.full(q.size, -1)]
            base = LogisticRegression(C=10, max_iter=1000).fit(Xn[s], y[s]).predict(Xn[q])
            ici = ICIFewShot().fit(Xn[np.r_[s, q]], y_train)
            gains.append(np.mean(ici.transduction_[5:] == y[q]) - np.mean(base == y[q]))
    print(f"   5-way 1-shot episodes (20): ICIFewShot's mean accuracy gain over the "
          f"support-only logistic regression {np.mean(gains):+.3f} "
          f"(wins {int(np.sum(np.array(gains) > 0))}, losses {int(np.sum(np.array(gains) < 0))})")
