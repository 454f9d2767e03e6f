"""Shared figure plumbing: Agg figures, atomic PNG saving, array conversion, Pearson r
(:func:`lococo.metrics.correlation.pearson`, the one used for results too)."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lococo.io import atomic_open
from lococo.metrics.correlation import pearson as pearson  # re-exported for figures

DPI = 120

#: Marker cycle for groups (colour comes from the ``tab10`` cycle).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def new_figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (6.0, 4.5), **kwargs: Any
) -> tuple[Figure, np.ndarray]:
    """A pyplot-free Agg figure and its axes as a 2-D object array (``nrows×ncols``)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def save_figure(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG at ``dpi`` atomically (parents created), then close it."""
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi)
    close_figure(fig)
    return path


def close_figure(fig: Figure) -> None:
    """Release ``fig``: drop it from pyplot's registry when pyplot is in use, clear it."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    fig.clear()


def as_array(values: Any) -> np.ndarray:
    """A float64 numpy copy of a tensor, array or sequence."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    return np.array(values, dtype=np.float64)


def as_rgb(images: Any) -> np.ndarray:
    """``N×3×S×S`` images in [-1, 1] → ``N×S×S×3`` in [0, 1] (single-channel → grey)."""
    array = as_array(images)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ValueError(f"images must be N×3×S×S (or N×1×S×S), got shape {array.shape}")
    if array.shape[1] == 1:
        array = np.repeat(array, 3, axis=1)
    return np.clip((array.transpose(0, 2, 3, 1) + 1.0) / 2.0, 0.0, 1.0)


def as_maps(maps: Any) -> np.ndarray:
    """``N×h×w`` heatmaps as float64 (a single ``h×w`` map becomes ``1×h×w``)."""
    array = as_array(maps)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"maps must be N×h×w, got shape {array.shape}")
    return array


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``N×h×w`` maps to ``N×size`` (half-pixel centres, no corner alignment)."""
    import torch
    import torch.nn.functional as F

    tensor = torch.as_tensor(maps, dtype=torch.float64)[:, None]
    out = F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)
    return out[:, 0].numpy()


def format_r(r: float, p: float) -> str:
    """``r = 0.73, p = 1.2e-03`` (``r = n/a`` when undefined)."""
    if not math.isfinite(r):
        return "r = n/a"
    if p == 0.0:  # below the smallest double: scipy returns exactly 0
        return f"r = {r:.2f}, p < 1e-300"
    return f"r = {r:.2f}, p = {p:.1e}"


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Least-squares slope and intercept over finite pairs; None when x has < 2 distinct values."""
    keep = np.isfinite(x) & np.isfinite(y)
    xs, ys = x[keep], y[keep]
    if xs.size < 2 or np.ptp(xs) == 0:
        return None
    slope, intercept = np.polyfit(xs, ys, 1)
    return float(slope), float(intercept)


def unique_in_order(values: Sequence[Any]) -> list[Any]:
    """Distinct ``values`` in order of first appearance."""
    return list(dict.fromkeys(values))


def style(index: int) -> dict[str, Any]:
    """Colour and marker of the ``index``-th group."""
    return {"color": f"C{index % 10}", "marker": MARKERS[index % len(MARKERS)]}
