"""Demo section: knockoff selection with a false discovery rate target, against LassoCV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the generated problem: n samples, p Gaussian features, k of them with |beta_j| = amplitude
N_SAMPLES, N_FEATURES, N_TRUE, AMPLITUDE = 300, 50, 10, 0.6
FDR = 0.1
N_REPLICATES = 20


def make_problem(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, y, truth)``: a sparse linear model, unit Gaussian noise; ``truth = beta != 0``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    beta = np.zeros(N_FEATURES)
    true = rng.choice(N_FEATURES, N_TRUE, replace=False)
    beta[true] = AMPLITUDE * rng.choice([-1.0, 1.0], N_TRUE)
    y = X @ beta + rng.standard_normal(N_SAMPLES)
    return X, y, beta != 0


def false_discovery_proportion(selected: np.ndarray, truth: np.ndarray) -> float:
    """Share of the selected features that are null (0 when nothing is selected)."""
    return float(np.sum(selected & ~truth) / max(int(selected.sum()), 1))


def run_demo(output_dir: Path) -> None:
    """Select features by knockoffs at FDR 0.1, repeat on fresh draws, save ``knockoffs.png``.

    Parameters
    ----------
    output_dir : pathlib.Path
        Existing folder that receives ``knockoffs.png``.
    """
    from sklearn.linear_model import LassoCV

    from sparsestat.cli import atomic_write, can_draw
    from sparsestat.feature_selection import KnockoffSelector

    def knockoffs(seed):
        return KnockoffSelector(fdr=FDR, statistic="lbi", random_state=seed)

    X, y, truth = make_problem(0)
    sel = knockoffs(0).fit(X, y)
    selected = sel.get_support()
    print(f"Generated linear model: {N_SAMPLES} samples, {N_FEATURES} Gaussian features, "
          f"{N_TRUE} of them in the model (|beta| = {AMPLITUDE}, noise sd 1).")
    print(f"   KnockoffSelector(fdr={FDR}, statistic='lbi'), fixed-X knockoffs, "
          f"threshold T = {sel.threshold_:.3g}")
    print(f"   true features:     {np.flatnonzero(truth).tolist()}")
    print(f"   selected features: {np.flatnonzero(selected).tolist()}   "
          f"({int(np.sum(selected & truth))} true, {int(np.sum(selected & ~truth))} false)")

    fdp = {"knockoffs": [], "LassoCV": []}
    power = {"knockoffs": [], "LassoCV": []}
    for seed in range(N_REPLICATES):
        Xr, yr, tr = (X, y, truth) if seed == 0 else make_problem(seed)
        chosen = {
            "knockoffs": selected if seed == 0 else knockoffs(seed).fit(Xr, yr).get_support(),
            "LassoCV": LassoCV(cv=5).fit(Xr, yr).coef_ != 0,
        }
        for name, picked in chosen.items():
            fdp[name].append(false_discovery_proportion(picked, tr))
            power[name].append(float(np.sum(picked & tr) / tr.sum()))
    print(f"   over {N_REPLICATES} fresh draws: mean false discovery proportion "
          f"knockoffs {np.mean(fdp['knockoffs']):.3f} (target <= {FDR}), "
          f"LassoCV {np.mean(fdp['LassoCV']):.3f}")
    print(f"   mean power (share of true features found): knockoffs "
          f"{np.mean(power['knockoffs']):.2f}, LassoCV {np.mean(power['LassoCV']):.2f}")

    if not can_draw("knockoffs.png"):
        return
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_w, ax_fdp = fig.subplots(1, 2, width_ratios=[3, 2])
    index = np.arange(N_FEATURES)
    for mask, color, label in [(truth, "tab:red", "in the model"), (~truth, "tab:gray", "null")]:
        ax_w.vlines(index[mask], 0, sel.W_[mask], color=color, lw=2, label=label)
    ax_w.axhline(sel.threshold_, color="k", ls="--", lw=1, label=f"threshold T (FDR {FDR})")
    ax_w.axhline(0, color="k", lw=0.5)
    ax_w.set(xlabel="feature", ylabel="W (feature vs its knockoff)",
             title="Knockoff statistics: selected = {W >= T}")
    ax_w.set_ylim(top=1.3 * float(np.abs(sel.W_).max()))  # room for the legend
    ax_w.legend(loc="upper center", ncols=3, fontsize=8)
    rng = np.random.default_rng(0)
    for pos, name in enumerate(fdp):
        values = np.asarray(fdp[name])
        ax_fdp.scatter(pos + rng.uniform(-0.12, 0.12, values.size), values, s=14, alpha=0.6)
        ax_fdp.hlines(values.mean(), pos - 0.3, pos + 0.3, color="k", lw=2)
    ax_fdp.axhline(FDR, color="tab:red", ls="--", lw=1, label=f"target FDR {FDR}")
    ax_fdp.set(xticks=[0, 1], xticklabels=list(fdp), ylabel="false discovery proportion",
               title=f"{N_REPLICATES} draws (bar: mean)")
    ax_fdp.legend(loc="upper left", fontsize=8)
    atomic_write(Path(output_dir) / "knockoffs.png", lambda tmp: fig.savefig(tmp, dpi=110))
    print("   saved knockoffs.png: W statistics with the threshold; FDP of knockoffs vs LassoCV")
