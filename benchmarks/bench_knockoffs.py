"""Knockoff selection: sparsestat's KnockoffSelector against knockpy's KnockoffFilter.

Both run side by side in one process on identical data: Gaussian features with
AR(1) correlation ``rho``, a linear model with ``k`` true features of random
sign, and the same knockoff sampler and S-matrix method. The table reports the
empirical FDR and power over the replicates and the wall time per replicate
(knockoff construction, S-matrix, statistic and threshold: everything).

knockpy is a peer used only here (``pip install knockpy``); it is not a
dependency of sparsestat.

Usage::

    python benchmarks/bench_knockoffs.py                      # a few replicates
    python benchmarks/bench_knockoffs.py --replicates 20
    python benchmarks/bench_knockoffs.py --sizes 1000x200 --s-methods sdp
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from sparsestat import KnockoffSelector

KNOCKPY_METHOD = {"equi": "equicorrelated", "sdp": "sdp"}
KNOCKPY_SAMPLER = {"fixed": "fx", "gaussian": "gaussian"}


def make_data(n, p, k, rho, amplitude, rng):
    """AR(1) Gaussian design and a linear model with k signals of random sign."""
    Sigma = rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(Sigma).T
    beta = np.zeros(p)
    support = rng.choice(p, k, replace=False)
    beta[support] = amplitude / np.sqrt(n) * rng.choice([-1.0, 1.0], k)
    y = X @ beta + rng.standard_normal(n)
    return X, y, beta != 0, Sigma


def fdp_and_power(selected, truth):
    n_sel = int(selected.sum())
    return (selected & ~truth).sum() / max(1, n_sel), (selected & truth).sum() / truth.sum()


def run_knockpy(X, y, Sigma, sampler, s_method, fdr, seed):
    from knockpy import KnockoffFilter

    np.random.seed(seed)
    kfilter = KnockoffFilter(ksampler=KNOCKPY_SAMPLER[sampler], fstat="lcd",
                             knockoff_kwargs={"method": KNOCKPY_METHOD[s_method]})
    kwargs = {"Sigma": Sigma} if sampler == "gaussian" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rejections = kfilter.forward(X=X, y=y, fdr=fdr, **kwargs)
    return np.asarray(rejections).astype(bool)


def run_sparsestat(X, y, Sigma, sampler, s_method, statistic, fdr, seed):
    sel = KnockoffSelector(fdr=fdr, knockoffs=sampler, s_method=s_method, statistic=statistic,
                           Sigma=Sigma if sampler == "gaussian" else None, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sel.fit(X, y).support_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--sizes", default="1000x200,3000x1000",
                        help="comma-separated n x p settings")
    parser.add_argument("--s-methods", default="sdp,equi")
    parser.add_argument("--sampler", choices=["fixed", "gaussian"], default="fixed")
    parser.add_argument("--statistics", default="lcd,lbi",
                        help="sparsestat statistics to run (knockpy always runs lcd)")
    parser.add_argument("--k", type=int, default=30, help="number of true features")
    parser.add_argument("--rho", type=float, default=0.5)
    parser.add_argument("--amplitude", type=float, default=4.5,
                        help="signal size, as a multiple of 1/sqrt(n)")
    parser.add_argument("--fdr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-knockpy", action="store_true")
    args = parser.parse_args(argv)

    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    s_methods = args.s_methods.split(",")
    statistics = args.statistics.split(",")
    # warm up numba's cached kernels so compile/load time is not billed to a replicate
    Xw, yw, _, _ = make_data(100, 10, 3, args.rho, 5.0, np.random.default_rng(0))
    run_sparsestat(Xw, yw, None, "fixed", "equi", "lbi", 0.2, 0)

    rows = []
    for n, p in sizes:
        for s_method in s_methods:
            results = {}
            rng = np.random.default_rng(args.seed)
            for r in range(args.replicates):
                X, y, truth, Sigma = make_data(n, p, args.k, args.rho, args.amplitude, rng)
                runners = [(f"sparsestat {st}", lambda st=st: run_sparsestat(
                    X, y, Sigma, args.sampler, s_method, st, args.fdr, r)) for st in statistics]
                if not args.no_knockpy:
                    runners.append(("knockpy lcd", lambda: run_knockpy(
                        X, y, Sigma, args.sampler, s_method, args.fdr, r)))
                for name, run in runners:
                    t0 = time.perf_counter()
                    selected = run()
                    elapsed = time.perf_counter() - t0
                    fdp, power = fdp_and_power(selected, truth)
                    results.setdefault(name, []).append((fdp, power, elapsed))
            base = np.mean([t for *_, t in results["knockpy lcd"]]) if "knockpy lcd" in results \
                else np.nan
            for name, values in results.items():
                fdp, power, elapsed = (np.array(v) for v in zip(*values))
                se = fdp.std(ddof=1) / np.sqrt(len(fdp)) if len(fdp) > 1 else np.nan
                se_power = power.std(ddof=1) / np.sqrt(len(fdp)) if len(fdp) > 1 else np.nan
                rows.append((f"{n}x{p}", s_method, name, fdp.mean(), se, power.mean(), se_power,
                             elapsed.mean(), base / elapsed.mean()))

    print(f"\nsampler={args.sampler}  AR(1) rho={args.rho}  k={args.k}  "
          f"amplitude={args.amplitude}/sqrt(n)  q={args.fdr}  replicates={args.replicates}\n")
    header = ("| n x p | S method | method | FDR (+- se) | power (+- se) | s / replicate "
              "| speed-up vs knockpy |")
    print(header)
    print("|" + "---|" * 7)
    for size, s_method, name, fdr, se, power, se_power, elapsed, ratio in rows:
        print(f"| {size} | {s_method} | {name} | {fdr:.3f} (+- {se:.3f}) "
              f"| {power:.3f} (+- {se_power:.3f}) | {elapsed:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
