"""RobustPairwiseRanker: flagged comparisons on clean data, planted outliers, score error.

Comparison graphs of four kinds (Erdős–Rényi dense and sparse, a round robin, a ring
lattice) with m from about 200 to 20,000 comparisons; outcomes are real-valued margins
(true scores ``N(0, 1)``, Gaussian or t(5) noise of standard deviation 0.5) or
Bradley–Terry ``+1 / -1`` votes; clean, or with 2% or 10% planted outliers (a margin shifted
by 4, 6 or 10 noise standard deviations, or a vote flipped). Measured: flags per clean data
set (with and without the multiplicity control, ``fdr=0.1`` against ``fdr=1``), recall and
precision of the planted outliers, and Kendall's tau of the scores with the truth next to
plain HodgeRank and choix's ``ilsr_pairwise``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from sparsestat import RobustPairwiseRanker
from validation._designs import fmt, make_noise, markdown_table, mean_se

TITLE = "RobustPairwiseRanker: flagged comparisons and score error"

DESIGNS = ("ER dense", "ER sparse", "round robin", "ring lattice")
NOISE_SD = 0.5
SIZES = (4.0, 6.0, 10.0)          # planted margin shifts, in noise standard deviations
FRACTIONS = (0.02, 0.10)
# choix's ilsr_pairwise takes minutes on sparse graphs with thousands of items
CHOIX_MAX_ITEMS = 2000

FULL = {"m": (200, 2000, 20000), "clean": {200: 200, 2000: 40, 20000: 10},
        "planted": {200: 20, 2000: 4, 20000: 2}}
QUICK = {"m": (200, 2000), "clean": {200: 20, 2000: 4}, "planted": {200: 3, 2000: 1}}


def make_graph(design: str, m: int, rng: np.random.Generator):
    """``(left, right)`` item indices of about ``m`` comparisons on a connected graph.

    ``'ER dense'``: ``m / 20`` items (average degree 40), uniform random pairs;
    ``'ER sparse'``: ``m / 3`` items (average degree 6), a random cycle through all of them
    plus uniform random pairs; ``'round robin'``: every pair of ``n`` items once, with
    ``n (n - 1) / 2`` about ``m``; ``'ring lattice'``: ``m / 3`` items on a circle, each
    compared with its three nearest neighbours on either side (degree 6, diameter ``n / 6``).
    Labels are shuffled and every comparison gets a random orientation.
    """
    if design == "ER dense":
        n = max(m // 20, 10)
        left = rng.integers(0, n, m)
        right = (left + rng.integers(1, n, m)) % n
    elif design == "ER sparse":
        n = m // 3
        extra = rng.integers(0, n, m - n)
        left = np.concatenate([np.arange(n), extra])
        right = np.concatenate([np.roll(np.arange(n), -1), (extra + rng.integers(1, n, m - n)) % n])
    elif design == "round robin":
        n = int(round((1.0 + np.sqrt(1.0 + 8.0 * m)) / 2.0))
        left, right = np.triu_indices(n, 1)
    elif design == "ring lattice":
        n = m // 3
        left = np.repeat(np.arange(n), 3)
        right = (left + np.tile([1, 2, 3], n)) % n
    else:
        raise ValueError(f"unknown design {design!r}; use one of {DESIGNS}")
    label = rng.permutation(n)
    swap = rng.random(left.shape[0]) < 0.5
    return label[np.where(swap, right, left)], label[np.where(swap, left, right)]


def make_outcomes(left, right, theta, noise: str, rng: np.random.Generator) -> np.ndarray:
    """Margins ``theta_i - theta_j + 0.5 e`` (``noise`` a law of ``make_noise``) or, for
    ``'votes'``, Bradley-Terry ``+1 / -1`` outcomes."""
    d = theta[left] - theta[right]
    if noise == "votes":
        return np.where(rng.random(d.shape[0]) < 1.0 / (1.0 + np.exp(-d)), 1.0, -1.0)
    return d + NOISE_SD * make_noise(d.shape[0], noise, rng)


def plant(y, fraction: float, size: float, rng: np.random.Generator):
    """Corrupt a random ``fraction`` of the comparisons; returns ``(y, truth)``.

    Margins are shifted by ``size`` noise standard deviations with a random sign; votes
    (``size = 0``) are flipped.
    """
    truth = rng.random(y.shape[0]) < fraction
    y = y.copy()
    if size == 0:
        y[truth] *= -1.0
    else:
        y[truth] += size * NOISE_SD * rng.choice([-1.0, 1.0], int(truth.sum()))
    return y, truth


def _solver(design):
    # conjugate gradients need thousands of iterations on a ring lattice (diameter n / 6);
    # its banded Laplacian factorizes at once
    return "factorize" if design == "ring lattice" else "auto"


def _ranker(design, **kw):
    return RobustPairwiseRanker(solver=_solver(design), **kw)


def _tau(scores, theta):
    return float(kendalltau(scores, theta).statistic)


def _hodgerank(left, right, y, n):
    """Plain least-squares HodgeRank: every comparison, nothing flagged."""
    from sparsestat.ranking._scores import ScoreFitter

    return ScoreFitter(left, right, np.ones(y.shape[0]), n, None, "auto").fit(y)


def _choix(left, right, y, n):
    """choix's ``ilsr_pairwise`` on the winner of every comparison (None: not run, or it
    did not converge)."""
    try:
        import choix
    except ImportError:  # pragma: no cover - choix is a test extra
        return None
    if n > CHOIX_MAX_ITEMS:
        return None
    won = y > 0
    data = list(zip(np.where(won, left, right).tolist(), np.where(won, right, left).tolist()))
    try:
        return choix.ilsr_pairwise(n, data, alpha=1e-4, max_iter=1000)
    except RuntimeError:  # did not converge: left out of the mean
        return None


def _draw(design, m, noise, seed):
    """One clean data set: ``(pairs, y, theta)`` with items ``0 .. n-1``."""
    rng = np.random.default_rng(seed)
    left, right = make_graph(design, m, rng)
    theta = rng.standard_normal(int(max(left.max(), right.max())) + 1)
    return np.column_stack([left, right]), make_outcomes(left, right, theta, noise, rng), \
        theta, rng


def clean_flags(design, m, noise, seeds, fdr=0.1) -> np.ndarray:
    """Flagged comparisons of each clean replicate."""
    out = []
    for seed in seeds:
        pairs, y, _, _ = _draw(design, m, noise, seed)
        out.append(int(_ranker(design, fdr=fdr).fit(pairs, y).outliers_.sum()))
    return np.array(out)


def planted_run(design, m, fraction, size, seed, *, fdrs=(0.1,), peers=False):
    """One replicate with planted outliers: per ``fdr``, ``(recall, true, false flags,
    tau)``; with ``peers`` also the tau of plain HodgeRank and choix (None: not run)."""
    noise = "votes" if size == 0 else "gaussian"
    pairs, y0, theta, rng = _draw(design, m, noise, seed)
    y, truth = plant(y0, fraction, size, rng)
    rows = {}
    for fdr in fdrs:
        est = _ranker(design, fdr=fdr).fit(pairs, y)
        f = est.outliers_
        rows[fdr] = (float(np.sum(f & truth) / max(truth.sum(), 1)), int(np.sum(f & truth)),
                     int(np.sum(f & ~truth)), _tau(est.scores_, theta))
    if peers:
        n = theta.shape[0]
        rows["hodgerank"] = _tau(_hodgerank(pairs[:, 0], pairs[:, 1], y, n), theta)
        ch = _choix(pairs[:, 0], pairs[:, 1], y, n)
        rows["choix"] = None if ch is None else _tau(ch, theta)
    return rows


def _flags_cell(flags):
    mean, se = mean_se(flags)
    return fmt(mean, se, 2), f"{np.mean(flags > 0):.2f}"


def _precision(true, false):
    flagged = true + false
    return f"{true / flagged:.3f}" if flagged else "-"


def _tau_cell(values):
    vals = [v for v in values if v is not None]
    return fmt(*mean_se(vals)) if vals else "-"


def _clean_table(cfg):
    header = ["design", "m", "n", "Gaussian: flags", "P(any)", "no control: flags", "P(any)",
              "t(5): flags", "P(any)", "t(5), no control", "votes: flags", "P(any)"]
    rows = []
    for m in cfg["m"]:
        seeds = range(cfg["clean"][m])
        for design in DESIGNS:
            _, y, theta, _ = _draw(design, m, "gaussian", 0)
            cells = [design, y.shape[0], theta.shape[0]]
            for noise, fdr in [("gaussian", 0.1), ("gaussian", 1.0), ("t5", 0.1), ("t5", 1.0),
                               ("votes", 0.1)]:
                cell = _flags_cell(clean_flags(design, m, noise, seeds, fdr))
                cells += cell[:1] if (noise, fdr) == ("t5", 1.0) else cell
            rows.append(cells)
    return markdown_table(header, rows)


def _planted_tables(cfg):
    margin_header = ["design", "m", "outliers", "size", "recall", "recall, no control",
                     "precision", "precision, no control", "tau", "tau HodgeRank",
                     "tau choix"]
    vote_header = ["design", "m", "flipped", "recall", "precision", "tau", "tau HodgeRank",
                   "tau choix"]
    margin_rows, vote_rows = [], []
    for m in cfg["m"]:
        seeds = range(1000, 1000 + cfg["planted"][m])
        for design in DESIGNS:
            for fraction in FRACTIONS:
                for size in SIZES:
                    runs = [planted_run(design, m, fraction, size, s, fdrs=(0.1, 1.0),
                                        peers=size == SIZES[1]) for s in seeds]
                    new = np.array([r[0.1] for r in runs])
                    old = np.array([r[1.0] for r in runs])
                    peers = size == SIZES[1]
                    margin_rows.append([
                        design, m, f"{fraction:.0%}", f"{size:g} sd", fmt(*mean_se(new[:, 0])),
                        fmt(*mean_se(old[:, 0])), _precision(new[:, 1].sum(), new[:, 2].sum()),
                        _precision(old[:, 1].sum(), old[:, 2].sum()), fmt(*mean_se(new[:, 3])),
                        _tau_cell([r["hodgerank"] for r in runs]) if peers else "",
                        _tau_cell([r["choix"] for r in runs]) if peers else ""])
                runs = [planted_run(design, m, fraction, 0.0, s, peers=True) for s in seeds]
                new = np.array([r[0.1] for r in runs])
                vote_rows.append([
                    design, m, f"{fraction:.0%}", fmt(*mean_se(new[:, 0])),
                    _precision(new[:, 1].sum(), new[:, 2].sum()), fmt(*mean_se(new[:, 3])),
                    _tau_cell([r["hodgerank"] for r in runs]),
                    _tau_cell([r["choix"] for r in runs])])
    return markdown_table(margin_header, margin_rows), markdown_table(vote_header, vote_rows)


def run(quick: bool) -> str:
    cfg = QUICK if quick else FULL
    clean = _clean_table(cfg)
    margins, votes = _planted_tables(cfg)
    reps = ", ".join(f"{cfg['clean'][m]} at m = {m}" for m in cfg["m"])
    reps_p = ", ".join(f"{cfg['planted'][m]} at m = {m}" for m in cfg["m"])
    return f"""## {TITLE}

