"""NoisyLabelDetector: the estimated noise rate against the injected one, false flags on
clean labels, and detection against cleanlab.

Designs: the 8x8 digits (1797 samples, 64 pixels, 10 classes; the noise draw changes per
replicate) and ``make_classification`` data (two Gaussian clusters per class with random
covariances, so the classes are not linearly separable) at class separations 0.5, 1 and 2
with three shapes (n, classes, features). Noise: none, 5/10/20/40% symmetric flips and 30%
class-pair flips (:func:`sparsestat.datasets.make_noisy_labels`). The peer is cleanlab's
``find_label_issues`` on 5-fold out-of-fold probabilities of a LogisticRegression on
standardized features; where cleanlab is not installed its columns read "n/a".
"""

from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from sparsestat.datasets import make_noisy_labels
from sparsestat.robust import NoisyLabelDetector
from validation._designs import classification_data, fmt, markdown_table, mean_se

TITLE = "Noisy labels: calibrated noise rate, false flags, detection against cleanlab"

#: name -> (n_samples, n_classes, n_features, n_informative, class_sep); None: the digits
DESIGNS = {
    "digits": None,
    "gen n=500 K=3 p=10 sep=0.5": (500, 3, 10, 5, 0.5),
    "gen n=500 K=3 p=10 sep=1": (500, 3, 10, 5, 1.0),
    "gen n=500 K=3 p=10 sep=2": (500, 3, 10, 5, 2.0),
    "gen n=1000 K=5 p=20 sep=0.5": (1000, 5, 20, 10, 0.5),
    "gen n=1000 K=5 p=20 sep=1": (1000, 5, 20, 10, 1.0),
    "gen n=1000 K=5 p=20 sep=2": (1000, 5, 20, 10, 2.0),
    "gen n=2000 K=10 p=40 sep=0.5": (2000, 10, 40, 16, 0.5),
    "gen n=2000 K=10 p=40 sep=1": (2000, 10, 40, 16, 1.0),
    "gen n=2000 K=10 p=40 sep=2": (2000, 10, 40, 16, 2.0),
}
#: (label, noise model, rate)
NOISES = [("clean", "symmetric", 0.0), ("sym 5%", "symmetric", 0.05),
          ("sym 10%", "symmetric", 0.10), ("sym 20%", "symmetric", 0.20),
          ("sym 40%", "symmetric", 0.40), ("pair 30%", "pair", 0.30)]


