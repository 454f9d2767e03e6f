"""Pearson correlation with one NaN policy for every figure, result and report.

Pairs where either value is NaN or infinite are dropped (pairwise-complete data) and the number
of pairs used is returned with ``r`` and its two-sided p-value, so a figure and ``results.json``
computed from the same values always agree and always say on how many points.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

MIN_POINTS = 3  # r is undefined below 3 points (and its p-value has no degrees of freedom)


class Correlation(NamedTuple):
    """Pearson ``r``, its two-sided ``p`` and ``n``, the finite pairs it was computed on."""

    r: float
    p: float
    n: int


def _vector(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64).reshape(-1)


def pearson(
    x: np.ndarray | Sequence[float] | Any, y: np.ndarray | Sequence[float] | Any
) -> Correlation:
    """Pearson ``(r, p, n)`` of ``x`` and ``y`` over the pairs where both are finite.

    ``r`` and ``p`` are NaN (without warnings) with fewer than 3 such pairs or when either side
    is constant on them; ``p`` comes from ``scipy.stats.pearsonr`` (the t distribution with
    ``n - 2`` degrees of freedom). Inputs of different lengths raise ``ValueError``.
    """
    from scipy import stats

    xs, ys = _vector(x), _vector(y)
    if xs.shape != ys.shape:
        raise ValueError(f"pearson needs equal lengths, got {xs.size} and {ys.size}")
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    n = int(xs.size)
    if n < MIN_POINTS or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return Correlation(math.nan, math.nan, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-constant inputs warn; the value is still defined
        result = stats.pearsonr(xs, ys)
    return Correlation(float(result.statistic), float(result.pvalue), n)
