"""Demo section: robust ranking of items under a targeted manipulation attack."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _state_votes() -> None:
    """The bundled state comparisons: single +1/-1 votes, two states promoted by attackers."""
    from scipy.stats import kendalltau

    from sparsestat.datasets import load_state_comparisons
    from sparsestat.ranking import RobustPairwiseRanker

    data = load_state_comparisons()
    ranker = RobustPairwiseRanker().fit(data.comparisons, data.outcomes)
    plain = RobustPairwiseRanker(manipulation=None).fit(data.comparisons, data.outcomes)
    idx = np.searchsorted(ranker.items_, data.states)
    flagged, truth = ranker.outliers_, data.attack
    tp = int(np.sum(flagged & truth))
    print(f"   US states by graduation rate: {len(data.outcomes)} single votes, "
          f"{int(truth.sum())} of them promoting {', '.join(data.promoted)}")
    print(f"   manipulated items found: {', '.join(ranker.manipulated_items_) or 'none'}; "
          f"flagged {int(flagged.sum())} votes: precision {tp / max(flagged.sum(), 1):.2f}, "
          f"recall {tp / max(truth.sum(), 1):.2f}")
    tau = kendalltau(ranker.scores_[idx], data.scores)[0]
    tau0 = kendalltau(plain.scores_[idx], data.scores)[0]
    print(f"   Kendall tau to the true rates: Bradley-Terry/HodgeRank {tau0:.3f}, robust {tau:.3f}")


def run_demo(output_dir: Path) -> None:
    """Rank 40 items from noisy margins with vote-flipping annotators; plot the outlier path.

    Then the bundled state comparisons (single votes, a promotion attack).
    """
    from sparsestat.datasets import make_pairwise_comparisons
    from sparsestat.ranking import RobustPairwiseRanker

    data = make_pairwise_comparisons(n_items=40, n_comparisons=1500, n_annotators=30,
                                     malicious_fraction=0.15, outcome="margin", noise=0.2,
                                     behavior="flip", random_state=0)
    ranker = RobustPairwiseRanker().fit(data.comparisons, data.outcomes)
    plain = RobustPairwiseRanker(contamination=1e-9).fit(data.comparisons, data.outcomes)
    truth = data.outliers
    flagged = ranker.outliers_
    tp = int(np.sum(flagged & truth))
    print(f"   {len(data.outcomes)} comparisons of 40 items, {int(truth.sum())} by "
          f"{len(data.malicious)} vote-flipping annotators")
    print(f"   flagged {int(flagged.sum())}: precision {tp / max(flagged.sum(), 1):.2f}, "
          f"recall {tp / max(truth.sum(), 1):.2f}")
    err_robust = np.abs(ranker.scores_ - (data.scores - data.scores.mean())).mean()
    err_plain = np.abs(plain.scores_ - (data.scores - data.scores.mean())).mean()
    print(f"   mean score error: plain HodgeRank {err_plain:.3f}, robust {err_robust:.3f}")
    _state_votes()
    from sparsestat.cli import atomic_write, can_draw

    if not can_draw("ranking_outlier_path.png"):
        return
    from matplotlib.figure import Figure

    path = ranker.regularization_path_
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot(path.times, path.coefs_of(np.flatnonzero(~truth)), color="tab:blue", lw=0.5,
            alpha=0.5)
    ax.plot(path.times, path.coefs_of(np.flatnonzero(truth)), color="tab:red", lw=0.8,
            alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("t (1 / lambda)")
    ax.set_ylabel("gamma (outlier term)")
    ax.set_title("Outlier path: red = comparisons of malicious annotators")
    fig.tight_layout()
    atomic_write(Path(output_dir) / "ranking_outlier_path.png",
                 lambda tmp: fig.savefig(tmp, format="png", dpi=100))
