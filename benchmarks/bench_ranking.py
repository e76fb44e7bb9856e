"""Robust ranking vs choix (Bradley-Terry) on crowdsourced comparisons, side by side.

Kendall tau between the estimated and the true item scores, wall time, and the precision /
recall of the flagged comparisons, under clean data, careless annotators (random votes) and
targeted manipulation (attackers voting a few low-scored items the winner) at several
strengths; then the time and memory of one fit with 10,000 items and 1,000,000 comparisons.

    python benchmarks/bench_ranking.py            # full run (a few minutes on 2 cores)
    python benchmarks/bench_ranking.py --quick    # small sizes, one seed

choix is a peer used only here (``pip install choix``); it is not a dependency.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from scipy.stats import kendalltau

from sparsestat import RobustPairwiseRanker
from sparsestat.datasets import make_pairwise_comparisons

try:
    import choix
except ImportError:  # pragma: no cover
    choix = None

SCENARIOS = [
    ("clean", "flip", 0.0),
    ("careless 10%", "random", 0.10),
    ("careless 30%", "random", 0.30),
    ("manipulation 1%", "promote", 0.01),
    ("manipulation 2%", "promote", 0.02),
    ("manipulation 4%", "promote", 0.04),
    ("manipulation 8%", "promote", 0.08),
]


def _wins(data):
    c, y = data.comparisons, data.outcomes
    winners = np.where(y > 0, c[:, 0], c[:, 1])
    losers = np.where(y > 0, c[:, 1], c[:, 0])
    return list(zip(winners.tolist(), losers.tolist()))


def _methods(n_items):
    def ours(**kw):
        def run(data):
            est = RobustPairwiseRanker(**kw).fit(data.comparisons, data.outcomes)
            return est.scores_, est.outliers_
        return run

    def with_annotators(data):
        est = RobustPairwiseRanker().fit(data.comparisons, data.outcomes,
                                         annotators=data.annotators)
        return est.scores_, est.outliers_

    methods = {
        "HodgeRank (LS)": ours(contamination=1e-12),
        "robust, per vote": ours(),
        "robust, by annotator": with_annotators,
    }
    if choix is not None:
        methods["choix ilsr_pairwise"] = lambda d: (
            choix.ilsr_pairwise(n_items, _wins(d), alpha=1e-4), None)
        methods["choix opt_pairwise"] = lambda d: (
            choix.opt_pairwise(n_items, _wins(d), alpha=1e-4), None)
    return methods


def accuracy_table(n_items, n_comparisons, n_annotators, seeds):
    methods = _methods(n_items)
    print(f"\n### Accuracy: {n_items} items, {n_comparisons} comparisons, {n_annotators} "
          f"annotators, Bradley-Terry votes, mean over {len(seeds)} seed(s)\n")
    print("| scenario | method | Kendall tau | vs choix ilsr | time (s) | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for name, behavior, frac in SCENARIOS:
        res = {k: [] for k in methods}
        for seed in seeds:
            data = make_pairwise_comparisons(n_items, n_comparisons, n_annotators, frac,
                                             random_state=seed, behavior=behavior)
            for key, run in methods.items():
                t = time.perf_counter()
                scores, flagged = run(data)
                elapsed = time.perf_counter() - t
                tau = kendalltau(scores, data.scores)[0]
                prec = rec = np.nan
                if flagged is not None and data.outliers.any():
                    tp = np.sum(flagged & data.outliers)
                    prec = tp / flagged.sum() if flagged.any() else np.nan
                    rec = tp / data.outliers.sum()
                res[key].append((tau, elapsed, prec, rec))
        base = np.mean([r[0] for r in res["choix ilsr_pairwise"]]) if choix else np.nan
        for key, rows in res.items():
            tau, elapsed, prec, rec = (np.nanmean([r[i] for r in rows]) if not np.all(
                np.isnan([r[i] for r in rows])) else np.nan for i in range(4))
            fmt = (lambda v: "-" if np.isnan(v) else f"{v:.2f}")
            print(f"| {name} | {key} | {tau:.3f} | {tau - base:+.3f} | {elapsed:.2f} | "
                  f"{fmt(prec)} | {fmt(rec)} |")


def scale_table(n_items, n_comparisons, n_annotators, with_choix):
    print(f"\n### Scale: {n_items} items, {n_comparisons} comparisons (5% careless "
          "annotators)\n")
    data = make_pairwise_comparisons(n_items, n_comparisons, n_annotators, 0.05,
                                     random_state=0, behavior="random")
    print("| method | time (s) | peak memory (MB) | bytes per (m + n) | Kendall tau | "
          "LBI iterations |")
    print("|---|---|---|---|---|---|")
    for label, kw in [("robust, per vote (n_times=10)", {}),
                      ("robust, by annotator (n_times=10)", {"annotators": data.annotators})]:
        tracemalloc.start()
        t = time.perf_counter()
        est = RobustPairwiseRanker(n_times=10).fit(data.comparisons, data.outcomes, **kw)
        elapsed = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        tau = kendalltau(est.scores_, data.scores)[0]
        print(f"| {label} | {elapsed:.1f} | {peak / 2**20:.0f} | "
              f"{peak / (n_items + n_comparisons):.0f} | {tau:.3f} | "
              f"{est.regularization_path_.n_iter} |")
    if with_choix and choix is not None:
        wins = _wins(data)
        tracemalloc.start()
        t = time.perf_counter()
        params = choix.ilsr_pairwise(n_items, wins, alpha=1e-4)
        elapsed = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        tau = kendalltau(params, data.scores)[0]
        print(f"| choix ilsr_pairwise | {elapsed:.1f} | {peak / 2**20:.0f} | "
              f"{peak / (n_items + n_comparisons):.0f} | {tau:.3f} | - |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one seed")
    parser.add_argument("--no-scale", action="store_true", help="skip the large fit")
    args = parser.parse_args()
    # compile the numba kernels outside the timings
    warm = make_pairwise_comparisons(20, 300, 10, 0.1, random_state=0)
    RobustPairwiseRanker().fit(warm.comparisons, warm.outcomes, annotators=warm.annotators)
    RobustPairwiseRanker(solver="cg").fit(warm.comparisons, warm.outcomes)
    if args.quick:
        accuracy_table(50, 3000, 50, seeds=[0])
        if not args.no_scale:
            scale_table(2000, 100_000, 200, with_choix=True)
    else:
        accuracy_table(100, 8000, 100, seeds=[0, 1, 2])
        if not args.no_scale:
            scale_table(10_000, 1_000_000, 1000, with_choix=True)


if __name__ == "__main__":
    main()
