"""First-call cost: compiling the numba kernels in a fresh cache, and a warm start.

Every kernel is compiled with ``cache=True``: the first call after an install pays the
compilation, later processes load it from the cache. This script measures both in fresh
processes, with ``NUMBA_CACHE_DIR`` pointing to a new, empty folder:

* cold -- one process fits each estimator once, in turn, on a small problem, and prints the
  CPU time of each first fit (later estimators reuse what earlier ones compiled) and the
  total;
* warm -- a second process, same cache: ``import sparsestat`` plus a first
  ``LBIRegressor().fit`` (loading, not compiling).

Run: ``python benchmarks/bench_compile.py`` (``--repeat 2`` for the best of two fresh
caches).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

out = {}
start = cpu()
import numpy as np
import sparsestat
out["import"] = cpu() - start
from sklearn.datasets import load_diabetes, load_digits   # data, not timed
X, y = load_diabetes(return_X_y=True)
rng = np.random.default_rng(0)

def first(name, fn):
    t = cpu()
    fn()
    out[name] = cpu() - t

stages = sys.argv[1].split(",")
if "lbi" in stages:
    first("LBIRegressor", lambda: sparsestat.LBIRegressor().fit(X, y))
if "iss" in stages:
    first("LBIRegressor(solver='iss')", lambda: sparsestat.LBIRegressor(solver="iss").fit(X, y))
if "meanshift" in stages:
    first("MeanShiftOutlierDetector",
          lambda: sparsestat.MeanShiftOutlierDetector(random_state=0).fit(X, y))
if "labels" in stages:
    Xd, yd = load_digits(return_X_y=True)
    first("NoisyLabelDetector", lambda: sparsestat.NoisyLabelDetector(random_state=0)
          .fit(Xd[:600], yd[:600]))
if "ranking" in stages:
    from sparsestat.datasets import make_pairwise_comparisons
    data = make_pairwise_comparisons(n_items=30, n_comparisons=600, random_state=0)
    first("RobustPairwiseRanker", lambda: sparsestat.RobustPairwiseRanker()
          .fit(data.comparisons, data.outcomes))
if "knockoffs" in stages:
    Xk = rng.standard_normal((300, 40))
    yk = Xk[:, :5].sum(axis=1) + rng.standard_normal(300)
    first("KnockoffSelector(statistic='lbi')",
          lambda: sparsestat.KnockoffSelector(statistic="lbi", random_state=0).fit(Xk, yk))
out["total"] = sum(out.values())   # import and the first fits, without making the data
print(json.dumps(out))
"""

COLD = "lbi,iss,meanshift,labels,ranking,knockoffs"


def run_child(stages: str, cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # run in an empty folder: a `python -c` child puts its working folder first on sys.path,
    # so run from a checkout it would import that checkout, whatever PYTHONPATH says; and not
    # in the cache, whose `sparsestat` subfolder (numba's copy of the package's layout) would
    # be imported as a namespace package
    with tempfile.TemporaryDirectory(prefix="sparsestat-cwd-") as cwd:
        res = subprocess.run([sys.executable, "-c", CHILD, stages], env=env, check=True,
                             capture_output=True, text=True, cwd=cwd)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="fresh caches (best of)")
    args = ap.parse_args(argv)
    cold, warm = None, None
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="sparsestat-numba-") as cache:
            c = run_child(COLD, cache)
            w = run_child("lbi", cache)
        cold = c if cold is None else {k: min(v, c[k]) for k, v in cold.items()}
        warm = w if warm is None else {k: min(v, w[k]) for k, v in warm.items()}
    print("cold cache (one process, estimators in turn; CPU seconds of each first fit):")
    for k, v in cold.items():
        print(f"  {k:<36} {v:8.2f}")
    print("warm cache (a new process): import + first LBIRegressor().fit "
          f"{warm['import'] + warm['LBIRegressor']:.2f} s "
          f"(import {warm['import']:.2f} s, fit {warm['LBIRegressor']:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
