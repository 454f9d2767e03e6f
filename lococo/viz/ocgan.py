"""OC-GAN figures: SGSM attention (eq. 6.3.1), generated samples with their layouts drawn over
them, layout editing (6.4.6), the converging same-class objects of fig. 6.1 ("donut")."""

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

__all__ = [
    "attention_maps_figure",
    "donut_figure",
    "editing_figure",
    "layout_samples_figure",
    "plot_attention_maps",
    "plot_layout_samples",
]
BOX_COLOURS = ("white", "yellow", "cyan", "magenta", "orange", "lime", "red", "blue")


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


def _draw_layout(
    ax: Any, image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, valid: np.ndarray,
    class_names: Sequence[str], *, text: bool = True,
) -> None:  # fmt: skip
    size = image.shape[0]
    ax.imshow(image, interpolation="nearest")
    for j in np.flatnonzero(valid):
        colour = BOX_COLOURS[j % len(BOX_COLOURS)]
        _box(ax, boxes[j], size, colour)
        if text:
            x0, y0 = (float(v) * size - 0.5 for v in boxes[j][:2])
            ax.text(
                x0 + 0.5, y0 + 0.5, str(class_names[int(labels[j])])[:10], color="black",
                fontsize=5, va="top", ha="left",
                bbox={"facecolor": colour, "alpha": 0.7, "pad": 0.5, "lw": 0},
            )  # fmt: skip
    ax.set_axis_off()


def layout_samples_figure(
    images: Any, boxes: Any, labels: Any, valid: Any, class_names: Sequence[str],
    title: str = "", columns: int = 8, real: Any = None,
):  # fmt: skip
    """Generated images with their layouts (boxes and class names) drawn over them; each image
    once bare and once with its layout (and, with ``real``, the real image of the layout)."""
    rgb, box = as_rgb(images), as_array(boxes)
    lab, ok = as_array(labels).astype(int), as_array(valid).astype(bool)
    reference = as_rgb(real) if real is not None else None
    n = rgb.shape[0]
    cols = min(columns, n)
    groups = (n + cols - 1) // cols
    per = 3 if reference is not None else 2
    fig, axes = new_figure(groups * per, cols, figsize=(1.5 * cols, 1.5 * groups * per + 0.4))
    for ax in axes.flat:
        ax.set_axis_off()
    for i in range(n):
        g, c = divmod(i, cols)
        axes[g * per, c].imshow(rgb[i], interpolation="nearest")
        _draw_layout(axes[g * per + 1, c], rgb[i], box[i], lab[i], ok[i], class_names)
        if reference is not None:
            _draw_layout(
                axes[g * per + 2, c], reference[i], box[i], lab[i], ok[i], class_names, text=False
            )
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_layout_samples(
    images: Any, boxes: Any, labels: Any, valid: Any, class_names: Sequence[str],
    path: str | Path, title: str = "", real: Any = None,
) -> Path:  # fmt: skip
    """:func:`layout_samples_figure` saved as a PNG at ``path``."""
    fig = layout_samples_figure(images, boxes, labels, valid, class_names, title, real=real)
    return save_figure(fig, path)


def editing_figure(
    rows: Sequence[dict[str, Any]], class_names: Sequence[str], path: str | Path
) -> Path:
    """Layout editing (6.4.6): per scene, the original layout's image, then the same noise with
    one object moved, then with one object resized. Each row entry holds ``images`` (three
    ``3×S×S``), ``boxes`` (three ``M×4``), ``labels``, ``valid`` and ``edited`` (the object)."""
    titles = ("original", "object moved", "object resized")
    fig, axes = new_figure(len(rows), 3, figsize=(5.0, 1.75 * len(rows) + 0.4))
    for r, row in enumerate(rows):
        rgb = as_rgb(row["images"])
        lab, ok = as_array(row["labels"]).astype(int), as_array(row["valid"]).astype(bool)
        for c in range(3):
            _draw_layout(axes[r, c], rgb[c], as_array(row["boxes"][c]), lab, ok, class_names)
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=8)
    fig.suptitle("Layout editing under the same noise", fontsize=9)
    return save_figure(fig, path)


def donut_figure(
    images: dict[str, Any], masks: dict[str, Any], gaps: Sequence[float], path: str | Path,
    scores: dict[str, Sequence[float]] | None = None,
) -> Path:  # fmt: skip
    """Fig. 6.1: two same-class objects converging (columns: centre distance) for each model
    (rows: image, then the generator's two placed masks in red/green)."""
    models = list(images)
    cols = len(gaps)
    fig, axes = new_figure(2 * len(models), cols, figsize=(1.3 * cols, 2.7 * len(models) + 0.4))
    for r, name in enumerate(models):
        rgb = as_rgb(images[name])
        mk = as_array(masks[name])
        for c in range(cols):
            ax = axes[2 * r, c]
            ax.imshow(rgb[c], interpolation="nearest")
            ax.set_axis_off()
            title = f"gap {gaps[c]:+.2f}"
            if scores is not None:
                title += f"\n{scores[name][c]:.2f}"
            ax.set_title(title, fontsize=6)
            overlay = np.zeros((*mk.shape[-2:], 3))
            overlay[..., 0] = np.clip(mk[c, 0], 0, 1)
            overlay[..., 1] = np.clip(mk[c, 1], 0, 1)
            axes[2 * r + 1, c].imshow(overlay, interpolation="nearest")
            axes[2 * r + 1, c].set_axis_off()
        axes[2 * r, 0].text(
            -0.1, 0.5, name, transform=axes[2 * r, 0].transAxes, rotation=90, fontsize=7,
            va="center", ha="right",
        )  # fmt: skip
    fig.suptitle("Two same-class objects converging (fig. 6.1): images, placed masks", fontsize=8)
    return save_figure(fig, path)
