"""Demo section: DessiLBI trains a small network on the digits and finds its sparse sub-network.

Needs PyTorch; without it the section prints how to install the extra and returns.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

EPOCHS, BATCH, HIDDEN = 8, 32, 32
LR, KAPPA = 0.2, 0.5  # the SGD-equivalent step is LR * KAPPA


def run_demo(output_dir: Path) -> None:
    """Train a 64-32-10 network with DessiLBI on the digits; save ``dessilbi.png``.

    Parameters
    ----------
    output_dir : pathlib.Path
        Existing folder that receives ``dessilbi.png``.
    """
    if importlib.util.find_spec("torch") is None:
        print('   skipped: needs PyTorch. Install it with: pip install "sparsestat[torch]"')
        return
    try:
        import torch
    except ImportError as exc:  # installed but broken (e.g. a missing shared library)
        print(f"   skipped: PyTorch does not import ({exc}). Reinstall it with: "
              'pip install "sparsestat[torch]"')
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: threads cost more than they give
    try:
        with torch.random.fork_rng():  # the demo seeds torch without touching the caller's RNG
            _train_and_report(torch, Path(output_dir))
    finally:
        torch.set_num_threads(threads)


def _train_and_report(torch, output_dir: Path) -> None:
    """Train the network, print the support and the accuracies, save the figure."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from sparsestat.cli import atomic_write, can_draw
    from sparsestat.torch import DessiLBI, lbi_param_groups, propose_mu

    X, y = load_digits(return_X_y=True)
    blank = X.std(axis=0) == 0  # pixels that are 0 in every image: no gradient ever reaches them
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = (torch.tensor(a) for a in train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, 10))
    n_steps = EPOCHS * int(np.ceil(len(Xtr) / BATCH))
    mu = propose_mu(n_steps, LR, KAPPA)
    opt = DessiLBI(lbi_param_groups(model), lr=LR, kappa=KAPPA, mu=mu)

    def accuracy() -> float:
        with torch.no_grad():
            return float((model(Xte).argmax(1) == yte).float().mean())

    gen = torch.Generator().manual_seed(0)
    history = []
    for _ in range(EPOCHS):
        order = torch.randperm(len(Xtr), generator=gen)
        for start in range(0, len(Xtr), BATCH):
            idx = order[start:start + BATCH]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx]).backward()
            opt.step()
        with opt.sparse_weights():
            sparse_acc = accuracy()
        history.append((accuracy(), sparse_acc, opt.support_ratio()["overall"]))
    dense_acc, sparse_acc, kept = history[-1]
    pixels = opt.support(model[0].weight).sum(dim=0).numpy()  # hidden units reading each pixel
    print(f"Digits (8x8): {len(Xtr)} training, {len(Xte)} test images; a 64-{HIDDEN}-10 network "
          f"trained {EPOCHS} epochs with DessiLBI (lr={LR}, kappa={KAPPA}, mu={mu:g}).")
    print(f"   support of Gamma: {kept:.1%} of the penalized weights ({1 - kept:.1%} pruned)")
    print(f"   input pixels read by no hidden unit: {int(np.sum(pixels == 0))} of 64 (the "
          f"{int(blank.sum())} always-blank pixels among them: "
          f"{'yes' if np.all(pixels[blank] == 0) else 'no'})")
    print(f"   test accuracy: dense W {dense_acc:.3f}, sparse W* (W on the support) "
          f"{sparse_acc:.3f}; chance 0.100")

    if not can_draw("dessilbi.png"):
        return
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.5, 3.8), layout="constrained")
    ax_acc, ax_img = fig.subplots(1, 2, width_ratios=[3, 2])
    epochs = np.arange(1, EPOCHS + 1)
    hist = np.asarray(history)
    ax_acc.plot(epochs, hist[:, 0], marker="o", label="test accuracy, dense W")
    ax_acc.plot(epochs, hist[:, 1], marker="o", label="test accuracy, sparse W*")
    ax_acc.plot(epochs, hist[:, 2], marker="s", color="k", label="share of weights in the support")
    ax_acc.set(xlabel="epoch", ylim=(0, 1), title="Accuracy and support along the path")
    ax_acc.legend(loc="lower right", fontsize=8)
    image = ax_img.imshow(pixels.reshape(8, 8), cmap="viridis")
    ax_img.set(xticks=[], yticks=[], title="Hidden units reading each input pixel")
    fig.colorbar(image, ax=ax_img, shrink=0.8)
    atomic_write(Path(output_dir) / "dessilbi.png", lambda tmp: fig.savefig(tmp, dpi=110))
    print("   saved dessilbi.png: accuracy and support by epoch; pixels the sparse layer reads")
