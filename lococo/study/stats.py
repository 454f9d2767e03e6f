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


PAIRED_TESTS = ("wilcoxon", "t")


def paired_test(
    a: Sequence[float], b: Sequence[float], *, test: str = "wilcoxon"
) -> dict[str, Any]:
    """Two-sided paired test of the samples ``a`` and ``b``: Wilcoxon signed-rank (default) or
    Student's paired t-test (``test="t"``).

    Returns ``test``, ``n`` (pairs), ``mean_diff`` and ``median_diff`` of ``a - b``, the
    ``wins`` and ``losses`` of ``a``, the statistic and ``p``. Non-finite pairs are dropped.
    Wilcoxon drops zero differences (``zero_method="wilcox"``); with no non-zero difference
    ``p`` is 1. Its smallest two-sided p with ``n`` pairs is ``2 / 2**n`` (0.25 for 3 seeds),
    so few seeds need the t-test. The t-test with identical differences has ``p`` 1 when they
    are all 0 and 0 otherwise. With fewer than two pairs ``p`` is NaN.
    """
    from scipy import stats

    if test not in PAIRED_TESTS:
        raise ValueError(f"unknown paired test {test!r}; choose from {', '.join(PAIRED_TESTS)}")
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples must be equal-length vectors: {x.shape} vs {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    diff = x[keep] - y[keep]
    result: dict[str, Any] = {
        "test": "wilcoxon" if test == "wilcoxon" else "paired t",
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
    if test == "t":
        if np.ptp(diff) == 0:  # identical non-zero differences: t is infinite
            result["statistic"] = math.copysign(math.inf, float(diff[0]))
            result["p"] = 0.0
            return result
        t = stats.ttest_rel(x[keep], y[keep])
        result["statistic"], result["p"] = float(t.statistic), float(t.pvalue)
        return result
    w = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    result["statistic"], result["p"] = float(w.statistic), float(w.pvalue)
    return result