The promise (docs/ranking.md): with `contamination='auto'`, a data set without outliers gets
fewer than one flagged comparison on average whatever the number of comparisons m — the
margin rule is a Benjamini–Hochberg step-up rule at `fdr = 0.1` over the comparisons'
z-scores (its cut-off grows like sqrt(2 log m)), never below `threshold = 3` — while planted
outliers are found about as often as by the per-comparison rule `|z| >= 3` it replaces
(`fdr=1`, "no control"). Graphs: Erdős–Rényi with average degree 40 ("ER dense") and 6 (a
random cycle plus random pairs, "ER sparse"), a round robin (every pair once) and a ring
lattice (degree 6); true scores N(0, 1); margins with Gaussian or t(5) noise of standard
deviation 0.5, or Bradley–Terry ±1 votes. Clean replicates: {reps}; replicates with
planted outliers: {reps_p}. Cells are means over replicates (standard errors in
parentheses); P(any) is the share of replicates with at least one flag; precision is pooled
over the replicates (`-`: nothing flagged); tau is Kendall's tau of the scores with the true
scores (the peers on the 6-sd rows; choix's `ilsr_pairwise` on the winners, run up to
{CHOIX_MAX_ITEMS} items).

Flagged comparisons per clean data set:

{clean}

Planted margin outliers (Gaussian noise; a margin shifted by 4, 6 or 10 noise sd, random
sign):

{margins}

Flipped ±1 votes (single flipped votes look like honest upsets; the vote rule is not
expected to find them — it must not flag honest votes either):

{votes}
"""
