"""OC-GAN figures: where each scene-graph node of the SGSM looks in its image (eq. 6.3.1)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle

from lococo.viz.common import as_array, as_rgb, new_figure, save_figure, upsample

ATTENTION_CMAP = "viridis"
OVERLAY_ALPHA = 0.6
MAX_NODES = 6

__all__ = ["attention_maps_figure", "plot_attention_maps"]


def attention_maps_figure(
    images: Any,
    boxes: Any,
    labels: Any,
    valid: Any,
    maps: Any,
    class_names: Sequence[str],
    max_nodes: int = MAX_NODES,
):
    """One row per image: the image with its boxes, then each object node's attention map over
    the image (bilinearly upsampled, drawn over the image) with that object's box in white.

    ``images`` ``N×3×P×P`` in ``[-1, 1]``; ``boxes`` ``N×O×4`` normalised; ``labels``/``valid``
    ``N×O``; ``maps`` ``N×O×h×w`` (rows of each node sum to 1).
    """
    rgb = as_rgb(images)
    box = as_array(boxes)
    lab = as_array(labels).astype(int)
    ok = as_array(valid).astype(bool)
    att = as_array(maps)
    n, size = rgb.shape[0], rgb.shape[1]
    cols = 1 + min(max_nodes, max(1, int(ok.sum(1).max(initial=1))))
    fig, axes = new_figure(n, cols, figsize=(1.9 * cols, 1.9 * n + 0.3))
    for r in range(n):
        ax = axes[r, 0]
        ax.imshow(rgb[r], interpolation="nearest")
        for j in np.flatnonzero(ok[r]):
            _box(ax, box[r, j], size, "white")
        ax.set_title("image", fontsize=8)
        nodes = np.flatnonzero(ok[r])[: cols - 1]
        for c in range(1, cols):
            ax = axes[r, c]
            ax.set_axis_off()
            if c - 1 >= len(nodes):
                continue
            j = nodes[c - 1]
            heat = upsample(att[r, j][None], (size, size))[0]
            ax.imshow(rgb[r], interpolation="nearest")
            ax.imshow(heat, cmap=ATTENTION_CMAP, alpha=OVERLAY_ALPHA, vmin=0.0, vmax=heat.max())
            _box(ax, box[r, j], size, "white")
            ax.set_title(str(class_names[lab[r, j]])[:16], fontsize=8)
        axes[r, 0].set_axis_off()
    fig.suptitle("SGSM attention of each graph node over its image", fontsize=9)
    return fig


def _box(ax: Any, b: np.ndarray, size: int, colour: str) -> None:
    x0, y0, x1, y1 = (float(v) * size - 0.5 for v in b)
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.0, ec=colour))


def plot_attention_maps(
    images: Any,
    boxes: Any,
    labels: Any,
    valid: Any,
    maps: Any,
    class_names: Sequence[str],
    path: str | Path,
) -> Path:
    """:func:`attention_maps_figure` saved as a PNG at ``path``."""
    fig = attention_maps_figure(images, boxes, labels, valid, maps, class_names)
    return save_figure(fig, path)
