"""Dask: strong scaling of the joblib loops on a LocalCluster, and the out-of-core mean shift.

Scaling (``--skip-scaling`` to leave out): ``LBIRegressorCV(cv=10)`` (``--cv-n`` x
``--cv-p`` Gaussian design, 10 true coefficients) and ``NoisyLabelDetector`` (``--nl-n``
samples, 32 features, 10 Gaussian classes, 20% symmetric label noise) fitted inside
``joblib.parallel_config(backend="dask")`` on a ``distributed.LocalCluster`` of 1 and of 2
worker processes with one thread each (after a warm-up fit on every worker that loads
the compiled kernels; the best of three runs). Printed: the wall time with 1 and 2 workers and their ratio;
the serial part (what runs in the client: the full path of the CV estimator, the linear
fit and neighbour votes of the detector, measured alone) and the cost of one task (a fold,
a group of pieces, measured by the sequential fit); and what 16 workers should give by
the same arithmetic, ``T_16 = T_serial + ceil(tasks / 16) * t_task + overhead`` with the
scheduling overhead measured on 1 worker.

Out of core (``--skip-mean-shift`` to leave out): ``MeanShiftOutlierDetector.fit`` on a
dask array of ``--n`` rows x 20 features generated chunk by chunk on the workers (never
in one process), ``y = X beta + N(0, 1)`` with 1% of the rows shifted by 10 and 0.1% bad
leverage points (``x`` moved by 8 standard deviations, ``y`` unrelated). Compared with
the in-memory fit of the first ``--ref-n`` rows (``--dask-path`` chooses the dask fit's
path: over all rows or on the sample): agreement of the flags on those rows,
recall of the planted outliers, clean rows flagged, and the largest coefficient
difference; with the wall time and the peak resident memory of each worker and of the
client.

Path check (``--path-check-n``, e.g. 300000 with ``--chunk 50000``): the dask fit's shift
path over all rows, from the start of a 100,000-row sample, against the engine's path run
on all the rows at once in memory with the same start and scale (the rows that enter,
their entry times and their recorded shifts).

The machine the numbers in ``docs/parallel.md`` come from has two cores shared with other
work: the timings are noisy (rerun to see the spread); the ratios and the arithmetic are
the point.

Run: ``python benchmarks/bench_dask.py [--n 10000000] [--ref-n 1000000]
[--chunk 250000] [--dask-path full] [--skip-scaling] [--skip-mean-shift]``. Needs ``pip install
"sparsestat[dask]"``.
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import joblib
import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cluster(n_workers):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="6GiB",
                           env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    return cluster, Client(cluster)


def _timed(fit) -> float:
    start = time.perf_counter()
    fit()
    return time.perf_counter() - start


# --------------------------------------------------------------------------- scaling
def _cv_case(n, p):
    from sparsestat import LBIRegressor, LBIRegressorCV

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p))
    y = X[:, :10] @ rng.uniform(1, 3, 10) + rng.standard_normal(n)
    fit = lambda: LBIRegressorCV(cv=10).fit(X, y)   # noqa: E731
    serial = lambda: LBIRegressor().fit(X, y)        # noqa: E731
    return "LBIRegressorCV(cv=10)", fit, serial, 10


def _noisy_case(n):
    from sparsestat.robust import NoisyLabelDetector

    X, y = _noisy_data(n)

    def serial():
        # everything but the pieces: the detector with a stub for their entry times
        det = NoisyLabelDetector(random_state=0)
        det._entry_times = lambda Z, codes, K: (np.zeros(len(codes)), [None], [None])
        det.fit(X, y)

    fit = lambda: NoisyLabelDetector(random_state=0).fit(X, y)   # noqa: E731
    return "NoisyLabelDetector", fit, serial, None


def scaling(args):
    from sparsestat.robust import NoisyLabelDetector

    cases = [_cv_case(args.cv_n, args.cv_p), _noisy_case(args.nl_n)]
    rows = []
    for name, fit, serial, tasks in cases:
        fit()                                   # compile / load the kernels here
        t_seq = _timed(fit)
        t_serial = _timed(serial)
        if tasks is None:                       # groups of pieces: four per worker
            det = NoisyLabelDetector(random_state=0).fit(*_noisy_data(args.nl_n))
            tasks = min(int(det.pieces_.max()) + 1, 4 * 16)
        t_work = t_seq - t_serial               # the work the tasks share
        measured = {}
        for w in (1, 2):
            cluster, client = _cluster(w)
            with client, joblib.parallel_config(backend="dask"):
                client.run(fit)                 # warm-up: every worker loads the kernels
                measured[w] = min(_timed(fit) for _ in range(3))
            cluster.close()
        n_tasks = tasks
        t_task = t_work / n_tasks
        overhead = max(measured[1] - t_seq, 0.0)
        t16 = t_serial + math.ceil(n_tasks / 16) * t_task + overhead
        rows.append((name, t_seq, measured[1], measured[2], measured[1] / measured[2],
                     t_serial, n_tasks, t_task, t16, t_seq / t16))
    print("\n## Strong scaling on a LocalCluster (processes, 1 thread per worker)\n")
    print("| estimator | sequential (s) | 1 worker (s) | 2 workers (s) | ratio 1/2 | serial "
          "part (s) | tasks at 16 | s per task | 16 workers, projected (s) | speed-up vs "
          "sequential |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.2f} | "
              f"{r[6]} | {r[7]:.3f} | {r[8]:.2f} | {r[9]:.1f} |")


def _noisy_data(n):
    from sklearn.datasets import make_blobs

    from sparsestat.datasets import make_noisy_labels

    X, y = make_blobs(n, 32, centers=10, cluster_std=4.0, random_state=0)
    return X, make_noisy_labels(y, 0.2, random_state=1)[0]


# --------------------------------------------------------------------------- out of core
P = 20


def _block(i, rows, seed=20261202):
    """Rows of block ``i``: ``[X, y, planted]`` (planted: 1 vertical, 2 leverage, 0 clean)."""
    rng = np.random.default_rng([seed, i])
    beta = np.random.default_rng(seed).uniform(-2, 2, P)
    X = rng.standard_normal((rows, P))
    y = X @ beta + 1.0 + rng.standard_normal(rows)
    kind = rng.choice(3, rows, p=[0.989, 0.01, 0.001])
    y[kind == 1] += 10.0
    lev = kind == 2
    X[lev] += 8.0
    y[lev] = rng.standard_normal(lev.sum())
    return np.column_stack([X, y, kind])


def _big_data(n, chunk):
    import dask
    import dask.array as da

    sizes = [min(chunk, n - s) for s in range(0, n, chunk)]
    blocks = [da.from_delayed(dask.delayed(_block)(i, m), shape=(m, P + 2), dtype=float)
              for i, m in enumerate(sizes)]
    Z = da.concatenate(blocks, axis=0)
    return Z[:, :P], Z[:, P], Z[:, P + 1]


def mean_shift(args):
    from sparsestat import MeanShiftOutlierDetector

    cluster, client = _cluster(2)
    with client:
        X, y, kind = _big_data(args.n, args.chunk)
        start = time.perf_counter()
        det = MeanShiftOutlierDetector(random_state=0, verbose=1,
                                       dask_path=args.dask_path).fit(X, y)
        flags, planted = (a.compute() for a in (det.outliers_, kind))
        entered = (det.regularization_path_.info["rows"].size
                   if args.dask_path == "full" else None)
        t_dask = time.perf_counter() - start
        worker_mb = [v / 1024.0 for v in client.run(
            lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).values()]
        client_mb = _peak_rss_mb()
        Zr = np.vstack([_block(i, min(args.chunk, args.n - s))
                        for i, s in enumerate(range(0, args.ref_n, args.chunk))])[:args.ref_n]
    cluster.close()
    start = time.perf_counter()
    ref = MeanShiftOutlierDetector(random_state=0).fit(Zr[:, :P], Zr[:, P])
    t_ref = time.perf_counter() - start
    shared = flags[:args.ref_n]
    bad = planted > 0
    print(f"\n## Out-of-core mean shift: {args.n} x {P} in chunks of {args.chunk} rows, "
          f"2 workers\n")
    print("| fit | rows | flagged | planted found | clean flagged | wall (s) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| dask (all rows) | {args.n} | {int(flags.sum())} | {int((flags & bad).sum())} / "
          f"{int(bad.sum())} | {int((flags & ~bad).sum())} | {t_dask:.1f} | workers "
          f"{', '.join(f'{m:.0f}' for m in worker_mb)}; client {client_mb:.0f} |")
    rbad = bad[:args.ref_n]
    print(f"| in memory (first {args.ref_n}) | {args.ref_n} | {ref.n_outliers_} | "
          f"{int((ref.outliers_ & rbad).sum())} / {int(rbad.sum())} | "
          f"{int((ref.outliers_ & ~rbad).sum())} | {t_ref:.1f} | (this process) |")
    if entered is not None:
        path = det.regularization_path_
        print(f"\nThe shift path over all rows: {entered} rows enter by t = "
              f"{path.times[-1]:.4g} ({path.n_iter} LBI steps; {path.coefs.nnz} recorded "
              f"nonzero shifts at {path.times.size} times).")
    print(f"\nOn the {args.ref_n} shared rows the flags differ on "
          f"{int(np.sum(shared != ref.outliers_))} rows; largest coefficient difference "
          f"{np.max(np.abs(det.coef_ - ref.coef_)):.2e} (the two fits use different rows).")


def path_check(n, chunk):
    """The dask fit's path over all rows (a sample start) against the engine run on all rows."""
    import dask
    import dask.array as da

    from sparsestat import MeanShiftOutlierDetector, _dask
    from sparsestat._engine import projected_shift_path
    from sparsestat.robust._linalg import thin_basis
    from sparsestat.robust._mean_shift import _robust_dual, auto_cutoff

    Z = np.vstack([_block(i, min(chunk, n - s)) for i, s in enumerate(range(0, n, chunk))])
    X, y = Z[:, :P], Z[:, P]
    starts = []
    sample_start = _dask._sample_start

    def keep_start(*args):
        starts.append(sample_start(*args))
        return starts[-1]

    _dask._sample_start = keep_start
    try:
        with dask.config.set(scheduler="synchronous"):
            det = MeanShiftOutlierDetector(random_state=0).fit(
                da.from_array(X, chunks=(chunk, -1)), da.from_array(y, chunks=chunk))
            flags, entry = det.outliers_.compute(), det.entry_times_.compute()
    finally:
        _dask._sample_start = sample_start
    start = starts[-1]
    # the same path on all rows at once: the kept rows' scale, the sample's start
    A = np.column_stack([np.ones(n), X])
    coef, *_ = np.linalg.lstsq(A[~flags], y[~flags], rcond=None)
    sigma = np.sqrt(np.sum((y - A @ coef)[~flags] ** 2) / ((~flags).sum() - A.shape[1]))
    Q = thin_basis(X).Q
    omega = np.sqrt(1.0 - np.sum(Q ** 2, axis=1))
    c = auto_cutoff(n)
    Yt = (y / sigma)[:, None]
    U = start.residuals(X, y[:, None]) * start.col_scale / sigma
    ref = projected_shift_path(Q, Yt, weights=omega, max_active=n // 2,
                               times=n / c / 2 * np.geomspace(1 + 1e-9, 4.0, 100),
                               z_start=_robust_dual(Q, Yt, U, omega, c, 100.0),
                               t_start=n / c / 2)
    expected = ref.entry_times[:, 0]
    entered = np.isfinite(expected)
    rows = det.regularization_path_.info["rows"]
    shifts = sigma * ref.coefs[:, rows].toarray()
    print(f"\n## The path over {n} rows in chunks of {chunk} (a sample of "
          f"{min(n, _dask.SAMPLE_SIZE)}) against the engine on all rows\n")
    print(f"Rows that enter: {int(np.isfinite(entry).sum())} (engine {int(entered.sum())}), "
          f"the same rows: {np.array_equal(np.isfinite(entry), entered)}; largest relative "
          f"entry-time difference {np.max(np.abs(entry[entered] / expected[entered] - 1)):.2e};"
          f" largest shift difference over the largest shift "
          f"{np.abs(det.regularization_path_.coefs.toarray() - shifts).max() / np.abs(shifts).max():.2e}.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--ref-n", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=250_000)
    ap.add_argument("--cv-n", type=int, default=2000)
    ap.add_argument("--cv-p", type=int, default=400)
    ap.add_argument("--nl-n", type=int, default=20000)
    ap.add_argument("--dask-path", choices=["full", "sample"], default="full")
    ap.add_argument("--path-check-n", type=int, default=0,
                    help="rows of the path check against the engine on all rows (0: skip)")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-mean-shift", action="store_true")
    args = ap.parse_args()
    if not args.skip_scaling:
        scaling(args)
    if not args.skip_mean_shift:
        mean_shift(args)
    if args.path_check_n:
        path_check(args.path_check_n, min(args.chunk, args.path_check_n))


if __name__ == "__main__":
    main()
