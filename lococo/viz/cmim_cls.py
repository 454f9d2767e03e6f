"""CMIM classification figures: ROC curves per class, text–image agreement heatmaps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lococo.viz.common import new_figure, save_figure, style, upsample


def load_predictions(run: Path) -> dict[str, np.ndarray] | None:
    """A classification run's test scores (``predictions.npz``), or None."""
    path = Path(run) / "predictions.npz"
    if not path.is_file():
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def draw_roc(runs: Mapping[str, Path], path: str | Path, title: str = "") -> Path | None:
    """One panel per class (classes of the first run), one ROC curve per run (labelled by its
    key, with its AUC), the chance diagonal; ``None`` when no run has predictions."""
    from sklearn.metrics import roc_auc_score, roc_curve

    saved = {name: load_predictions(p) for name, p in runs.items()}
    saved = {name: d for name, d in saved.items() if d is not None}
    if not saved:
        return None
    classes = [str(c) for c in next(iter(saved.values()))["classes"]]
    ncols = min(4, len(classes))
    nrows = math.ceil(len(classes) / ncols)
    fig, axes = new_figure(nrows, ncols, figsize=(2.6 * ncols + 0.4, 2.6 * nrows + 0.5))
    for k, name in enumerate(classes):
        ax = axes[k // ncols, k % ncols]
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        for i, (label, data) in enumerate(saved.items()):
            names = [str(c) for c in data["classes"]]
            if name not in names:
                continue
            j = names.index(name)
            y, s = data["labels"][:, j], data["scores"][:, j]
            if not 0 < y.sum() < len(y):
                continue
            fpr, tpr, _ = roc_curve(y, s)
            auc = roc_auc_score(y, s)
            ax.plot(fpr, tpr, color=style(i)["color"], lw=1.2, label=f"{label} {auc:.2f}")
        ax.set_title(f"{name} (n+={int(next(iter(saved.values()))['labels'][:, k].sum())})")
        ax.set_xlim(-0.02, 1.02)  # curves on the border (AUC 1) stay visible
        ax.set_ylim(-0.02, 1.02)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="lower right")
    for k in range(len(classes), nrows * ncols):
        axes[k // ncols, k % ncols].axis("off")
    fig.supxlabel("false positive rate", fontsize=9)
    fig.supylabel("true positive rate", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def draw_agreement(agreement: Mapping[str, Any], path: str | Path, title: str = "") -> Path:
    """Rows: test images; first column the X-ray, then one heatmap per key word of its report:
    the local–local critic's score of each image position with that word, upsampled and laid
    over the image (bright: the word and that part of the image agree)."""
    images = np.asarray(agreement["images"])
    maps = list(agreement["maps"])
    titles = list(agreement.get("titles") or [""] * len(images))
    per_image: dict[int, list[tuple[str, np.ndarray]]] = {}
    for index, word, scores in maps:
        per_image.setdefault(int(index), []).append((str(word), np.asarray(scores)))
    ncols = 1 + max((len(v) for v in per_image.values()), default=0)
    nrows = len(images)
    fig, axes = new_figure(nrows, ncols, figsize=(2.2 * ncols + 0.3, 2.3 * nrows + 0.5))
    for r, image in enumerate(images):
        ax = axes[r, 0]
        ax.imshow(image, cmap="gray", vmin=-1, vmax=1)
        ax.set_title(titles[r][:40], fontsize=7)
        for c in range(1, ncols):
            axes[r, c].axis("off")
        for c, (word, scores) in enumerate(per_image.get(r, []), start=1):
            ax = axes[r, c]
            ax.axis("on")
            heat = upsample(scores[None], image.shape)[0]
            ax.imshow(image, cmap="gray", vmin=-1, vmax=1)
            ax.imshow(heat, cmap="inferno", alpha=0.55)
            ax.set_title(f'"{word}"', fontsize=8)
        for c in range(ncols):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
    fig.suptitle(
        title or "Where report words and image positions agree (local–local critic scores)",
        fontsize=9,
    )
    return save_figure(fig, path)