def design_data(name: str, replicate: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and true labels of one replicate of a design."""
    return classification_data(DESIGNS[name], replicate)


def has_cleanlab() -> bool:
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        return False
    return True


def cleanlab_issues(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """cleanlab's label issues from out-of-fold LogisticRegression probabilities."""
    from cleanlab.filter import find_label_issues
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    proba = cross_val_predict(model, X, y, cv=5, method="predict_proba")
    return find_label_issues(y, proba)


def detection(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of the flags (precision 0 when nothing is flagged)."""
    tp = float(np.sum(flagged & truth))
    precision = tp / max(int(flagged.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return precision, recall, f1


def replicate(name: str, noise: str, rate: float, r: int, peer: bool = True) -> dict:
    """One replicate: our estimate, flags and detection scores (and cleanlab's)."""
    X, y = design_data(name, r)
    if rate > 0:
        y_noisy, truth = make_noisy_labels(y, rate, noise=noise, random_state=r)
    else:
        y_noisy, truth = y, np.zeros(y.size, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # the digits' all-zero pixels
        det = NoisyLabelDetector(random_state=r).fit(X, y_noisy)
    out = {"rate": det.noise_rate_, "n_flagged": int(det.outliers_.sum()),
           "ours": detection(det.outliers_, truth)}
    if peer:
        issues = cleanlab_issues(X, y_noisy)
        out.update(cl_flagged=int(issues.sum()), cl_rate=float(issues.mean()),
                   cleanlab=detection(issues, truth))
    return out


def _collect(n_rep: int, designs, noises, peer: bool) -> dict:
    results = {}
    with threadpool_limits(1):
        for name in designs:
            for label, noise, rate in noises:
                results[name, label] = [replicate(name, noise, rate, r, peer)
                                        for r in range(n_rep)]
    return results


def _rate_table(results, designs, noises) -> str:
    header = ["design"] + [f"{label} ({rate:.2f})" for label, _, rate in noises]
    rows = []
    for name in designs:
        rows.append([name] + [fmt(*mean_se([x["rate"] for x in results[name, label]]))
                              for label, _, _ in noises])
    bias = ["mean bias"]
    for label, _, rate in noises:
        means = [np.mean([x["rate"] for x in results[d, label]]) for d in designs]
        bias.append(f"{np.mean(means) - rate:+.3f}")
    rows.append(bias)
    return markdown_table(header, rows)


def _clean_table(results, designs, peer: bool) -> str:
    header = ["design", "n", "ours: flagged", "ours: noise_rate_", "cleanlab: flagged",
              "ours <= cleanlab (replicates)"]
    rows = []
    for name in designs:
        reps = results[name, "clean"]
        n = design_data(name, 0)[0].shape[0]
        ours = [x["n_flagged"] for x in reps]
        if peer:
            cl = [x["cl_flagged"] for x in reps]
            cl_cell = fmt(*mean_se(cl), digits=1)
            wins = f"{sum(a <= b for a, b in zip(ours, cl))}/{len(reps)}"
        else:
            cl_cell = wins = "n/a"
        rows.append([name, n, fmt(*mean_se(ours), digits=1),
                     fmt(*mean_se([x["rate"] for x in reps])), cl_cell, wins])
    return markdown_table(header, rows)


def _detection_table(results, designs, noises, peer: bool) -> str:
    header = ["design", "noise", "ours P", "ours R", "ours F1", "cleanlab P", "cleanlab R",
              "cleanlab F1", "F1 ours - cleanlab (paired)"]
    rows = []
    for name in designs:
        for label, _, rate in noises:
            if rate == 0:
                continue
            reps = results[name, label]
            ours = np.array([x["ours"] for x in reps])
            row = [name, label] + [fmt(*mean_se(ours[:, j])) for j in range(3)]
            if peer:
                cl = np.array([x["cleanlab"] for x in reps])
                row += [fmt(*mean_se(cl[:, j])) for j in range(3)]
                row.append(fmt(*mean_se(ours[:, 2] - cl[:, 2])))
            else:
                row += ["n/a"] * 4
            rows.append(row)
    return markdown_table(header, rows)


def run(quick: bool) -> str:
    n_rep = 3 if quick else 20
    designs = (["digits", "gen n=500 K=3 p=10 sep=1", "gen n=1000 K=5 p=20 sep=2"]
               if quick else list(DESIGNS))
    noises = [NOISES[i] for i in (0, 3, 5)] if quick else NOISES
    peer = has_cleanlab()
    results = _collect(n_rep, designs, noises, peer)
    intro = (
        f"## {TITLE}\n\n"
        "`NoisyLabelDetector` (defaults, `random_state` = replicate) on the digits and on "
        "`make_classification` data (two clusters per class with random covariances, "
        "`n_informative` = half the features, no redundant features, `flip_y=0`; a new data "
        "set per replicate) with planted symmetric or class-pair flips. Measured: the "
        "estimated noise rate `noise_rate_` against the injected rate (the promise: at most "
        "0.02 on clean labels, close to the injected rate otherwise; the bias is reported), "
        "the samples flagged on clean labels against cleanlab's `find_label_issues` on 5-fold "
        "out-of-fold LogisticRegression probabilities (the promise: no more than cleanlab), "
        "and precision / recall / F1 of the flags against cleanlab's on the same replicates "
        f"(the promise on the digits: F1 at least cleanlab's). {n_rep} replicates per cell; "
        "mean (standard error)."
        + ("" if peer else " cleanlab is not installed here: its columns read n/a.")
        + "\n")
    return "\n".join([
        intro,
        "### Estimated noise rate against the injected rate\n",
        _rate_table(results, designs, noises) + "\n",
        "### Clean labels: samples flagged\n",
        _clean_table(results, designs, peer) + "\n",
        "### Detection of the flipped labels, side by side with cleanlab\n",
        _detection_table(results, designs, noises, peer) + "\n",
    ])
