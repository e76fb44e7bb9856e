"""Knockoff selection: sparsestat's KnockoffSelector against knockpy's KnockoffFilter.

Both run side by side in one process on identical data: Gaussian features with
AR(1) correlation ``rho`` (or, with ``--design block``, blocks of 10 features with
correlation ``rho`` inside), a linear model with ``k`` true features of random
sign, and the same knockoff sampler and S-matrix method. Each replicate runs

- ``sparsestat <statistic>``: ``KnockoffSelector`` end to end (s-values,
  knockoffs, statistic, threshold);
- ``knockpy lcd``: ``KnockoffFilter(fstat='lcd')`` end to end, same sampler and
  S method (with Gaussian knockoffs both get the same information: the true
  ``Sigma`` by default, or ``--sigma estimate``: neither, and both estimate it by
  Ledoit-Wolf);
- ``knockpy lcd, same knockoffs``: knockpy's statistic and threshold on
  sparsestat's knockoffs of that replicate, which isolates the statistic.

The first table reports the empirical FDR and power (mean +- standard error over
replicates) and the CPU time per replicate (``time.process_time``; run with one
BLAS thread, e.g. ``OPENBLAS_NUM_THREADS=1``, so that the CPU time is the cost and
the machine's load does not enter). The second table reports paired power
differences (same data; same knockoffs for the last row), whose standard errors
are much smaller than those of the two means.

knockpy is a peer used only here (``pip install knockpy``); it is not a
dependency of sparsestat.

Usage::

    python benchmarks/bench_knockoffs.py                      # a few replicates
    python benchmarks/bench_knockoffs.py --replicates 20
    python benchmarks/bench_knockoffs.py --sizes 1000x200 --s-methods sdp
    python benchmarks/bench_knockoffs.py --sizes 1000x200,3000x1000 --s-methods mvr,maxent
    python benchmarks/bench_knockoffs.py --sizes 3000x1000 --s-methods sdp --sdp-mu 3
    # equicorrelated knockoffs on block-correlated features, model-X with the true Sigma
    python benchmarks/bench_knockoffs.py --design block --rho 0.5 --sampler gaussian \
        --sizes 300x60 --s-methods equi --k 15 --amplitude 7 --replicates 100
    # one replicate per seed, in shards that can run in parallel, then pooled
    python benchmarks/bench_knockoffs.py --sizes 3000x1000 --s-methods sdp \\
        --replicates 1 --seed 100 --records sdp1000.jsonl
    python benchmarks/bench_knockoffs.py --summarize sdp1000.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from sparsestat import KnockoffSelector
from sparsestat.feature_selection import _svalues

KNOCKPY_METHOD = {"equi": "equicorrelated", "sdp": "sdp", "mvr": "mvr", "maxent": "maxent"}
KNOCKPY_SAMPLER = {"fixed": "fx", "gaussian": "gaussian"}
KNOCKPY = "knockpy lcd"
SAME = "knockpy lcd, same knockoffs"


def covariance(p, rho, design="ar1"):
    """AR(1) correlation ``rho^|i - j|``, or blocks of 10 with correlation ``rho`` inside."""
    if design == "block":
        block = np.arange(p) // 10
        return np.where(block[:, None] == block[None, :], rho, 0.0) + (1 - rho) * np.eye(p)
    return rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))


def make_data(n, p, k, rho, amplitude, rng, design="ar1"):
    """Gaussian design and a linear model with k signals of random sign."""
    Sigma = covariance(p, rho, design)
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(Sigma).T
    beta = np.zeros(p)
    support = rng.choice(p, k, replace=False)
    beta[support] = amplitude / np.sqrt(n) * rng.choice([-1.0, 1.0], k)
    y = X @ beta + rng.standard_normal(n)
    return X, y, beta != 0, Sigma


def fdp_and_power(selected, truth):
    n_sel = int(selected.sum())
    return (selected & ~truth).sum() / max(1, n_sel), (selected & truth).sum() / truth.sum()


def run_knockpy(X, y, Sigma, sampler, s_method, fdr, seed, Xk=None):
    """knockpy's KnockoffFilter with the LCD statistic; ``Xk`` given: its statistic only."""
    from knockpy import KnockoffFilter

    np.random.seed(seed)
    kfilter = KnockoffFilter(ksampler=KNOCKPY_SAMPLER[sampler], fstat="lcd",
                             knockoff_kwargs={"method": KNOCKPY_METHOD[s_method]})
    kwargs = {"Sigma": Sigma} if sampler == "gaussian" and Sigma is not None else {}
    if Xk is not None and sampler == "fixed":
        # knockpy centres X itself only when it builds the knockoffs
        mean = X.mean(axis=0)
        X, kwargs["Xk"] = X - mean, Xk - mean
    elif Xk is not None:
        kwargs["Xk"] = Xk
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rejections = kfilter.forward(X=X, y=y, fdr=fdr, **kwargs)
    return np.asarray(rejections).astype(bool)


