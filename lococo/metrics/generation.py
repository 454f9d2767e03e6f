"""Generation metrics as pure functions: Fréchet distance, Inception Score, KID.

Numpy arrays or torch tensors in, Python floats out; every computation is float64.

* :func:`feature_statistics` is the mean and the unbiased (``N - 1``) covariance of features.
* :func:`frechet_distance` is the FID formula between two Gaussians, with the trace of the
  matrix square root taken from the eigenvalues of a symmetric matrix similar to ``Σ1 Σ2``
  (:func:`trace_sqrt_product`).
* :func:`inception_score` is ``exp E[KL(p(y|x) || p(y))]`` over consecutive splits, as in the
  original implementation (Salimans et al., 2016).
* :func:`kernel_inception_distance` is the unbiased MMD² with the cubic polynomial kernel
  ``(x·y / d + 1)^3`` averaged over random subsets drawn without replacement (Bińkowski et
  al., 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

ArrayLike = Tensor | np.ndarray | Sequence[float]


def _float64(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    out = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or Inf")
    return out


def feature_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (``D``) and unbiased covariance (``D×D``) of ``N×D`` features, in float64."""
    feats = _float64(features, "features")
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"features must be N×D with N >= 2, got shape {feats.shape}")
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def _symmetric(sigma: np.ndarray) -> np.ndarray:
    return (sigma + sigma.T) / 2


def trace_sqrt_product(sigma1: ArrayLike, sigma2: ArrayLike) -> float:
    """``tr √(Σ1 Σ2)`` for PSD ``Σ1, Σ2``, from a symmetric eigenproblem.

    ``Σ1 = P L Lᵀ Pᵀ`` by pivoted Cholesky (LAPACK ``dpstrf``, which stops at the numerical
    rank ``r``, so singular ``Σ1`` needs no jitter); the symmetric PSD ``r×r`` matrix
    ``Lᵀ Pᵀ Σ2 P L`` has the non-zero eigenvalues of ``Σ1 Σ2`` (and of ``√Σ1 Σ2 √Σ1``), and the
    trace is the sum of their square roots. Eigenvalues that rounding makes slightly negative
    are clipped to 0, so the result is finite and real.
    """
    from scipy.linalg.blas import dtrmm
    from scipy.linalg.lapack import dpstrf

    s1 = _symmetric(_float64(sigma1, "sigma1"))
    s2 = _symmetric(_float64(sigma2, "sigma2"))
    if not np.any(np.diag(s1) > 0):
        return 0.0
    factor, piv, rank, info = dpstrf(s1, lower=1, tol=-1.0)
    if info < 0:
        raise ValueError(f"pivoted Cholesky of sigma1 failed (LAPACK info {info})")
    order = piv - 1
    lower = np.tril(factor)
    right = dtrmm(1.0, lower, s2[np.ix_(order, order)], side=1, lower=1)  # (PᵀΣ2P) L
    middle = dtrmm(1.0, lower, right, side=0, lower=1, trans_a=1)[:rank, :rank]  # Lᵀ (…)
    vals = np.linalg.eigvalsh(_symmetric(middle))
    return float(np.sqrt(np.clip(vals, 0.0, None)).sum())


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance ``|μ1 - μ2|² + tr Σ1 + tr Σ2 - 2 tr √(Σ1 Σ2)`` (float64, ≥ 0)."""
    m1, m2 = _float64(mu1, "mu1"), _float64(mu2, "mu2")
    s1, s2 = _float64(sigma1, "sigma1"), _float64(sigma2, "sigma2")
    if m1.ndim != 1 or m1.shape != m2.shape:
        raise ValueError(f"means must be two vectors of one length, got {m1.shape} and {m2.shape}")
    d = m1.shape[0]
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"covariances must be {d}×{d} like the means, got {s1.shape} and {s2.shape}"
        )
    diff = m1 - m2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt_product(s1, s2)
    return max(float(value), 0.0)


def inception_score(logits: ArrayLike, splits: int = 5) -> tuple[float, float]:
    """Inception Score (mean, std over splits) of ``N×C`` classifier logits.

    The rows are cut into ``splits`` consecutive, unshuffled parts
    ``[i·N // splits, (i+1)·N // splits)``; each part scores
    ``exp(mean_x KL(p(y|x) || mean_x p(y|x)))`` and the result is the mean and the population
    standard deviation of the part scores, as in the original implementation.
    """
    z = _float64(logits, "logits")
    if z.ndim != 2:
        raise ValueError(f"logits must be N×C, got shape {z.shape}")
    n = z.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"need at least one sample per split: {n} samples, {splits} splits")
    log_p = torch.log_softmax(torch.from_numpy(z), dim=1).numpy()
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        log_marginal = np.log(p[lo:hi].mean(axis=0))
        kl = (p[lo:hi] * (log_p[lo:hi] - log_marginal)).sum(axis=1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, *, paired: bool = False) -> float:
    """Unbiased MMD² of two equal-size samples with the kernel ``(x·y / d + 1)^3``.

    ``paired``: row ``i`` of ``x`` and of ``y`` share a source (a layout and the image generated
    from it), so ``k(x_i, y_i)`` is not a draw of the cross term; it is left out (the
    ``i ≠ j`` U-statistic of Gretton et al. 2012), which keeps the estimate unbiased. Without
    it (the KID of Bińkowski et al. 2018, as torch-fidelity) the cross term counts every pair,
    unbiased only for independent samples: paired ones pull it below zero by about
    ``2/m · (E k(x_i, y_i) − E k(x_i, y_j))``.
    """
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    if paired:
        return float(within - 2 * (k_xy.sum() - np.trace(k_xy)) / (m * (m - 1)))
    return float(within - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    features_a: ArrayLike,
    features_b: ArrayLike,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    paired: bool = False,
) -> tuple[float, float]:
    """KID (mean, std over ``subsets``) of two feature sets (``N_a×D``, ``N_b×D``).

    Each subset draws ``subset_size`` rows of each set without replacement
    (``numpy.random.RandomState(seed).choice``, first from ``a`` then from ``b``) and scores
    their unbiased polynomial MMD²; the std is the population std over subsets. ``paired``
    (row ``i`` of ``a`` and ``b`` share a source, e.g. real and generated images of one
    layout): one draw of rows serves both sets and :func:`polynomial_mmd2` leaves the
    same-source pairs out of the cross term.
    """
    a, b = _float64(features_a, "features_a"), _float64(features_b, "features_b")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be N×D with one D, got shapes {a.shape} and {b.shape}")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    if not 2 <= subset_size <= min(len(a), len(b)):
        raise ValueError(
            f"subset_size must be in [2, min(N_a, N_b)] = [2, {min(len(a), len(b))}], "
            f"got {subset_size}"
        )
    if paired and len(a) != len(b):
        raise ValueError(f"paired features need one row count, got {len(a)} and {len(b)}")
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        rows = rng.choice(len(a), subset_size, replace=False)
        xa = a[rows]
        xb = b[rows if paired else rng.choice(len(b), subset_size, replace=False)]
        mmds[i] = polynomial_mmd2(xa, xb, paired=paired)
    return float(mmds.mean()), float(mmds.std())
