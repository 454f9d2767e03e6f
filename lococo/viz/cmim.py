"""CMIM figures: segmentation overlays (prediction vs ground truth on the same slices)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lococo.viz.common import as_array, new_figure, save_figure

TRUTH_COLOUR = "#00d000"  # ground-truth outline
PRED_COLOUR = (1.0, 0.15, 0.15)  # prediction fill


def slice_dice(truth: np.ndarray, pred: np.ndarray) -> float:
    """Dice of one binary slice pair (1 when both are empty)."""
    t, p = truth > 0, pred > 0
    total = int(t.sum() + p.sum())
    return 1.0 if total == 0 else 2.0 * float((t & p).sum()) / total


def draw_overlay(ax: Any, image: Any, truth: Any, pred: Any, title: str = "") -> None:
    """One panel: the input slice in grey, the prediction filled red, the truth outlined green."""
    image, truth, pred = as_array(image), as_array(truth) > 0, as_array(pred) > 0
    lo, hi = np.percentile(image, [1, 99]) if image.size else (0.0, 1.0)
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    fill = np.zeros((*pred.shape, 4))
    fill[pred] = (*PRED_COLOUR, 0.45)
    ax.imshow(fill, interpolation="nearest")
    if truth.any() and not truth.all():
        ax.contour(truth.astype(float), levels=[0.5], colors=TRUTH_COLOUR, linewidths=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def overlay_grid(
    panels: Sequence[Sequence[tuple[Any, Any, Any] | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | Path,
    title: str = "",
) -> Path:
    """A grid of overlays: ``panels[r][c]`` is ``(image, truth, prediction)`` (``None``: blank);
    each panel is titled with its column and the Dice of that slice alone (not the case's),
    rows are labelled on the left."""
    nrows, ncols = len(panels), max((len(r) for r in panels), default=0)
    if nrows == 0 or ncols == 0:
        raise ValueError("overlay_grid needs at least one panel")
    fig, axes = new_figure(nrows, ncols, figsize=(1.9 * ncols + 0.6, 1.9 * nrows + 0.5))
    for r, row in enumerate(panels):
        labelled = False
        for c in range(ncols):
            ax = axes[r, c]
            panel = row[c] if c < len(row) else None
            if panel is None:
                ax.axis("off")
                continue
            image, truth, pred = panel
            dice = slice_dice(as_array(truth), as_array(pred))
            draw_overlay(ax, image, truth, pred, f"{col_labels[c]}  slice Dice {dice:.2f}")
            if not labelled:  # the row's label goes left of its first panel
                ax.set_ylabel(row_labels[r], fontsize=9)
                labelled = True
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def load_predictions(run: Path) -> dict[str, np.ndarray] | None:
    """The slices a run's evaluation saved for overlays (``predictions.npz``), or None."""
    path = Path(run) / "predictions.npz"
    if not path.is_file():
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def draw_study_overlays(out: Path, runs: Mapping[Any, Path]) -> list[str]:
    """One figure per saved test slice: rows = methods, columns = test-time input.

    ``runs`` maps study cells (with ``method``, ``modality`` and ``tested_on()``) to their run
    directories; every cell of one seed evaluates the same test cases, and the evaluation saves
    the same slice (the one with the most enhancing tumour) of each. Each panel shows the
    input modality (FLAIR for ``all``), the prediction from that input and the ground truth.
    Returns the figures' paths relative to ``out``.
    """
    from lococo.cmim.seg_config import SEG_MODALITIES
    from lococo.cmim.study import TEST_MODALITIES

    saved = {cell: load_predictions(path) for cell, path in runs.items()}
    saved = {cell: p for cell, p in saved.items() if p is not None}
    if not saved:
        return []
    first = next(iter(saved.values()))
    figures = []
    for index, (case, slice_) in enumerate(zip(first["case"], first["slice"], strict=True)):
        rows: dict[str, dict[str, tuple[Any, Any, Any]]] = {}
        for cell, data in saved.items():
            hits = np.flatnonzero((data["case"] == case) & (data["slice"] == slice_))
            if hits.size == 0:
                continue
            k = int(hits[0])
            label = "single" if cell.method == "single" else cell.method
            for condition in cell.tested_on():
                if f"pred_{condition}" not in data:
                    continue
                shown = SEG_MODALITIES.index(condition) if condition in SEG_MODALITIES else 0
                rows.setdefault(label, {})[condition] = (
                    data["image"][k, shown],
                    data["target"][k],
                    data[f"pred_{condition}"][k],
                )
        columns = [m for m in TEST_MODALITIES if any(m in r for r in rows.values())]
        if not columns:
            continue
        name = f"figures/overlay_{index}.png"
        overlay_grid(
            [[r.get(m) for m in columns] for r in rows.values()],
            list(rows),
            columns,
            out / name,
            f"Test case {case}, axial slice {int(slice_)}: prediction (red) vs ground truth "
            "(green outline) per test-time input",
        )
        figures.append(name)
    return figures
