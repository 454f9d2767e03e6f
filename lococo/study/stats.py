"""Statistics of studies: mean ± sample std over seeds, grouped summaries, paired tests."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of ``values``."""
    if not values:
        raise ValueError("mean_std of no values")
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize_groups(
    rows: Iterable[Mapping[str, Any]],
    by: Sequence[str],
    metrics: Sequence[str],
    *,
    carry: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One entry per distinct ``by`` key (in order of first appearance): the key fields,
    ``seeds`` (the group's size), ``<metric>_mean`` / ``<metric>_std`` over the rows that
    have a value for the metric (the metric is left out when no row has one), then the
    ``carry`` fields of the group's first row (values shared by the group, e.g. chance)."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    summary = []
    for key, members in groups.items():
        entry: dict[str, Any] = {**dict(zip(by, key, strict=True)), "seeds": len(members)}
        for metric in metrics:
            values = [m[metric] for m in members if m.get(metric) is not None]
            if values:
                entry[f"{metric}_mean"], entry[f"{metric}_std"] = mean_std(values)
        entry.update({k: members[0][k] for k in carry})
        summary.append(entry)
    return summary


def paired_test(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank test of the paired samples ``a`` and ``b``.

    Returns ``n`` (pairs), ``mean_diff`` and ``median_diff`` of ``a - b``, the ``wins`` of ``a``
    (pairs with ``a > b``), the statistic and ``p``. Zero differences are dropped (Wilcoxon's
    original treatment; ``zero_method="wilcox"``); with no non-zero difference ``p`` is 1, with
    fewer than two pairs it is NaN. Non-finite pairs are dropped.
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples must be equal-length vectors: {x.shape} vs {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    diff = x[keep] - y[keep]
    result: dict[str, Any] = {
        "test": "wilcoxon",
        "n": int(diff.size),
        "mean_diff": float(diff.mean()) if diff.size else math.nan,
        "median_diff": float(np.median(diff)) if diff.size else math.nan,
        "wins": int((diff > 0).sum()),
        "losses": int((diff < 0).sum()),
        "statistic": math.nan,
        "p": math.nan,
    }
    if diff.size < 2:
        return result
    if not np.any(diff != 0):
        result["p"] = 1.0
        return result
    test = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    result["statistic"], result["p"] = float(test.statistic), float(test.pvalue)
    return result
