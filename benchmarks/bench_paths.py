"""Path solvers side by side: sparsestat LBI / ISS against glmnet (the ``glmnet-rs``
port of its coordinate descent), adelie's ``grpnet`` and scikit-learn's lasso_path
(100 alphas, eps=1e-3) and lars_path.

The peers are optional: one that cannot be imported is skipped with a note
(``make bench`` installs them into their own environment, ``build/venv-bench``,
from ``benchmarks/requirements-peers.txt``). Problems: ``iid`` (n=500, p=5000),
``tall`` (n=20000, p=200), ``ar1`` (n=1000, p=10000, AR(1) correlation 0.7, 40 true),
``sparse`` (CSC, n=5000, p=20000, density 0.002, 50 true) and ``sparse-large``
(n=20000, p=50000); ``--problems`` picks some.

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
import scipy.sparse as sp
from sklearn.linear_model import lars_path, lasso_path
from sklearn.metrics import roc_auc_score

from sparsestat import _engine


def make_problem(n, p, k, seed=0, snr=5.0, rho=0.0, density=None):
    """Gaussian X (AR(1) columns with correlation ``rho``; CSC with the given
    ``density`` of standard normal nonzeros), ``k`` true coefficients of random
    sign and size 1-3 (on columns with at least 3 nonzeros when sparse)."""
    rng = np.random.default_rng(seed)
    if density is None:
        X = rng.standard_normal((n, p))
        for j in range(1, p if rho else 0):
            X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho ** 2) * X[:, j]
        candidates = np.arange(p)
    else:
        X = sp.random(n, p, density=density, format="csc", random_state=rng,
                      data_rvs=rng.standard_normal)
        candidates = np.flatnonzero(np.diff(X.indptr) >= 3)
    beta = np.zeros(p)
    support = rng.choice(candidates, k, replace=False)
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
METHODS = ("glmnet", "adelie", "lasso", "lars", "lbi", "iss", "iss32")
ONLY = set(METHODS)
# name: (n, p, true coefficients, AR(1) correlation, density of a sparse X)
PROBLEMS = {
    "iid": (500, 5000, 20, 0.0, None),
    "tall": (20000, 200, 20, 0.0, None),
    "ar1": (1000, 10000, 40, 0.7, None),
    "sparse": (5000, 20000, 50, 0.0, 0.002),
    "sparse-large": (20000, 50000, 50, 0.0, 0.002),
}
QUICK = {"iid": (200, 1000, 10, 0.0, None), "tall": (5000, 100, 10, 0.0, None),
         "ar1": (300, 2000, 10, 0.7, None), "sparse": (1000, 4000, 10, 0.0, 0.005)}


def _import_peer(name):
    """The peer's module, or ``None`` (with a note) when it is not installed."""
    try:
        if name == "glmnet":
            import glmnetrs as module
        else:
            import adelie as module
    except ImportError as exc:
        print(f"  ({name} skipped: not importable here ({exc}); `make bench` installs it)")
        return None
    return module


def glmnet_path(glmnetrs, X, y):
    """glmnet's lasso path: 100 lambdas down to 1e-3 of the largest, its own standardization."""
    fit = glmnetrs.glmnet(sp.csc_matrix(X) if sp.issparse(X) else X, y, alpha=1.0,
                          nlambda=100, lambda_min_ratio=1e-3)
    return fit.lambda_, fit.beta.T


def adelie_path(ad, X, y):
    """adelie's lasso path (grpnet, one feature per group): 100 lambdas down to 1e-3,
    on the standardized design (implicitly centred when sparse), mapped back."""
    if sp.issparse(X):
        Xc = sp.csc_matrix(X)
        mean = np.asarray(Xc.mean(axis=0)).ravel()
        sd = np.sqrt(np.maximum(np.asarray(Xc.multiply(Xc).mean(axis=0)).ravel() - mean ** 2, 0))
        sd = np.where(sd > 0, sd, 1.0)
        Xa = ad.matrix.standardize(ad.matrix.sparse(Xc, method="naive"), centers=mean,
                                   scales=sd)
    else:
        mean, sd = X.mean(0), X.std(0)
        Xa = np.asfortranarray((X - mean) / sd)
    state = ad.grpnet(Xa, ad.glm.gaussian(y - y.mean()), min_ratio=1e-3, lmda_path_size=100,
                      early_exit=False, progress_bar=False, intercept=False)
    betas = state.betas.toarray() / sd
    return np.asarray(state.lmdas), betas


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


