"""Robust ranking vs choix (Bradley-Terry) on crowdsourced comparisons, side by side.

Kendall tau between the estimated and the true item scores, wall time, and the precision /
recall of the flagged comparisons, on the bundled state comparisons, then under clean data,
careless annotators (random votes) and targeted manipulation (attackers voting a few
low-scored items the winner) at several strengths; then real-valued margins (clean,
vote-flipping and careless annotators) with the multiplicity-controlled rule next to the
per-comparison rule it replaced; then the time and memory of one fit with 10,000 items and
1,000,000 comparisons.

    python benchmarks/bench_ranking.py            # full run (a few minutes on 2 cores)
    python benchmarks/bench_ranking.py --quick    # small sizes, one seed

choix is a peer used only here (``pip install choix``); it is not a dependency.
"""

from __future__ import annotations

import argparse
import time

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

    def with_annotators(**kw):
        def run(data):
            est = RobustPairwiseRanker(**kw).fit(data.comparisons, data.outcomes,
                                                 annotators=data.annotators)
            return est.scores_, est.outliers_
        return run

    methods = {
        "HodgeRank (LS)": ours(contamination=1e-12),
        "robust LS, per vote": ours(),
        "robust LS, by annotator": with_annotators(),
        "robust logistic, per vote": ours(link="logistic"),
        "robust logistic, by annotator": with_annotators(link="logistic"),
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
    print("| scenario | method | Kendall tau | vs choix ilsr | time (s) | precision | recall | "
          "runs flagging |")
    print("|---|---|---|---|---|---|---|---|")
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
                counts = (np.nan, np.nan, np.nan)
                if flagged is not None:
                    counts = (np.sum(flagged & data.outliers), flagged.sum(), data.outliers.sum())
                res[key].append((tau, elapsed) + counts)
        base = np.mean([r[0] for r in res["choix ilsr_pairwise"]]) if choix else np.nan
        for key, rows in res.items():
            a = np.array(rows, dtype=float)
            tau, elapsed = a[:, 0].mean(), a[:, 1].mean()
            # precision and recall pooled over the runs: all flagged votes, all outliers
            tp, n_flag, n_out = a[:, 2].sum(), a[:, 3].sum(), a[:, 4].sum()
            prec = f"{tp / n_flag:.2f}" if n_flag > 0 else "-"
            rec = f"{tp / n_out:.2f}" if n_out > 0 else "-"
            runs = "-" if np.isnan(a[0, 3]) else f"{int(np.sum(a[:, 3] > 0))}/{len(rows)}"
            print(f"| {name} | {key} | {tau:.3f} | {tau - base:+.3f} | {elapsed:.2f} | "
                  f"{prec} | {rec} | {runs} |")


def state_table():
    """The bundled state comparisons (real scores, simulated votes, two promoted states)."""
    from sparsestat.datasets import load_state_comparisons

    data = load_state_comparisons()
    items = np.unique(data.comparisons)
    idx = np.searchsorted(items, data.states)
    codes = np.searchsorted(items, data.comparisons)
    print(f"\n### Bundled data: load_state_comparisons ({len(data.outcomes)} votes on "
          f"{len(items)} states, {int(data.attack.sum())} attack votes)\n")
    print("| method | Kendall tau | vs choix ilsr | time (s) | precision | recall |")
    print("|---|---|---|---|---|---|")
    runs = {
        "robust LS, per vote": lambda: RobustPairwiseRanker().fit(data.comparisons,
                                                                  data.outcomes),
        "robust logistic, per vote": lambda: RobustPairwiseRanker(link="logistic").fit(
            data.comparisons, data.outcomes),
        "robust LS, by annotator": lambda: RobustPairwiseRanker().fit(
            data.comparisons, data.outcomes, annotators=data.annotators),
    }
    res = {}
    if choix is not None:
        won = data.outcomes > 0
        wins = list(zip(np.where(won, codes[:, 0], codes[:, 1]).tolist(),
                        np.where(won, codes[:, 1], codes[:, 0]).tolist()))
        t = time.perf_counter()
        scores = choix.ilsr_pairwise(len(items), wins, alpha=1e-4)
        res["choix ilsr_pairwise"] = (scores[idx], time.perf_counter() - t, None)
    for key, run in runs.items():
        t = time.perf_counter()
        est = run()
        res[key] = (est.scores_[idx], time.perf_counter() - t, est.outliers_)
    base = kendalltau(res["choix ilsr_pairwise"][0], data.scores)[0] if choix else np.nan
    for key, (scores, elapsed, flagged) in res.items():
        tau = kendalltau(scores, data.scores)[0]
        prec = rec = "-"
        if flagged is not None and flagged.any():
            tp = np.sum(flagged & data.attack)
            prec, rec = f"{tp / flagged.sum():.2f}", f"{tp / data.attack.sum():.2f}"
        print(f"| {key} | {tau:.3f} | {tau - base:+.3f} | {elapsed:.2f} | {prec} | {rec} |")


MARGIN_SCENARIOS = [("clean", "flip", 0.0), ("flip 5%", "flip", 0.05),
                    ("careless 5%", "random", 0.05)]


def margins_table(n_items, n_comparisons, seeds):
    """Real-valued margins: flags of the 'auto' rule with and without multiplicity control."""
    methods = {
        "robust LS (fdr=0.1)": lambda d: RobustPairwiseRanker().fit(d.comparisons, d.outcomes),
        "robust LS, per-comparison |z| >= 3 (fdr=1)": lambda d: RobustPairwiseRanker(
            fdr=1.0).fit(d.comparisons, d.outcomes),
        "HodgeRank (LS)": lambda d: RobustPairwiseRanker(contamination=1e-12).fit(
            d.comparisons, d.outcomes),
    }
    print(f"\n### Margins: {n_items} items, {n_comparisons} comparisons, noise sd 0.5, "
          f"100 annotators, mean over {len(seeds)} seed(s)\n")
    print("| scenario | method | Kendall tau | time (s) | flagged | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for name, behavior, frac in MARGIN_SCENARIOS:
        res = {k: [] for k in methods}
        if choix is not None:
            res["choix ilsr_pairwise (winners)"] = []
        for seed in seeds:
            data = make_pairwise_comparisons(n_items, n_comparisons, 100, frac,
                                             random_state=seed, outcome="margin", noise=0.5,
                                             behavior=behavior)
            for key, run in methods.items():
                t = time.perf_counter()
                est = run(data)
                elapsed = time.perf_counter() - t
                f = est.outliers_
                res[key].append((kendalltau(est.scores_, data.scores)[0], elapsed,
                                 np.sum(f & data.outliers), f.sum(), data.outliers.sum()))
            if choix is not None:
                t = time.perf_counter()
                scores = choix.ilsr_pairwise(n_items, _wins(data), alpha=1e-4)
                res["choix ilsr_pairwise (winners)"].append(
                    (kendalltau(scores, data.scores)[0], time.perf_counter() - t,
                     np.nan, np.nan, np.nan))
        for key, rows in res.items():
            a = np.array(rows, dtype=float)
            tp, n_flag, n_out = a[:, 2].sum(), a[:, 3].sum(), a[:, 4].sum()
            flagged = "-" if np.isnan(n_flag) else f"{n_flag / len(rows):.1f}"
            prec = f"{tp / n_flag:.2f}" if n_flag > 0 else "-"
            rec = f"{tp / n_out:.2f}" if n_out > 0 else "-"
            print(f"| {name} | {key} | {a[:, 0].mean():.3f} | {a[:, 1].mean():.2f} | "
                  f"{flagged} | {prec} | {rec} |")


def _rss_kib(field, reset_peak=False):
    """Resident memory of this process from /proc (Linux), in KiB."""
    if reset_peak:
        with open("/proc/self/clear_refs", "w") as fh:  # resets VmHWM to the current RSS
            fh.write("5")
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return float("nan")


def _scale_child(method, n_items, n_comparisons, n_annotators, n_times, queue):
    """One large fit in a fresh process: wall and CPU time, peak resident memory of the fit."""
    data = make_pairwise_comparisons(n_items, n_comparisons, n_annotators, 0.05,
                                     random_state=0, behavior="random")
    wins = _wins(data) if method == "choix" else None
    if method != "choix":  # compile the kernels outside the timing
        small = make_pairwise_comparisons(20, 300, 10, 0.1, random_state=0)
        RobustPairwiseRanker(solver="cg").fit(small.comparisons, small.outcomes,
                                              annotators=small.annotators)
    base = _rss_kib("VmRSS", reset_peak=True)
    t = time.perf_counter()
    cpu = time.process_time()
    if method == "choix":
        scores = choix.ilsr_pairwise(n_items, wins, alpha=1e-4)
        n_iter = "-"
    else:
        ann = data.annotators if method == "annotators" else None
        est = RobustPairwiseRanker(n_times=n_times).fit(data.comparisons, data.outcomes,
                                                        annotators=ann)
        scores, n_iter = est.scores_, est.regularization_path_.n_iter
    elapsed = time.perf_counter() - t
    cpu = time.process_time() - cpu
    peak = _rss_kib("VmHWM") - base
    queue.put((elapsed, cpu, peak * 1024.0, kendalltau(scores, data.scores)[0], n_iter))


def scale_table(n_items, n_comparisons, n_annotators, with_choix, limit=600.0):
    import multiprocessing as mp

    print(f"\n### Scale: {n_items} items, {n_comparisons} comparisons (5% careless "
          "annotators), one process per fit\n")
    print("| method | time (s) | CPU time (s) | extra peak RSS (MB) | bytes per (m + n) | "
          "Kendall tau | LBI iterations |")
    print("|---|---|---|---|---|---|---|")
    runs = [("robust LS, per vote (default n_times=100)", "votes", 100),
            ("robust LS, per vote (n_times=10)", "votes", 10),
            ("robust LS, by annotator (default n_times=100)", "annotators", 100)]
    if with_choix and choix is not None:
        runs.append(("choix ilsr_pairwise", "choix", 0))
    ctx = mp.get_context("spawn")
    for label, method, n_times in runs:
        queue = ctx.Queue()
        proc = ctx.Process(target=_scale_child,
                           args=(method, n_items, n_comparisons, n_annotators, n_times, queue))
        proc.start()
        proc.join(limit)
        if proc.is_alive():
            proc.terminate()
            proc.join()
            print(f"| {label} | > {limit:.0f} (stopped) | - | - | - | - | - |")
            continue
        elapsed, cpu, peak, tau, n_iter = queue.get()
        print(f"| {label} | {elapsed:.1f} | {cpu:.1f} | {peak / 2**20:.0f} | "
              f"{peak / (n_items + n_comparisons):.0f} | {tau:.3f} | {n_iter} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one seed")
    parser.add_argument("--no-scale", action="store_true", help="skip the large fit")
    parser.add_argument("--scale-only", action="store_true", help="only the large fit")
    parser.add_argument("--no-choix-scale", action="store_true",
                        help="skip choix in the large fit (it takes minutes)")
    args = parser.parse_args()
    # compile the numba kernels outside the timings
    warm = make_pairwise_comparisons(20, 300, 10, 0.1, random_state=0)
    RobustPairwiseRanker().fit(warm.comparisons, warm.outcomes, annotators=warm.annotators)
    RobustPairwiseRanker(solver="cg").fit(warm.comparisons, warm.outcomes)
    if not args.scale_only:
        state_table()
    if args.quick:
        if not args.scale_only:
            accuracy_table(50, 3000, 50, seeds=[0])
            margins_table(100, 2000, seeds=[0])
        if not args.no_scale:
            scale_table(2000, 100_000, 200, with_choix=True)
    else:
        if not args.scale_only:
            accuracy_table(100, 8000, 100, seeds=[0, 1, 2, 3, 4])
            margins_table(500, 10_000, seeds=[0, 1, 2])
        if not args.no_scale:
            scale_table(10_000, 1_000_000, 1000, with_choix=not args.no_choix_scale)


if __name__ == "__main__":
    main()
