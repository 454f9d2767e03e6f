"""``lococo ocgan sample``: images from hand-written layouts, and layout editing (thesis 6.4.6).

The layout file is JSON: a list of scenes, each a non-empty list of objects
``{"label": NAME, "box": [x0, y0, x1, y1]}`` with ``NAME`` one of the run's class names and the
box in normalised image coordinates (``0 <= x0 < x1 <= 1``, ``0 <= y0 < y1 <= 1``, y down), at
most as many objects per scene as the model was trained with. Example::

    [[{"label": "disc", "box": [0.1, 0.2, 0.45, 0.6]},
      {"label": "sky-other", "box": [0.0, 0.0, 1.0, 0.4]}]]

Every problem (unreadable file, bad JSON, unknown label, box outside [0, 1] or inverted, empty
scene, too many objects) is one error line naming the file, the scene (and object) index and
the problem, raised before anything is written. Output (``--out``, absent or empty)::

    images/scene<i>_<k>.png      image k of scene i (k < --per-layout)
    grid.png                     every image, bare and with its layout drawn
    editing/scene<i>_{original,moved,resized}.png, editing.png
                                 each scene again with its largest movable object moved and
                                 with it resized, under the same image and object noise
    sample.json                  what was written and with which seed

The same run, file, seed and ``--per-layout`` give the same images (noise from a generator
seeded with ``--seed``; the generator in eval mode).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lococo.errors import DataError, LococoError
from lococo.io import atomic_open, write_json
from lococo.ocgan.gan_train import TrainedGenerator, generate, load_generator

#: Layout editing: the edited object's box moves by this fraction of the image (away from the
#: nearer border) and is scaled by this factor about its centre.
EDIT_SHIFT = 0.2
EDIT_SCALE = 0.6


def read_layouts(
    path: str | Path, class_names: list[str], max_objects: int
) -> list[list[tuple[int, list[float]]]]:
    """The scenes of a layout JSON file as ``(class index, [x0, y0, x1, y1])`` lists."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "layout file not found") from None
    except UnicodeDecodeError:
        raise DataError(path, "not UTF-8 text") from None
    except OSError as err:
        raise DataError(path, f"cannot read ({err.strerror or err})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON ({err.msg})", err.lineno) from None
    if not isinstance(data, list) or not data:
        raise DataError(path, "expected a non-empty JSON list of scenes")
    index = {name: i for i, name in enumerate(class_names)}
    scenes = []
    for s, scene in enumerate(data):
        where = f"scene {s}"
        if not isinstance(scene, list):
            raise DataError(path, f"{where}: expected a list of objects")
        if not scene:
            raise DataError(path, f"{where}: empty scene (at least one object is needed)")
        if len(scene) > max_objects:
            raise DataError(
                path,
                f"{where}: {len(scene)} objects, more than the model allows ({max_objects})",
            )
        objects = []
        for o, obj in enumerate(scene):
            at = f"{where}, object {o}"
            if not isinstance(obj, dict) or set(obj) != {"label", "box"}:
                raise DataError(path, f'{at}: expected {{"label": NAME, "box": [x0, y0, x1, y1]}}')
            label, box = obj["label"], obj["box"]
            if not isinstance(label, str) or label not in index:
                known = ", ".join(class_names[:12]) + (", ..." if len(class_names) > 12 else "")
                raise DataError(path, f"{at}: unknown label {label!r} (known: {known})")
            if (
                not isinstance(box, list)
                or len(box) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
                or not all(math.isfinite(float(v)) for v in box)
            ):
                raise DataError(path, f"{at}: box must be four numbers [x0, y0, x1, y1]")
            x0, y0, x1, y1 = (float(v) for v in box)
            if min(x0, y0, x1, y1) < 0 or max(x0, y0, x1, y1) > 1:
                raise DataError(path, f"{at}: box {box} lies outside [0, 1]")
            if x0 >= x1 or y0 >= y1:
                raise DataError(
                    path, f"{at}: box {box} is inverted or empty (need x0 < x1, y0 < y1)"
                )
            objects.append((index[label], [x0, y0, x1, y1]))
        scenes.append(objects)
    return scenes


def layout_batch(
    scenes: list[list[tuple[int, list[float]]]], max_objects: int
) -> dict[str, Tensor]:
    n = len(scenes)
    boxes = torch.zeros(n, max_objects, 4)
    labels = torch.zeros(n, max_objects, dtype=torch.long)
    valid = torch.zeros(n, max_objects, dtype=torch.bool)
    for i, scene in enumerate(scenes):
        for j, (label, box) in enumerate(scene):
            boxes[i, j] = torch.tensor(box)
            labels[i, j] = label
            valid[i, j] = True
    return {"boxes": boxes, "labels": labels, "valid": valid}


