"""Designs, noise laws and summaries shared by the validation studies.

Everything is generated from a :class:`numpy.random.Generator`, so a study is
reproducible from its seed. Designs have unit-variance columns before any
rescaling the study applies.
"""

from __future__ import annotations

import numpy as np

CORRELATIONS = ("iid", "ar0.3", "ar0.8", "block0.5")
NOISE_LAWS = ("gaussian", "t5", "hetero")


def make_design(n: int, p: int, correlation: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian rows with the named correlation between columns.

    ``'iid'``; ``'ar<r>'``: ``corr(x_j, x_k) = r^|j - k|``; ``'block<r>'``:
    blocks of 10 columns with correlation ``r`` inside a block, 0 between.
    """
    Z = rng.standard_normal((n, p))
    if correlation == "iid":
        return Z
    if correlation.startswith("ar"):
        r = float(correlation[2:])
        X = np.empty_like(Z)
        X[:, 0] = Z[:, 0]
        for j in range(1, p):
            X[:, j] = r * X[:, j - 1] + np.sqrt(1.0 - r * r) * Z[:, j]
        return X
    if correlation.startswith("block"):
        r = float(correlation[5:])
        block = np.arange(p) // 10
        shared = rng.standard_normal((n, int(block.max()) + 1))[:, block]
        return np.sqrt(r) * shared + np.sqrt(1.0 - r) * Z
    raise ValueError(f"unknown correlation {correlation!r}; use one of {CORRELATIONS}")


def make_noise(n: int, law: str, rng: np.random.Generator, X: np.ndarray | None = None
               ) -> np.ndarray:
    """Noise with unit scale: ``'gaussian'``, ``'t<df>'`` (Student t, unit variance
    for ``df > 2``) or ``'hetero'`` (Gaussian with standard deviation growing with
    ``|x_1|``, normalized to unit average variance)."""
    if law == "gaussian":
        return rng.standard_normal(n)
    if law.startswith("t"):
        df = float(law[1:])
        e = rng.standard_t(df, n)
        return e / np.sqrt(df / (df - 2.0)) if df > 2 else e
    if law == "hetero":
        x = X[:, 0] if X is not None else rng.standard_normal(n)
        sd = 0.5 + np.abs(x)
        return rng.standard_normal(n) * sd / np.sqrt(np.mean(sd ** 2))
    raise ValueError(f"unknown noise law {law!r}; use one of {NOISE_LAWS}")


def make_signal(p: int, kind: str, rng: np.random.Generator, n_true: int = 5,
                amplitude: float = 1.0) -> np.ndarray:
    """``'sparse'``: ``n_true`` random coordinates of size ``amplitude`` with random
    signs; ``'dense'``: every coordinate ``N(0, amplitude^2 / p)``."""
    beta = np.zeros(p)
    if kind == "sparse":
        idx = rng.choice(p, size=min(n_true, p), replace=False)
        beta[idx] = amplitude * rng.choice([-1.0, 1.0], size=idx.size)
    elif kind == "dense":
        beta = rng.standard_normal(p) * amplitude / np.sqrt(p)
    else:
        raise ValueError(f"unknown signal {kind!r}; use 'sparse' or 'dense'")
    return beta


def classification_data(spec, replicate: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and true labels of one replicate of a classification design.

    ``spec`` is ``None`` for the 8x8 digits (the same data every replicate) or
    ``(n_samples, n_classes, n_features, n_informative, class_sep)`` for
    ``make_classification`` (no redundant features, no label flips, a new data
    set per replicate).
    """
    from sklearn.datasets import load_digits, make_classification

    if spec is None:
        return load_digits(return_X_y=True)
    n, K, p, informative, sep = spec
    return make_classification(n, p, n_informative=informative, n_redundant=0, n_classes=K,
                               class_sep=sep, flip_y=0.0, random_state=1000 + replicate)


def mean_se(values) -> tuple[float, float]:
    """Mean and its standard error (0 for a single value)."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        return float("nan"), float("nan")
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), se


def fmt(mean: float, se: float, digits: int = 3) -> str:
    """``'0.412 (0.031)'``: a mean with its standard error."""
    return f"{mean:.{digits}f} ({se:.{digits}f})"


def markdown_table(header, rows) -> str:
    """A GitHub-flavoured markdown table from a header and rows of cells."""
    lines = ["| " + " | ".join(map(str, header)) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)
