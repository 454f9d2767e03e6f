"""Figures (matplotlib, Agg, no pyplot state): ZFS heatmaps, scatters with Pearson r, bars."""

from __future__ import annotations

from lococo.viz.common import pearson, save_figure
from lococo.viz.zfs import (
    correlation_bars,
    heatmap_grid,
    heatmap_pairs,
    paired_bars,
    per_part_bars,
    relative_gain,
    scatter_with_r,
    similarity_scatter,
)

__all__ = [
    "correlation_bars",
    "heatmap_grid",
    "heatmap_pairs",
    "paired_bars",
    "pearson",
    "per_part_bars",
    "relative_gain",
    "save_figure",
    "scatter_with_r",
    "similarity_scatter",
]
