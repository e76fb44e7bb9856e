"""Path solvers side by side: sparsestat LBI / ISS against scikit-learn's
lasso_path (100 alphas, eps=1e-3) and lars_path.

For each problem: best wall time of 3 calls for a 100-point path, the best l2 estimation error
along the path, support-recovery AUC of the entry order, and the peak extra memory
of the call (resident high-water mark). Run: ``python benchmarks/bench_paths.py``
(``--only lars,iss`` for some of the methods, ``--cpu`` to time with the process's CPU
time, steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
from sklearn.linear_model import lars_path, lasso_path
from sklearn.metrics import roc_auc_score

from sparsestat import _engine


def make_problem(n, p, k, seed=0, snr=5.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    support = rng.choice(p, k, replace=False)
    beta[support] = rng.choice([-1, 1], k) * rng.uniform(1.0, 3.0, k)
    signal = X @ beta
    y = signal + rng.standard_normal(n) * np.std(signal) / np.sqrt(snr)
    return X, y, beta


def standardize(X, y):
    Xc = X - X.mean(0)
    Xs = Xc / Xc.std(0)
    return Xs, y - y.mean()


def _status_kib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


REPEAT = 3
CLOCK = time.perf_counter
METHODS = ("lasso", "lars", "lbi", "iss", "iss32")
ONLY = set(METHODS)


def measure(fn):
    """Best wall time over ``REPEAT`` calls and peak extra resident memory (bytes) of ``fn()``.

    The peak is that of the first call, read from the kernel's high-water mark reset
    just before it (Linux ``clear_refs``), so numba's and BLAS's allocations count too.
    """
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    base = _status_kib("VmRSS:")
    start = CLOCK()
    out = fn()
    best = CLOCK() - start
    peak = max(_status_kib("VmHWM:") - base, 0) * 1024
    for _ in range(REPEAT - 1):
        start = CLOCK()
        fn()
        best = min(best, CLOCK() - start)
    return out, best, peak


def entry_scores_from_coefs(coefs, times):
    """Score = 1 / first time a coefficient is nonzero (0 if never)."""
    nz = coefs != 0
    first = np.where(nz.any(axis=0), np.argmax(nz, axis=0), -1)
    return np.where(first >= 0, 1.0 / times[np.maximum(first, 0)], 0.0)


def run(n, p, k, seed=0):
    X, y, beta = make_problem(n, p, k, seed)
    scale = (X - X.mean(0)).std(0)
    truth = beta != 0
    rows = []

    def best_err(coefs_std):  # coefs (n_times, p) on the standardized scale
        return float(np.min(np.linalg.norm(coefs_std / scale - beta, axis=1)))

    # the peers get standardized data (their usual use); standardizing is in their time
    if "lasso" in ONLY:
        (alphas, coefs, _), t, mem = measure(
            lambda: lasso_path(*standardize(X, y), alphas=100, eps=1e-3))
        rows.append(("lasso_path", t, best_err(coefs.T), roc_auc_score(
            truth, entry_scores_from_coefs(coefs.T, 1 / alphas)), mem))
    if "lars" in ONLY:
        (alphas_l, _, coefs_l), t, mem = measure(
            lambda: lars_path(*standardize(X, y), method="lasso"))
        rows.append(("lars_path", t, best_err(coefs_l.T), roc_auc_score(
            truth, entry_scores_from_coefs(coefs_l.T, 1 / np.maximum(alphas_l, 1e-300))), mem))
    for kappa, t_ratio in ((10.0, 100.0), (10.0, 1000.0), (100.0, 100.0)) if "lbi" in ONLY else ():
        path, t, mem = measure(lambda: _engine.lbi_path(X, y[:, None], kappa=kappa,
                                                        n_times=100, t_ratio=t_ratio))
        score = 1 / path.entry_times[:, 0]
        rows.append((f"LBI k={kappa:g} r={t_ratio:g}", t, best_err(path.coefs[..., 0] * scale),
                     roc_auc_score(truth, score), mem))
    for name, Xi in (("ISS r=100", X), ("ISS r=100 float32", X.astype(np.float32))):
        if ("iss32" if "float32" in name else "iss") not in ONLY:
            continue
        path, t, mem = measure(lambda: _engine.iss_path(Xi, y[:, None], n_times=100,
                                                        t_ratio=100.0))
        rows.append((name, t, best_err(path.coefs[..., 0] * scale),
                     roc_auc_score(truth, 1 / path.entry_times[:, 0]), mem))
        info = path.info
        print(f"  {name}: {path.n_iter} knots, {info['joins']} joins, {info['drops']} drops, "
              f"{info['mode']} mode")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per method (best)")
    parser.add_argument("--only", default=",".join(METHODS),
                        help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument("--cpu", action="store_true",
                        help="time with process CPU time instead of wall time")
    args = parser.parse_args()
    global REPEAT, CLOCK, ONLY
    REPEAT = max(1, args.repeat)
    CLOCK = time.process_time if args.cpu else time.perf_counter
    ONLY = set(args.only.split(","))
    unknown = ONLY - set(METHODS)
    if unknown:
        parser.error(f"unknown method(s) in --only: {', '.join(sorted(unknown))}")
    problems = [(500, 5000, 20), (20000, 200, 20)]
    if args.quick:
        problems = [(200, 1000, 10), (5000, 100, 10)]
    # first-call compile cost (numba caches to disk; a fresh install pays it once)
    X, y, _ = make_problem(50, 10, 3)
    start = time.perf_counter()
    _engine.lbi_path(X, y[:, None])
    _engine.iss_path(X, y[:, None])
    print(f"warm-up (compile or load cached kernels): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    _engine.iss_path(X.astype(np.float32), y[:, None])
    print(f"float32 ISS warm-up (its own compiled variant): {time.perf_counter() - start:.2f} s\n")
    for n, p, k in problems:
        X_bytes = n * p * 8
        print(f"n={n}, p={p}, {k} true features (X is {X_bytes / 2**20:.1f} MiB)")
        rows = run(n, p, k)
        ref = {r[0]: r[1] for r in rows}
        print(f"{'method':<20}{'time s':>9}{'vs lasso':>10}{'vs lars':>9}{'best l2 err':>13}"
              f"{'AUC':>7}{'peak MiB':>10}")
        for name, t, err, auc, mem in rows:
            vs_lasso = t / ref["lasso_path"] if "lasso_path" in ref else np.nan
            vs_lars = t / ref["lars_path"] if "lars_path" in ref else np.nan
            print(f"{name:<20}{t:>9.3f}{vs_lasso:>10.2f}{vs_lars:>9.2f}"
                  f"{err:>13.4f}{auc:>7.3f}{mem / 2**20:>10.1f}")
        print()


if __name__ == "__main__":
    main()