def run_sparsestat(X, y, Sigma, sampler, s_method, statistic, fdr, seed, store=False):
    sel = KnockoffSelector(fdr=fdr, knockoffs=sampler, s_method=s_method, statistic=statistic,
                           Sigma=Sigma if sampler == "gaussian" else None, random_state=seed,
                           store_knockoffs=store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sel.fit(X, y)


def mean_se(values):
    values = np.asarray(values, dtype=float)
    se = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else np.nan
    return values.mean(), se


def summarize(records, ours=None):
    """Print the two tables from per-replicate records (dicts, see ``--records``)."""
    groups = {}
    for rec in records:
        groups.setdefault((rec["size"], rec["s_method"]), []).append(rec)
    rows, paired = [], []
    for (size, s_method), recs in groups.items():
        by_method = {}
        for rec in recs:
            by_method.setdefault(rec["method"], {})[(rec["seed"], rec["replicate"])] = rec
        base = (np.mean([r["cpu_s"] for r in by_method[KNOCKPY].values()])
                if KNOCKPY in by_method else np.nan)
        for name, reps in by_method.items():
            fdp, power, elapsed = (np.array([r[key] for r in reps.values()], dtype=float)
                                   for key in ("fdp", "power", "cpu_s"))
            rows.append((size, s_method, name, fdp.size, *mean_se(fdp), *mean_se(power),
                         elapsed.mean(), base / elapsed.mean()))
        mine = ours or next((m for m in by_method if m.startswith("sparsestat")), None)
        for other in (KNOCKPY, SAME):
            if mine in by_method and other in by_method:
                keys = sorted(set(by_method[mine]) & set(by_method[other]))
                diff = [by_method[mine][k]["power"] - by_method[other][k]["power"] for k in keys]
                paired.append((size, s_method, f"{mine} - {other}", len(keys), *mean_se(diff)))

    print("| n x p | S method | method | replicates | FDR (+- se) | power (+- se) "
          "| CPU s / replicate | speed-up vs knockpy |")
    print("|" + "---|" * 8)
    for size, s_method, name, count, fdr, se, power, se_power, elapsed, ratio in rows:
        timing = "—" if np.isnan(elapsed) else f"{elapsed:.2f}"
        speed = "—" if np.isnan(ratio) else f"{ratio:.2f}x"
        print(f"| {size} | {s_method} | {name} | {count} | {fdr:.3f} (+- {se:.3f}) "
              f"| {power:.3f} (+- {se_power:.3f}) | {timing} | {speed} |")
    print("\nPaired power differences (same data; same knockoffs in the second row):\n")
    print("| n x p | S method | difference | replicates | power difference (+- se) |")
    print("|" + "---|" * 5)
    for size, s_method, name, count, diff, se in paired:
        print(f"| {size} | {s_method} | {name} | {count} | {diff:+.3f} (+- {se:.3f}) |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--sizes", default="1000x200,3000x1000",
                        help="comma-separated n x p settings")
    parser.add_argument("--s-methods", default="sdp,equi",
                        help="comma-separated: sdp, equi, mvr, maxent (knockpy runs the same)")
    parser.add_argument("--sampler", choices=["fixed", "gaussian"], default="fixed")
    parser.add_argument("--sigma", choices=["true", "estimate"], default="true",
                        help="Gaussian knockoffs: give both the true Sigma, or let both "
                             "estimate it (Ledoit-Wolf)")
    parser.add_argument("--statistics", default="lcd",
                        help="sparsestat statistics to run (knockpy always runs lcd); the "
                             "first one is compared with knockpy in the paired table")
    parser.add_argument("--k", type=int, default=30, help="number of true features")
    parser.add_argument("--rho", type=float, default=0.5)
    parser.add_argument("--design", choices=["ar1", "block"], default="ar1",
                        help="correlation of the features: AR(1) rho, or blocks of 10 "
                             "with correlation rho inside")
    parser.add_argument("--amplitude", type=float, default=4.5,
                        help="signal size, as a multiple of 1/sqrt(n)")
    parser.add_argument("--fdr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0,
                        help="data of replicate r come from numpy's default_rng(seed) stream; "
                             "both packages' knockoff draws are seeded with seed + r")
    parser.add_argument("--sdp-mu", type=float, default=None,
                        help="barrier parameter at which sparsestat's s-values stop, SDP "
                             "and equicorrelated (default: the selectors' own, mu = 0.1); "
                             "larger values put s further inside the feasible set")
    parser.add_argument("--no-knockpy", action="store_true",
                        help="skip knockpy end to end (its statistic on sparsestat's "
                             "knockoffs still runs)")
    parser.add_argument("--records", metavar="PATH",
                        help="append one JSON line per replicate and method to PATH, so runs "
                             "on several seeds (or machines) can be pooled with --summarize")
    parser.add_argument("--summarize", nargs="+", metavar="PATH",
                        help="print the tables from record files and exit")
    args = parser.parse_args(argv)
    if args.summarize:
        records = [json.loads(line) for path in args.summarize
                   for line in open(path, encoding="utf-8") if line.strip()]
        summarize(records)
        return
    if args.sdp_mu is not None:
        # the selectors stop the barrier (SDP and equicorrelated) at this parameter
        _svalues.SELECTOR_MU = args.sdp_mu

    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    s_methods = args.s_methods.split(",")
    statistics = args.statistics.split(",")
    # warm up numba's cached kernels so compile/load time is not billed to a replicate
    Xw, yw, _, _ = make_data(100, 10, 3, args.rho, 5.0, np.random.default_rng(0), args.design)
    for st in statistics:
        run_sparsestat(Xw, yw, None, "fixed", "equi", st, 0.2, 0)

    records = []
    for n, p in sizes:
        for s_method in s_methods:
            rng = np.random.default_rng(args.seed)
            for r in range(args.replicates):
                X, y, truth, Sigma = make_data(n, p, args.k, args.rho, args.amplitude, rng,
                                               args.design)
                Sigma = Sigma if args.sigma == "true" else None
                draw_seed = args.seed + r
                record = {}
                for st in statistics:
                    t0 = time.process_time()
                    sel = run_sparsestat(X, y, Sigma, args.sampler, s_method, st, args.fdr,
                                         draw_seed, store=True)
                    record[f"sparsestat {st}"] = (sel.support_, time.process_time() - t0)
                    if st == statistics[0]:
                        Xk = sel.knockoffs_
                if not args.no_knockpy:
                    t0 = time.process_time()
                    selected = run_knockpy(X, y, Sigma, args.sampler, s_method, args.fdr,
                                           draw_seed)
                    record[KNOCKPY] = (selected, time.process_time() - t0)
                record[SAME] = (run_knockpy(X, y, Sigma, args.sampler, s_method, args.fdr,
                                            draw_seed, Xk=Xk), np.nan)
                for name, (selected, elapsed) in record.items():
                    fdp, power = fdp_and_power(selected, truth)
                    rec = {"size": f"{n}x{p}", "s_method": s_method, "method": name,
                           "seed": args.seed, "replicate": r, "fdp": float(fdp),
                           "power": float(power), "cpu_s": float(elapsed)}
                    records.append(rec)
                    if args.records:
                        with open(args.records, "a", encoding="utf-8") as f:
                            f.write(json.dumps(rec) + "\n")
                powers = ", ".join(f"{name} {records[-len(record) + i]['power']:.2f}"
                                   for i, name in enumerate(record))
                times = ", ".join(f"{name} {elapsed:.2f}" for name, (_, elapsed) in record.items()
                                  if not np.isnan(elapsed))
                print(f"  {n}x{p} {s_method} replicate {r + 1}/{args.replicates}: power {powers}; "
                      f"CPU s {times}", flush=True)

    print(f"\nsampler={args.sampler}  sigma={args.sigma}  {args.design} rho={args.rho}  "
          f"k={args.k}  amplitude={args.amplitude}/sqrt(n)  q={args.fdr}  "
          f"replicates={args.replicates}\n")
    summarize(records, f"sparsestat {statistics[0]}")


if __name__ == "__main__":
    main()
