"""The "donut" experiment (thesis fig. 6.1): two objects of one class converging.

Layouts: a sky box over the top and a ground box below (the first stuff classes of the run's
vocabulary, when it has ``sky-other`` / ``grass``; scenes of the training data always have
stuff), and two equal boxes (side ``BOX``) of the same thing class on one row, their horizontal
gap going from clearly apart (``+0.10``) to overlapping (``-0.30`` of the box side, negative =
overlap). For every gap, ``layouts`` random (class, height, noise) draws share the noise across
gaps, so each column differs only in the gap.

Measure ("distinct"): on the generated image, the colour profile along the line joining the
two box centres (averaged over the middle third of the boxes' rows) is compared with the
objects' own colour, the mean of the two 3×3 patches at the centres. ``q(x)`` is the Euclidean
RGB distance (images in [-1, 1]) of the profile from that colour; the *separation* is the
largest ``q`` over the middle half of the segment minus the larger ``q`` at the two centres.
The objects count as distinct when the separation exceeds ``THRESHOLD`` (0.3, i.e. ~15% of the
RGB range): something that is not the object's colour lies between the two centres, so the
two objects do not melt into one blob. It is a proxy: an object's own texture can break the
colour (false "distinct"), so the useful number is the *difference* between two models on the
same layouts and noise, and the trend as the boxes overlap. ``donut.json`` holds the fraction
of distinct layouts per gap, over the overlapping gaps (``distinct_overlapping``) and over all
gaps, per model; ``donut.png`` the images and the generator's placed masks (red/green).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lococo.errors import LococoError
from lococo.io import write_json
from lococo.ocgan.gan_train import TrainedGenerator, load_generator

GAPS = (0.10, 0.05, 0.0, -0.05, -0.10, -0.20, -0.30)
BOX = 0.34
THRESHOLD = 0.3
STUFF = (("sky-other", (0.0, 0.0, 1.0, 0.45)), ("grass", (0.0, 0.45, 1.0, 1.0)))
THING_EXCLUDE = {"sky-other", "grass", "sand", "water-other", "other"}


def donut_layouts(
    class_names: list[str], max_objects: int, count: int, seed: int
) -> tuple[dict[str, Tensor], list[int]]:
    """``count`` draws × ``len(GAPS)`` layouts (draw-major), and the thing class of each draw."""
    index = {n: i for i, n in enumerate(class_names)}
    stuff = [(index[name], box) for name, box in STUFF if name in index]
    things = [i for i, n in enumerate(class_names) if n not in THING_EXCLUDE]
    if not things:
        raise LococoError("the run's vocabulary has no thing class for the donut layouts")
    if max_objects < 2 + len(stuff):
        stuff = stuff[: max(0, max_objects - 2)]
    gen = torch.Generator().manual_seed(seed)
    n = count * len(GAPS)
    boxes = torch.zeros(n, max_objects, 4)
    labels = torch.zeros(n, max_objects, dtype=torch.long)
    valid = torch.zeros(n, max_objects, dtype=torch.bool)
    classes = []
    for d in range(count):
        cls = things[int(torch.randint(len(things), (1,), generator=gen))]
        cy = 0.3 + 0.4 * float(torch.rand((), generator=gen))
        classes.append(cls)
        for g, gap in enumerate(GAPS):
            i = d * len(GAPS) + g
            half = (BOX + gap * BOX) / 2  # centre offset from the middle
            for j, cx in enumerate((0.5 - half, 0.5 + half)):
                boxes[i, j] = torch.tensor([cx - BOX / 2, cy - BOX / 2, cx + BOX / 2, cy + BOX / 2])
                labels[i, j] = cls
            for k, (label, box) in enumerate(stuff):
                boxes[i, 2 + k] = torch.tensor(box)
                labels[i, 2 + k] = label
            valid[i, : 2 + len(stuff)] = True
    return {"boxes": boxes.clamp(0, 1), "labels": labels, "valid": valid}, classes


def separation(images: Tensor, boxes: Tensor) -> Tensor:
    """The separation score of the module docstring for each image (objects 0 and 1)."""
    n, _, size, _ = images.shape
    out = torch.empty(n)
    for i in range(n):
        b0, b1 = boxes[i, 0] * size, boxes[i, 1] * size
        c0 = int(((b0[0] + b0[2]) / 2).clamp(0, size - 1))
        c1 = int(((b1[0] + b1[2]) / 2).clamp(0, size - 1))
        cy = float((b0[1] + b0[3]) / 2)
        h = float(b0[3] - b0[1])
        r0, r1 = int(max(0, cy - h / 6)), int(min(size, cy + h / 6 + 1))
        profile = images[i, :, r0:r1, :].mean(1)  # 3×S
        yc = int(min(size - 1, max(0, round(cy))))
        rows = images[i, :, max(0, yc - 1) : yc + 2]
        patches = [rows[:, :, max(0, c - 1) : c + 2].flatten(1) for c in (c0, c1)]
        colour = torch.cat(patches, 1).mean(1)
        q = (profile - colour[:, None]).norm(dim=0)
        lo, hi = sorted((c0, c1))
        length = hi - lo
        inner = q[lo + length // 4 : hi - length // 4 + 1] if length >= 4 else q[lo : hi + 1]
        out[i] = inner.max() - torch.maximum(q[c0], q[c1])
    return out


def _generate(trained: TrainedGenerator, layout: dict[str, Tensor], noise: dict[str, Tensor]):
    gen = trained.generator
    was = gen.training
    gen.eval()
    try:
        with torch.no_grad():
            out = gen(
                noise["z"], layout["boxes"], layout["labels"], layout["valid"], obj_z=noise["obj_z"]
            )
    finally:
        gen.train(was)
    return out.images, out.masks


def measure(trained: TrainedGenerator, count: int, seed: int) -> dict[str, Any]:
    """Images, masks and the distinct fractions of one model on the donut layouts."""
    layout, classes = donut_layouts(trained.class_names, trained.max_objects, count, seed)
    base = trained.noise(count, seed)
    noise = {k: v.repeat_interleave(len(GAPS), 0) for k, v in base.items()}
    images, masks = _generate(trained, layout, noise)
    score = separation(images, layout["boxes"])
    distinct = (score > THRESHOLD).float().view(count, len(GAPS))
    per_gap = distinct.mean(0)
    overlapping = [g for g, gap in enumerate(GAPS) if gap < 0]
    return {
        "per_gap": {
            f"{gap:+.2f}": round(float(v), 4) for gap, v in zip(GAPS, per_gap, strict=True)
        },
        "mean_separation_per_gap": {
            f"{gap:+.2f}": round(float(v), 4)
            for gap, v in zip(GAPS, score.view(count, len(GAPS)).mean(0), strict=True)
        },
        "distinct_overlapping": round(float(distinct[:, overlapping].mean()), 4),
        "distinct_all": round(float(distinct.mean()), 4),
        "boundaries": bool(trained.cfg.model.boundaries),
        "_images": images.view(count, len(GAPS), *images.shape[1:])[0],
        "_masks": masks.view(count, len(GAPS), *masks.shape[1:])[0, :, :2],
        "_scores": score.view(count, len(GAPS))[0].tolist(),
        "classes": [trained.class_names[c] for c in classes[:8]],
    }


def run_donut(
    run: str | Path,
    out: str | Path,
    *,
    compare: str | Path | None = None,
    seed: int = 0,
    layouts: int = 64,
) -> dict[str, Any]:
    """Measure one or two runs on the same donut layouts; write ``donut.json`` and
    ``donut.png`` into ``out`` (absent or empty; written only when everything succeeded)."""
    from lococo.viz.ocgan import donut_figure

    if layouts < 1:
        raise LococoError(f"--layouts must be >= 1, got {layouts}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LococoError(f"{out}: exists and is not an empty directory; choose another --out")
    runs = [Path(run)] + ([Path(compare)] if compare else [])
    models: dict[str, Any] = {}
    for path in runs:
        trained = load_generator(path)
        name = _model_name(trained, path, models)
        models[name] = {"run": str(path), **measure(trained, layouts, seed)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        donut_figure(
            {k: m["_images"] for k, m in models.items()},
            {k: m["_masks"] for k, m in models.items()},
            GAPS,
            tmp / "donut.png",
            scores={k: m["_scores"] for k, m in models.items()},
        )
        result = {
            "gaps": list(GAPS),
            "box": BOX,
            "threshold": THRESHOLD,
            "layouts_per_gap": layouts,
            "seed": seed,
            "measure": "colour separation between the two centres (lococo.ocgan.donut)",
            "models": {
                k: {kk: v for kk, v in m.items() if not kk.startswith("_")}
                for k, m in models.items()
            },
        }
        write_json(tmp / "donut.json", result)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _model_name(trained: TrainedGenerator, path: Path, taken: dict[str, Any]) -> str:
    name = "with boundaries" if trained.cfg.model.boundaries else "without boundaries"
    return name if name not in taken else f"{name} ({path.name})"