def edited_boxes(boxes: Tensor, valid: Tensor) -> tuple[int, Tensor, Tensor]:
    """The edited object's index (the largest one that can move: narrower than the image by
    ``EDIT_SHIFT``, else the largest) and the scene's boxes with it moved / resized."""
    width = boxes[:, 2] - boxes[:, 0]
    area = width * (boxes[:, 3] - boxes[:, 1])
    movable = valid & (width <= 1 - EDIT_SHIFT)
    pick = movable if bool(movable.any()) else valid
    j = int(torch.where(pick, area, torch.full_like(area, -1.0)).argmax())
    x0, y0, x1, y1 = boxes[j].tolist()
    w, h = x1 - x0, y1 - y0
    dx = EDIT_SHIFT if (x0 + x1) / 2 <= 0.5 else -EDIT_SHIFT
    dx = max(-x0, min(1 - x1, dx))  # stay inside the image
    dy = 0.0
    if abs(dx) < 1e-6:  # as wide as the image: move it vertically
        dy = EDIT_SHIFT if (y0 + y1) / 2 <= 0.5 else -EDIT_SHIFT
        dy = max(-y0, min(1 - y1, dy))
    moved = boxes.clone()
    moved[j] = torch.tensor([x0 + dx, y0 + dy, x1 + dx, y1 + dy])
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    resized = boxes.clone()
    resized[j] = torch.tensor(
        [
            cx - w * EDIT_SCALE / 2,
            cy - h * EDIT_SCALE / 2,
            cx + w * EDIT_SCALE / 2,
            cy + h * EDIT_SCALE / 2,
        ]
    ).clamp(0, 1)
    return j, moved, resized


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LococoError(f"{out}: exists and is not an empty directory; choose another --out")


def _save_png(image: Tensor, path: Path) -> None:
    from PIL import Image

    array = ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    with atomic_open(path, "wb") as handle:
        Image.fromarray(array).save(handle, format="PNG")


def sample_layouts(
    run_dir: str | Path,
    layouts: str | Path,
    out: str | Path,
    *,
    seed: int = 0,
    per_layout: int = 1,
) -> dict[str, Any]:
    """Generate ``per_layout`` images per scene of ``layouts`` and the editing figure into
    ``out`` (see the module docstring); nothing is written when an input is bad."""
    if per_layout < 1:
        raise LococoError(f"--per-layout must be >= 1, got {per_layout}")
    out = Path(out)
    _check_out(out)
    trained = load_generator(run_dir)
    scenes = read_layouts(layouts, trained.class_names, trained.max_objects)
    batch = layout_batch(scenes, trained.max_objects)
    n = len(scenes)
    noise = trained.noise(n * per_layout, seed)
    rep = {k: v.repeat_interleave(per_layout, 0) for k, v in batch.items()}
    images = _generate(trained, {**rep, **noise})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        written = _write_outputs(tmp, trained, scenes, batch, images, noise, per_layout)
        write_json(
            tmp / "sample.json",
            {
                "run": str(run_dir),
                "layouts": str(layouts),
                "seed": seed,
                "per_layout": per_layout,
                "scenes": n,
                "images": written,
            },
        )
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"scenes": n, "images": written, "out": str(out)}


def _generate(trained: TrainedGenerator, layout: dict[str, Tensor], chunk: int = 64) -> Tensor:
    parts = []
    for start in range(0, len(layout["z"]), chunk):
        parts.append(
            generate(
                trained.generator, {k: v[start : start + chunk] for k, v in layout.items()}
            ).cpu()
        )
    return torch.cat(parts)


def _write_outputs(
    root: Path,
    trained: TrainedGenerator,
    scenes: list[Any],
    batch: dict[str, Tensor],
    images: Tensor,
    noise: dict[str, Tensor],
    per_layout: int,
) -> int:
    from lococo.viz.ocgan import editing_figure, plot_layout_samples

    (root / "images").mkdir()
    for i in range(len(scenes)):
        for k in range(per_layout):
            _save_png(images[i * per_layout + k], root / "images" / f"scene{i}_{k}.png")
    rep = {k: v.repeat_interleave(per_layout, 0) for k, v in batch.items()}
    plot_layout_samples(
        images, rep["boxes"], rep["labels"], rep["valid"], trained.class_names, root / "grid.png",
        "generated images and their layouts",
    )  # fmt: skip
    rows = []
    (root / "editing").mkdir()
    for i in range(len(scenes)):
        boxes, valid = batch["boxes"][i], batch["valid"][i]
        j, moved, resized = edited_boxes(boxes, valid)
        variants = torch.stack([boxes, moved, resized])
        layout = {
            "boxes": variants,
            "labels": batch["labels"][i].expand(3, -1),
            "valid": valid.expand(3, -1),
            "z": noise["z"][i * per_layout].expand(3, -1),
            "obj_z": noise["obj_z"][i * per_layout].expand(3, -1, -1),
        }
        edited = generate(trained.generator, layout).cpu()
        for name, image in zip(("original", "moved", "resized"), edited, strict=True):
            _save_png(image, root / "editing" / f"scene{i}_{name}.png")
        rows.append(
            {
                "images": edited,
                "boxes": variants,
                "labels": batch["labels"][i],
                "valid": valid,
                "edited": j,
            }
        )
    editing_figure(rows, trained.class_names, root / "editing.png")
    return len(scenes) * per_layout
