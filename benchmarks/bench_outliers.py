"""Outlier detection and robust regression: MeanShiftOutlierDetector against the peers.

Part 1 -- detection quality and wall time on generated data with 10% and 25%
outliers (all of them bad leverage points in one cluster, or half of them),
plus clean good leverage points, side by side with scikit-learn's
HuberRegressor, RANSACRegressor, TheilSenRegressor and statsmodels' RLM
(Huber's T). Peers without their own outlier flag flag ``|r_i| > 2.5 s``
with ``s`` their own robust scale (RLM: its scale; Theil-Sen: the MAD of its
residuals).

Part 2 -- one large fit (n = 1,000,000, p = 20): CPU time, wall time and the
peak memory the fit adds, measured in a fresh process, as a multiple of the
size of X (goal: at most 7 s of CPU time with F1 >= 0.99, under 4x the memory).

Times are CPU times of the process (``time.process_time``), with one BLAS
thread: on a shared machine the wall time is mostly the other jobs' load.

Run: ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_outliers.py
[--quick] [--skip-large] [--skip-quality] [--large-methods ours,huber,rlm]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

CUT = 2.5


def _flags_from_scale(resid, scale):
    return np.abs(resid) > CUT * scale


def _mad(r):
    return 1.4826 * np.median(np.abs(r - np.median(r)))


def run_methods(X, y, seed):
    """(name, flagged mask, seconds) for every method on one data set."""
    import statsmodels.api as sm
    from sklearn.linear_model import HuberRegressor, RANSACRegressor, TheilSenRegressor

    from sparsestat import MeanShiftOutlierDetector

    out = []

    def timed(name, fn):
        start = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flags = fn()
        out.append((name, flags, time.process_time() - start))

    timed("MeanShift (ours)", lambda: MeanShiftOutlierDetector(random_state=seed)
          .fit(X, y).outliers_)
    timed("HuberRegressor", lambda: HuberRegressor(max_iter=1000).fit(X, y).outliers_)
    timed("RANSACRegressor", lambda: ~RANSACRegressor(random_state=seed).fit(X, y)
          .inlier_mask_)

    def theil_sen():
        model = TheilSenRegressor(random_state=seed).fit(X, y)
        r = y - model.predict(X)
        return _flags_from_scale(r, _mad(r))

    timed("TheilSenRegressor", theil_sen)

    def rlm():
        res = sm.RLM(y, sm.add_constant(X), M=sm.robust.norms.HuberT()).fit()
        return _flags_from_scale(res.resid, res.scale)

    timed("statsmodels RLM", rlm)
    return out


def quality_table(quick: bool) -> list[str]:
    from sparsestat.datasets import make_outlier_regression

    n, p = (600, 5) if quick else (2000, 10)
    seeds = [0] if quick else [0, 1, 2]
    from sparsestat import MeanShiftOutlierDetector

    warm = make_outlier_regression(300, p, 0.1, 0.5, random_state=9)
    MeanShiftOutlierDetector(random_state=0).fit(*warm[:2])  # load the compiled kernels
    lines = [f"Detection on generated data, n={n}, p={p}, {len(seeds)} seed(s) "
             "(mean precision / recall / F1; CPU time in s; ratio = time / ours)",
             "", "| setting | method | precision | recall | F1 | time | ratio |",
             "|---|---|---|---|---|---|---|"]
    for contamination in (0.10, 0.25):
        for leverage in (1.0, 0.5):
            setting = (f"{contamination:.0%} outliers, {leverage:.0%} at leverage "
                       "+ 20 good leverage")
            scores: dict[str, list] = {}
            for seed in seeds:
                X, y, truth = make_outlier_regression(
                    n, p, contamination=contamination, leverage=leverage,
                    n_good_leverage=20, random_state=seed)
                for name, flags, sec in run_methods(X, y, seed):
                    tp = np.sum(flags & truth)
                    prec = tp / max(flags.sum(), 1)
                    rec = tp / max(truth.sum(), 1)
                    f1 = 2 * prec * rec / max(prec + rec, 1e-300)
                    scores.setdefault(name, []).append((prec, rec, f1, sec))
            ours = np.mean([s[3] for s in scores["MeanShift (ours)"]])
            for name, vals in scores.items():
                prec, rec, f1, sec = np.mean(np.array(vals), axis=0)
                lines.append(f"| {setting} | {name} | {prec:.3f} | {rec:.3f} | {f1:.3f} | "
                             f"{sec:.2f} | {sec / ours:.2f} |")
    return lines


def _large_child(n: int, p: int, method: str) -> dict:
    """Runs in a fresh process: generate, warm up, fit once; report time and memory."""
    import statsmodels.api as sm
    from sklearn.linear_model import HuberRegressor

    from sparsestat import MeanShiftOutlierDetector
    from sparsestat.datasets import make_outlier_regression

    X, y, truth = make_outlier_regression(2000, p, 0.1, 0.5, random_state=1)
    MeanShiftOutlierDetector(random_state=0).fit(X, y)          # numba compilation
    X, y, truth = make_outlier_regression(n, p, 0.1, 0.5, random_state=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    cpu = time.process_time()
    if method == "ours":
        flags = MeanShiftOutlierDetector(random_state=0).fit(X, y).outliers_
    elif method == "huber":
        flags = HuberRegressor(max_iter=1000).fit(X, y).outliers_
    else:
        res = sm.RLM(y, sm.add_constant(X), M=sm.robust.norms.HuberT()).fit()
        flags = _flags_from_scale(res.resid, res.scale)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tp = np.sum(flags & truth)
    precision, recall = tp / max(flags.sum(), 1), tp / truth.sum()
    return {"seconds": seconds, "cpu": cpu, "extra": peak - before, "x_bytes": X.nbytes,
            "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / max(precision + recall, 1e-300)}


def large_table(n: int, p: int, methods) -> list[str]:
    lines = [f"Large fit, n={n:,}, p={p}, 10% outliers (half at leverage); peak memory "
             "added by the fit (fresh process, after the data exist) / size of X",
             "", "| method | CPU time (s) | wall time (s) | peak extra memory / X | precision "
             "| recall | F1 |", "|---|---|---|---|---|---|---|"]
    for name, key in methods:
        cmd = [sys.executable, __file__, "--child", key, "--n", str(n), "--p", str(p)]
        res = subprocess.run(cmd, capture_output=True, text=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if res.returncode != 0:
            lines.append(f"| {name} | failed: {res.stderr.strip().splitlines()[-1]} | | | | | |")
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        lines.append(f"| {name} | {r['cpu']:.1f} | {r['seconds']:.1f} | "
                     f"{r['extra'] / r['x_bytes']:.2f} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {r['f1']:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--skip-large", action="store_true", help="skip the n=1e6 part")
    parser.add_argument("--skip-quality", action="store_true", help="only the n=1e6 part")
    parser.add_argument("--large-methods", default="ours,huber,rlm",
                        help="comma-separated methods of the large fit (ours, huber, rlm)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--p", type=int, default=20)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_large_child(args.n, args.p, args.child), default=float))
        return
    import platform

    print(f"# bench_outliers ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus)\n")
    if not args.skip_quality:
        print("\n".join(quality_table(args.quick)))
    if not args.skip_large:
        n = 100_000 if args.quick else args.n
        names = {"ours": "MeanShift (ours)", "huber": "HuberRegressor", "rlm": "statsmodels RLM"}
        keys = [k for k in args.large_methods.split(",") if k]
        print()
        print("\n".join(large_table(n, args.p, [(names[k], k) for k in keys])))


if __name__ == "__main__":
    main()
