"""ZFS figures (thesis figs. 4.2–4.6, A.3–A.7); every function returns a matplotlib Figure.

Figures that show correlation coefficients also carry them as ``fig.lococo_stats``:
a dict mapping a panel name to ``{"r": float, "p": float, "n": int}`` (see each function).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from lococo.viz.common import (
    as_array,
    as_maps,
    as_rgb,
    fit_line,
    format_r,
    new_figure,
    pearson,
    style,
    unique_in_order,
    upsample,
)

HEATMAP_CMAP = "viridis"  # yellow = high, as in fig. 4.4
OVERLAY_ALPHA = 0.55
MAX_SCATTER_POINTS = 5000

__all__ = [
    "correlation_bars",
    "heatmap_grid",
    "heatmap_pairs",
    "paired_bars",
    "per_part_bars",
    "relative_gain",
    "scatter_with_r",
    "similarity_scatter",
]


# --------------------------------------------------------------------------- heatmaps


def _check_pairs(images_a: np.ndarray, images_b: np.ndarray, maps: np.ndarray) -> None:
    if not len(images_a) == len(images_b) == len(maps):
        raise ValueError(
            f"need as many A images, B images and maps: {len(images_a)}, {len(images_b)}, "
            f"{len(maps)}"
        )


def _show_image(ax: Axes, image: np.ndarray, title: str = "") -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def _overlay(ax: Axes, image: np.ndarray, heat: np.ndarray, title: str = "") -> Any:
    """Image B with the bilinearly upsampled heatmap drawn over it."""
    _show_image(ax, image, title)
    big = upsample(heat[None], image.shape[:2])[0]
    return ax.imshow(big, cmap=HEATMAP_CMAP, alpha=OVERLAY_ALPHA, vmin=0.0, vmax=big.max() or 1.0)


def _absolute(ax: Axes, heat: np.ndarray, title: str = "") -> Any:
    """The heatmap alone at its native resolution (one square per local position)."""
    image = ax.imshow(heat, cmap=HEATMAP_CMAP, interpolation="nearest", vmin=0.0)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def heatmap_pairs(
    images_a: Any, images_b: Any, maps: Any, titles: Sequence[str] | None = None
) -> Figure:
    """Fig. 4.4 for one model: per pair, image A, the heatmap over image B, the map alone.

    ``images_*`` are ``N×3×S×S`` in [-1, 1]; ``maps`` are ``N×h×w`` (each sums to 1), the
    scores of A's global feature against B's local features. ``titles`` (N) label image B.
    One row per pair: 3 panels plus the absolute map's colour bar.
    """
    a, b, heat = as_rgb(images_a), as_rgb(images_b), as_maps(maps)
    _check_pairs(a, b, heat)
    n = len(heat)
    titles = list(titles) if titles is not None else [f"B{i + 1}" for i in range(n)]
    fig, axes = new_figure(n, 3, figsize=(8.0, 2.6 * n + 0.4))
    for i in range(n):
        _show_image(axes[i, 0], a[i], "A (global)")
        _overlay(axes[i, 1], b[i], heat[i], f"B: {titles[i]}")
        image = _absolute(axes[i, 2], heat[i], "heatmap over B")
        fig.colorbar(image, ax=axes[i, 2], shrink=0.85)
    fig.suptitle("Mutual-information heatmaps (yellow = high)")
    return fig


def heatmap_grid(images_a: Any, images_b: Any, maps_by_model: Mapping[str, Any]) -> Figure:
    """Fig. 4.4 across models: first row the images, then one row per model.

    Each pair takes two columns: image B and image A (the global's source) in the first row;
    the heatmap over B and the absolute map in each model's row, labelled with its name.
    """
    a, b = as_rgb(images_a), as_rgb(images_b)
    maps = {name: as_maps(m) for name, m in maps_by_model.items()}
    if not maps:
        raise ValueError("maps_by_model is empty")
    for value in maps.values():
        _check_pairs(a, b, value)
    n, rows = len(b), len(maps) + 1
    fig, axes = new_figure(rows, 2 * n, figsize=(3.2 * n + 1.0, 1.7 * rows + 0.4))
    for j in range(n):
        _show_image(axes[0, 2 * j], b[j], f"B{j + 1}")
        _show_image(axes[0, 2 * j + 1], a[j], f"A{j + 1} (global)")
    for row, (name, heat) in enumerate(maps.items(), start=1):
        for j in range(n):
            _overlay(axes[row, 2 * j], b[j], heat[j])
            _absolute(axes[row, 2 * j + 1], heat[j])
        _row_label(axes[row, 0], name)
    _row_label(axes[0, 0], "images")
    fig.suptitle("Mutual-information heatmaps per model (yellow = high)")
    return fig


def _row_label(ax: Axes, text: str) -> None:
    """A y-label that survives ``set_axis_off`` (drawn as text left of the axes)."""
    ax.text(-0.08, 0.5, text, transform=ax.transAxes, rotation=90, ha="right", va="center")


# --------------------------------------------------------------------------- scatters


def _scatter_panel(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    labels: Sequence[str] | None,
    groups: Sequence[str] | None,
    *,
    annotate: bool,
    fit: bool,
) -> dict[str, Any]:
    """Points (coloured by group), labels, least-squares line; returns ``{"r", "p", "n"}``."""
    names = unique_in_order(groups) if groups is not None else [None]
    for index, name in enumerate(names):
        mask = np.ones(len(x), bool) if name is None else np.array([g == name for g in groups])
        ax.scatter(x[mask], y[mask], s=36, label=name, zorder=3, **style(index))
    if annotate and labels is not None:
        for xi, yi, text in zip(x, y, labels, strict=True):
            if math.isfinite(xi) and math.isfinite(yi):
                ax.annotate(
                    str(text), (xi, yi), xytext=(3, 3), textcoords="offset points", fontsize=7
                )
    r, p, n = pearson(x, y)
    line = fit_line(x, y) if fit else None
    if line is not None:
        xs = np.linspace(np.nanmin(x[np.isfinite(y)]), np.nanmax(x[np.isfinite(y)]), 50)
        ax.plot(xs, line[0] * xs + line[1], "k--", lw=1, label=f"least squares ({format_r(r, p)})")
    ax.grid(alpha=0.3)
    return {"r": r, "p": p, "n": n}


def scatter_with_r(
    x: Any,
    y: Any,
    labels: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    *,
    xlabel: str = "x",
    ylabel: str = "y",
    title: str = "",
    annotate: bool = True,
    fit_line: bool = True,
    facet: bool = False,
    reference: Mapping[str, tuple[float, float]] | None = None,
) -> Figure:
    """Figs. 4.2 / 4.5: one point per model or cell, Pearson r and p in title and legend.

    ``reference`` points (name -> (x, y), e.g. the untrained encoder) are drawn on every panel
    as grey crosses with their name, and left out of r and the fit.

    ``groups`` colours and marks the points (local loss, dataset, ...); ``facet=True`` draws
    one panel per group, each with its own fit and r. ``fig.lococo_stats`` holds
    ``{"all": {...}}`` or, faceted, one entry per group; r is NaN with fewer than 3 points.
    """
    xs, ys = as_array(x).ravel(), as_array(y).ravel()
    if xs.shape != ys.shape:
        raise ValueError(f"x and y differ in length: {xs.size} vs {ys.size}")
    for name, seq in (("labels", labels), ("groups", groups)):
        if seq is not None and len(seq) != xs.size:
            raise ValueError(f"{name} has {len(seq)} entries for {xs.size} points")
    if facet and groups is None:
        raise ValueError("facet=True needs groups")
    panels = unique_in_order(groups) if facet else ["all"]
    fig, axes = new_figure(1, len(panels), figsize=(5.0 * len(panels) + 1.0, 4.5))
    stats: dict[str, dict[str, Any]] = {}
    for ax, panel in zip(axes[0], panels, strict=True):
        mask = np.ones(xs.size, bool) if not facet else np.array([g == panel for g in groups])
        sub_labels = [lab for lab, m in zip(labels, mask, strict=True) if m] if labels else None
        sub_groups = None if facet or groups is None else list(groups)
        stats[str(panel)] = _scatter_panel(
            ax, xs[mask], ys[mask], sub_labels, sub_groups, annotate=annotate, fit=fit_line
        )
        _reference_points(ax, reference)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        head = f"{panel}: " if facet else (f"{title}\n" if title else "")
        ax.set_title(head + format_r(stats[str(panel)]["r"], stats[str(panel)]["p"]), fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if facet and title:
        fig.suptitle(title)
    fig.lococo_stats = stats
    return fig


def _reference_points(ax: Axes, reference: Mapping[str, tuple[float, float]] | None) -> None:
    for name, (xr, yr) in (reference or {}).items():
        if math.isfinite(xr) and math.isfinite(yr):
            ax.scatter([xr], [yr], s=60, marker="x", color="0.4", zorder=4, label=name)
            ax.annotate(name, (xr, yr), xytext=(3, -9), textcoords="offset points", fontsize=7)


def _subsample(n: int, limit: int = MAX_SCATTER_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` points (a fixed random subset above the limit)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def similarity_scatter(parts_ratio: Any, attr_sim: Any, ssim: Any, model: str) -> Figure:
    """Fig. A.4 left: the parts ratio against attribute cosine similarity and against SSIM.

    r and p use every pair; above 5000 pairs a fixed random subset is drawn.
    ``fig.lococo_stats`` = ``{"attr": {...}, "ssim": {...}}``.
    """
    ratio = as_array(parts_ratio).ravel()
    fig, axes = new_figure(1, 2, figsize=(10.0, 4.2))
    stats = {}
    panels = (("attr", attr_sim, "attribute cosine similarity"), ("ssim", ssim, "SSIM"))
    for ax, (key, values, label) in zip(axes[0], panels, strict=True):
        sim = as_array(values).ravel()
        if sim.shape != ratio.shape:
            raise ValueError(f"{key} has {sim.size} values for {ratio.size} parts ratios")
        keep = _subsample(sim.size)
        ax.scatter(sim[keep], ratio[keep], s=6, alpha=0.25, color="C0", linewidths=0)
        r, p, n = pearson(sim, ratio)
        line = fit_line(sim, ratio)
        if line is not None:
            grid = np.linspace(np.nanmin(sim), np.nanmax(sim), 50)
            ax.plot(grid, line[0] * grid + line[1], "k--", lw=1.2)
        stats[key] = {"r": r, "p": p, "n": n}
        ax.set_xlabel(label)
        ax.set_ylabel("parts ratio")
        ax.set_title(f"{model}: {format_r(r, p)} (n = {n})", fontsize=10)
        ax.grid(alpha=0.3)
    fig.lococo_stats = stats
    return fig


# --------------------------------------------------------------------------- bars


def _bar_width(groups: int) -> float:
    """Figure width in inches for ``groups`` bar groups (5 to 16)."""
    return float(min(max(5.0, 0.55 * groups + 2.0), 16.0))


def _grouped_bars(
    ax: Axes,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    errors: Mapping[str, Sequence[float] | None] | None = None,
) -> None:
    """Side-by-side bars: one group per category, one bar per series."""
    width = 0.8 / max(len(series), 1)
    positions = np.arange(len(categories))
    for index, (name, values) in enumerate(series.items()):
        values = as_array(values)
        if values.size != len(categories):
            raise ValueError(f"{name} has {values.size} values for {len(categories)} models")
        err = (errors or {}).get(name)
        offset = (index - (len(series) - 1) / 2) * width
        ax.bar(
            positions + offset,
            values,
            width,
            label=name,
            color=f"C{index % 10}",
            yerr=None if err is None else as_array(err),
            capsize=3 if err is not None else 0,
        )
    ax.set_xticks(positions, [str(c) for c in categories], rotation=30, ha="right")
    ax.grid(axis="y", alpha=0.3)


def correlation_bars(
    models: Sequence[str], r_attr: Sequence[float], r_ssim: Sequence[float]
) -> Figure:
    """Fig. A.4 right: Pearson r of the parts ratio with attribute similarity and SSIM."""
    fig, axes = new_figure(figsize=(_bar_width(len(models)), 4.2))
    ax = axes[0, 0]
    _grouped_bars(ax, models, {"attribute similarity": r_attr, "SSIM": r_ssim})
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_ylabel("Pearson r with parts ratio")
    ax.set_title("Parts ratio correlations per model")
    ax.legend(fontsize=8)
    return fig


def relative_gain(models: Sequence[str], gains_by_loss: Mapping[str, Sequence[float]]) -> Figure:
    """Fig. 4.3: relative ZSL gain of each local loss over the plain model (0.12 = +12 %)."""
    fig, axes = new_figure(figsize=(_bar_width(len(models)), 4.2))
    ax = axes[0, 0]
    _grouped_bars(ax, models, {str(k): v for k, v in gains_by_loss.items()})
    ax.axhline(0.0, color="k", lw=0.8)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_ylabel("relative ZSL top-1 gain")
    ax.set_title("Gain of the local losses over the plain model")
    ax.legend(title="local loss", fontsize=8)
    return fig


def paired_bars(
    models: Sequence[str],
    values_a: Sequence[float],
    values_b: Sequence[float],
    labels: tuple[str, str] = ("average representations", "average predictions"),
    ylabel: str = "ZSL top-1",
    chance: float | None = None,
    errors_a: Sequence[float] | None = None,
    errors_b: Sequence[float] | None = None,
    title: str = "",
) -> Figure:
    """Figs. 4.6 / A.5–A.7: two bars per model (e.g. avg. representations vs predictions)."""
    fig, axes = new_figure(figsize=(_bar_width(len(models)), 4.2))
    ax = axes[0, 0]
    series = {labels[0]: values_a, labels[1]: values_b}
    _grouped_bars(ax, models, series, {labels[0]: errors_a, labels[1]: errors_b})
    if chance is not None:
        ax.axhline(chance, color="0.3", ls=":", lw=1.2, label=f"chance ({chance:.3f})")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{labels[0]} vs {labels[1]}")
    ax.legend(fontsize=8)
    return fig


def per_part_bars(part_names: Sequence[str], f1: Sequence[float], title: str = "") -> Figure:
    """Per-part F1 of the parts probe; NaN parts have no bar and are marked "n/a"."""
    values = as_array(f1).ravel()
    if values.size != len(part_names):
        raise ValueError(f"{values.size} F1 values for {len(part_names)} parts")
    fig, axes = new_figure(figsize=(max(5.0, 0.5 * len(part_names) + 2.0), 4.0))
    ax = axes[0, 0]
    positions = np.arange(values.size)
    ax.bar(positions, values, color="C0")
    for pos in positions[~np.isfinite(values)]:
        ax.text(pos, 0.01, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
    if np.isfinite(values).any():
        mean = float(np.nanmean(values))
        ax.axhline(mean, color="C1", ls="--", lw=1, label=f"mean F1 = {mean:.3f}")
        ax.legend(fontsize=8)
    ax.set_xticks(positions, [str(p) for p in part_names], rotation=45, ha="right")
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("F1")
    ax.set_title(title or "Parts F1 per part")
    ax.grid(axis="y", alpha=0.3)
    return fig
