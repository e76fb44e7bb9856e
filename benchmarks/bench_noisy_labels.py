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

From probabilities (``--probs``): the same comparison when both methods start from one
classifier's 5-fold out-of-fold ``pred_probs`` (a LogisticRegression and a small MLP on
standardized pixels; clean labels, 20% and 40% symmetric and 30% pair noise): cleanlab's
``find_label_issues`` against ``NoisyLabelDetector.fit(None, y, pred_probs=P)`` and
``fit(X, y, pred_probs=P)``.

Training on the cleaned labels (``--clean-learning``): test accuracy on the digits (a
stratified 30% test split with true labels; noise planted in the training labels only) of
a LogisticRegression trained on the noisy labels, of ``CleanLabelClassifier`` (drop or
relabel, the detector on X or on out-of-fold probabilities, or the clean set of
``CleanSetSelector``) and of cleanlab's ``CleanLearning``, with the same base model.

Scale from probabilities (``--scale-probs N K``, repeatable): wall time and peak traced
memory (tracemalloc, every numpy allocation) of ``fit(None, y, pred_probs=P)`` and of
cleanlab's ``find_label_issues(y, P, n_jobs=1)`` on synthetic ``N x K`` probabilities
(20% symmetric noise).

Run: ``python benchmarks/bench_noisy_labels.py [--seeds 3] [--scale-n 1000000]
[--skip-scale] [--skip-quality] [--probs] [--clean-learning]
[--scale-probs 1000000 10]``. cleanlab is not a dependency: ``pip install cleanlab``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from sparsestat import CleanLabelClassifier, CleanSetSelector
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


def tree_cpu() -> float:
    """CPU seconds of this process and of its live child processes (joblib's workers)."""
    try:
        import psutil
    except ImportError:
        return time.process_time()
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def scale(n: int) -> None:
    rng = np.random.default_rng(0)
    K, p = 10, 64
    centers = rng.standard_normal((K, p)) * 0.6
    y = rng.integers(0, K, n)
    X = centers[y] + rng.standard_normal((n, p))
    y_noisy, truth = make_noisy_labels(y, 0.2, random_state=0)
    # compile (or load) the kernels outside the timing
    NoisyLabelDetector(random_state=0).fit(X[:2000], y_noisy[:2000])
    t, cpu = time.perf_counter(), tree_cpu()
    det = NoisyLabelDetector(n_jobs=2, random_state=0).fit(X, y_noisy)
    wall, cpu = time.perf_counter() - t, tree_cpu() - cpu
    pr, rc, f1 = scores(det.outliers_, truth)
    print(f"\nscale: n={n:,} x {p} features x {K} classes, 20% symmetric noise, n_jobs=2: "
          f"{det.n_pieces_:,} pieces, {wall:.1f} s wall, {cpu:.1f} s CPU (with worker processes; "
          f"goal <= 20 s wall for n=1,000,000); precision {pr:.3f} recall {rc:.3f} "
          f"F1 {f1:.3f}, est. rate {det.noise_rate_:.3f}, {det.outliers_.sum():,} flagged")