def run(n, p, k, rho=0.0, density=None, seed=0):
    X, y, beta = make_problem(n, p, k, seed, rho=rho, density=density)
    if sp.issparse(X):
        mean = np.asarray(X.mean(axis=0)).ravel()
        scale = np.sqrt(np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean ** 2)
    else:
        scale = (X - X.mean(0)).std(0)
    scale = np.where(scale > 0, scale, 1.0)
    truth = beta != 0
    rows = []

    def best_err(coefs_std):  # coefs (n_times, p) on the standardized scale
        return float(np.min(np.linalg.norm(coefs_std / scale - beta, axis=1)))

    for name, fn in (("glmnet", glmnet_path), ("adelie", adelie_path)):
        module = _import_peer(name) if name in ONLY else None
        if module is None:
            continue
        (lambdas, coefs), t, mem = measure(lambda: fn(module, X, y))
        rows.append((name, t, best_err(coefs * scale), roc_auc_score(
            truth, entry_scores_from_coefs(coefs, 1 / lambdas)), mem))
    # the scikit-learn peers get standardized dense data; standardizing is in their time
    if "lasso" in ONLY and not sp.issparse(X):
        (alphas, coefs, _), t, mem = measure(
            lambda: lasso_path(*standardize(X, y), alphas=100, eps=1e-3))
        rows.append(("lasso_path", t, best_err(coefs.T), roc_auc_score(
            truth, entry_scores_from_coefs(coefs.T, 1 / alphas)), mem))
    if "lars" in ONLY and not sp.issparse(X):
        (alphas_l, _, coefs_l), t, mem = measure(
            lambda: lars_path(*standardize(X, y), method="lasso"))
        rows.append(("lars_path", t, best_err(coefs_l.T), roc_auc_score(
            truth, entry_scores_from_coefs(coefs_l.T, 1 / np.maximum(alphas_l, 1e-300))), mem))
    settings = ((10.0, 100.0),) if sp.issparse(X) or p >= 10000 else \
        ((10.0, 100.0), (10.0, 1000.0), (100.0, 100.0))
    for kappa, t_ratio in settings if "lbi" in ONLY else ():
        path, t, mem = measure(lambda: _engine.lbi_path(X, y[:, None], kappa=kappa,
                                                        n_times=100, t_ratio=t_ratio))
        score = 1 / path.entry_times[:, 0]
        rows.append((f"LBI k={kappa:g} r={t_ratio:g}", t, best_err(path.coefs[..., 0] * scale),
                     roc_auc_score(truth, score), mem))
    for name, Xi in (("ISS r=100", X), ("ISS r=100 float32", X.astype(np.float32))):
        if ("iss32" if "float32" in name else "iss") not in ONLY or \
                ("float32" in name and sp.issparse(X)):
            continue
        path, t, mem = measure(lambda: _engine.iss_path(Xi, y[:, None], n_times=100,
                                                        t_ratio=100.0))
        rows.append((name, t, best_err(path.coefs[..., 0] * scale),
                     roc_auc_score(truth, 1 / path.entry_times[:, 0]), mem))
        info = path.info
        print(f"  {name}: {path.n_iter} knots, {info['joins']} joins, {info['drops']} drops, "
              f"{info['mode']} mode, {info['reference_moves']} moves of the screening reference")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per method (best)")
    parser.add_argument("--only", default=",".join(METHODS),
                        help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument("--problems", default="iid,tall,ar1,sparse,sparse-large",
                        help=f"comma-separated subset of {', '.join(PROBLEMS)}")
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
    table = QUICK if args.quick else PROBLEMS
    names = [name for name in args.problems.split(",") if name in table]
    # first-call compile cost (numba caches to disk; a fresh install pays it once)
    start = time.perf_counter()
    for density in (None, 0.1):
        X, y, _ = make_problem(60, 3000, 3, density=density)
        _engine.lbi_path(X, y[:, None])
        _engine.iss_path(X, y[:, None])
    print(f"warm-up (compile or load cached kernels): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    _engine.iss_path(X.astype(np.float32).toarray(), y[:, None])
    print(f"float32 ISS warm-up (its own compiled variant): {time.perf_counter() - start:.2f} s\n")
    for name in names:
        n, p, k, rho, density = table[name]
        kind = f"CSC, density {density:g}" if density else \
            (f"AR(1) {rho:g}" if rho else "iid") + f", X is {n * p * 8 / 2**20:.1f} MiB"
        print(f"{name}: n={n}, p={p}, {k} true features ({kind})")
        rows = run(n, p, k, rho, density)
        ref = {r[0]: r[1] for r in rows}
        base = "glmnet" if "glmnet" in ref else ("lasso_path" if "lasso_path" in ref else None)
        print(f"{'method':<20}{'time s':>9}{'vs ' + str(base):>14}{'best l2 err':>13}"
              f"{'AUC':>7}{'peak MiB':>10}")
        for method, t, err, auc, mem in rows:
            ratio = t / ref[base] if base else np.nan
            print(f"{method:<20}{t:>9.3f}{ratio:>14.2f}{err:>13.4f}{auc:>7.3f}"
                  f"{mem / 2**20:>10.1f}")
        print()


if __name__ == "__main__":
    main()