def base_model(kind: str, seed: int):
    """The classifier behind the probabilities: standardized pixels, then LR or a small MLP."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "LR":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=300, random_state=seed))


NOISES = [("clean", 0.0), ("symmetric", 0.2), ("symmetric", 0.4), ("pair", 0.3)]


def noisy_digits(y, noise, rate, seed):
    if rate == 0:
        return y, np.zeros(y.size, dtype=bool)
    return make_noisy_labels(y, rate, noise=noise, random_state=seed)


def probability_quality(seeds: int) -> None:
    from cleanlab.filter import find_label_issues
    from sklearn.model_selection import cross_val_predict

    X, y = load_digits(return_X_y=True)
    print(f"\nfrom pred_probs: load_digits, 5-fold out-of-fold probabilities; mean over {seeds} "
          "noise draws (model seeds follow the draw)")
    print("| model | noise | method | precision | recall | F1 | flagged | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("LR", "MLP"):
        for noise, rate in NOISES:
            rows = {"cleanlab find_label_issues": [], "sparsestat, pred_probs": [],
                    "sparsestat, X + pred_probs": []}
            for seed in range(seeds):
                y_noisy, truth = noisy_digits(y, noise, rate, seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")   # MLP convergence, all-zero pixels
                    P = cross_val_predict(base_model(kind, seed), X, y_noisy, cv=5,
                                          method="predict_proba")
                    runs = [("cleanlab find_label_issues", lambda: find_label_issues(y_noisy, P)),
                            ("sparsestat, pred_probs", lambda: NoisyLabelDetector(
                                random_state=seed).fit(None, y_noisy, pred_probs=P).outliers_),
                            ("sparsestat, X + pred_probs", lambda: NoisyLabelDetector(
                                random_state=seed).fit(X, y_noisy, pred_probs=P).outliers_)]
                    for name, run in runs:
                        t = time.perf_counter()
                        flagged = run()
                        rows[name].append((*scores(flagged, truth), flagged.sum(),
                                           time.perf_counter() - t))
            label = noise if rate == 0 else f"{noise} {rate:.0%}"
            for name, vals in rows.items():
                p, r, f, flagged, tt = np.mean(vals, axis=0)
                cells = ("–", "–", "–") if rate == 0 else (f"{p:.3f}", f"{r:.3f}", f"{f:.3f}")
                print(f"| {kind} | {label} | {name} | {' | '.join(cells)} | {flagged:.1f} "
                      f"| {tt:.2f} |", flush=True)


def clean_learning(seeds: int) -> None:
    from cleanlab.classification import CleanLearning
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    print(f"\ntraining on the cleaned labels: load_digits, 30% test split (true labels), noise "
          f"in the training labels; test accuracy, mean over {seeds} splits and noise draws")
    methods = {
        "LogisticRegression, noisy labels": lambda s: base_model("LR", s),
        "CleanLabelClassifier (X, drop)": lambda s: CleanLabelClassifier(
            base_model("LR", s), random_state=s),
        "CleanLabelClassifier (X, relabel)": lambda s: CleanLabelClassifier(
            base_model("LR", s), action="relabel", random_state=s),
        "CleanLabelClassifier (pred_probs, drop)": lambda s: CleanLabelClassifier(
            base_model("LR", s), inputs="pred_probs", random_state=s),
        "CleanLabelClassifier (CleanSetSelector fsr=0.1)": lambda s: CleanLabelClassifier(
            base_model("LR", s), detector=CleanSetSelector(fsr=0.1, random_state=s)),
        "cleanlab CleanLearning": lambda s: CleanLearning(base_model("LR", s), seed=s,
                                                          verbose=False),
    }
    print("| noise | " + " | ".join(methods) + " | LogisticRegression, true labels |")
    print("|---" * (len(methods) + 2) + "|")
    for noise, rate in NOISES[1:]:
        acc = {name: [] for name in methods}
        oracle = []
        for seed in range(seeds):
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                                      random_state=seed)
            y_noisy, _ = noisy_digits(y_tr, noise, rate, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for name, make in methods.items():
                    acc[name].append(make(seed).fit(X_tr, y_noisy).score(X_te, y_te))
                oracle.append(base_model("LR", seed).fit(X_tr, y_tr).score(X_te, y_te))
        cells = [f"{np.mean(v):.3f}" for v in acc.values()] + [f"{np.mean(oracle):.3f}"]
        print(f"| {noise} {rate:.0%} | " + " | ".join(cells) + " |", flush=True)


def synthetic_probs(n: int, K: int, seed: int = 0):
    """``n x K`` probabilities of a softmax classifier that is right about 80% of the time."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % K)    # balanced classes
    y_noisy, truth = make_noisy_labels(y, 0.2, random_state=seed)
    P = rng.standard_normal((n, K)).astype(np.float64)
    P[np.arange(n), y] += 4.0
    P -= P.max(axis=1, keepdims=True)
    np.exp(P, out=P)
    P /= P.sum(axis=1, keepdims=True)
    return y_noisy, truth, P


def measured(run):
    """Wall time and peak traced memory (MiB) of ``run()``, and its result."""
    tracemalloc.start()
    t = time.perf_counter()
    out = run()
    wall = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return out, wall, peak


def scale_probs(n: int, K: int, peer: bool) -> None:
    y_noisy, truth, P = synthetic_probs(n, K)
    print(f"\nscale from pred_probs: n={n:,} x {K:,} classes ({P.nbytes / 2 ** 20:.0f} MiB of "
          "probabilities), 20% symmetric noise, one thread")
    det, wall, peak = measured(
        lambda: NoisyLabelDetector(random_state=0).fit(None, y_noisy, pred_probs=P))
    print(f"  sparsestat: {wall:.1f} s, peak {peak:,.0f} MiB, F1 "
          f"{scores(det.outliers_, truth)[2]:.3f}, est. rate {det.noise_rate_:.3f}", flush=True)
    if peer:
        from cleanlab.filter import find_label_issues
        issues, wall, peak = measured(lambda: find_label_issues(y_noisy, P, n_jobs=1))
        print(f"  cleanlab:   {wall:.1f} s, peak {peak:,.0f} MiB, F1 "
              f"{scores(issues, truth)[2]:.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scale-n", type=int, default=1_000_000)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--probs", action="store_true", help="the comparison from pred_probs")
    ap.add_argument("--clean-learning", action="store_true",
                    help="test accuracy after cleaning, against CleanLearning")
    ap.add_argument("--scale-probs", nargs=2, type=int, action="append", metavar=("N", "K"),
                    default=[], help="time and memory from N x K probabilities")
    ap.add_argument("--skip-peer-scale", action="store_true",
                    help="leave cleanlab out of --scale-probs")
    args = ap.parse_args()
    with threadpool_limits(1):   # same single BLAS thread for both methods
        if not args.skip_quality:
            quality(args.seeds)
        if args.probs:
            probability_quality(args.seeds)
        if args.clean_learning:
            clean_learning(args.seeds)
        for n, K in args.scale_probs:
            scale_probs(n, K, not args.skip_peer_scale)
    if not args.skip_scale:
        scale(args.scale_n)


if __name__ == "__main__":
    main()
