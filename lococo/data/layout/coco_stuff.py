"""COCO-Stuff 2017 with the sg2im preprocessing (thesis 6.4.1, table B.1).

Layout under ``root``::

    annotations/instances_{train,val}2017.json   things (ids 1-90 with gaps)
    annotations/stuff_{train,val}2017.json       stuff (ids 92-182) and "other" (183)
    train2017/, val2017/                         images named by the ``file_name`` fields

Rules (sg2im's COCO loader): only images that appear in the stuff file's annotations; an
object (thing or stuff) counts when its box covers strictly more than 2% of the original image
(``w·h/(W·H) > 0.02``), so boxes of zero width or height are dropped too (the real
train2017 file has two; they are listed as warnings, while negative sizes are errors); the stuff
class "other" is dropped; crowd annotations are kept; images
keep 3–8 counted objects, things first then stuff, in file order. Classes are every declared
category except "other", mapped to contiguous indices in category-id order (171 on the real
data).

COCO has no public test annotations, so — as in sg2im and the papers comparing with it — the
kept ``val2017`` images are divided: sorted by image id, the first ``min(1024, n // 3)`` are
``val`` and the next ``min(2048, n - n_val)`` are ``test`` (1,024 / 2,048 on the real data, as in
table B.1; the real data's 25 remaining images are unused). ``train2017`` is ``train``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lococo.data.images import inside_root
from lococo.data.layout.types import LayoutData, Scene
from lococo.errors import DataError

MIN_OBJECT_AREA = 0.02
MIN_OBJECTS = 3
MAX_OBJECTS = 8
OTHER_NAME = "other"
VAL_IMAGES = 1024
TEST_IMAGES = 2048
# Slack in pixels before a box counts as lying outside its image (COCO boxes are floats).
OUTSIDE_TOLERANCE = 1.0
SOURCE_SPLITS: tuple[str, ...] = ("train", "val")


def annotation_files(root: Path, split: str) -> tuple[Path, Path]:
    """``(instances, stuff)`` JSON paths of the 2017 ``split`` (``train`` or ``val``)."""
    ann = root / "annotations"
    return ann / f"instances_{split}2017.json", ann / f"stuff_{split}2017.json"


def val_test_division(n: int) -> tuple[int, int]:
    """How many of ``n`` kept val2017 images (by image id) go to ``val`` and then ``test``."""
    n_val = min(VAL_IMAGES, n // 3)
    return n_val, min(TEST_IMAGES, n - n_val)


def load_coco_stuff(
    root: str | Path,
    *,
    min_object_area: float = MIN_OBJECT_AREA,
    min_objects: int = MIN_OBJECTS,
    max_objects: int = MAX_OBJECTS,
) -> LayoutData:
    """Read and validate COCO-Stuff 2017 at ``root`` with the sg2im preprocessing."""
    root = Path(root)
    files = {split: annotation_files(root, split) for split in SOURCE_SPLITS}
    for instances, stuff in files.values():  # check every file exists before parsing any
        if not instances.is_file():
            problem = "missing instances file"
            if stuff.is_file():
                problem += f" (the stuff file {stuff.name} needs it)"
            raise DataError(instances, problem)
        if not stuff.is_file():
            raise DataError(stuff, "missing stuff file (COCO-Stuff needs instances and stuff)")
    categories: dict[int, str] | None = None
    kept: dict[str, list[Scene]] = {}
    stats: dict[str, dict[str, int]] = {}
    warnings: list[str] = []
    for split, (instances_path, stuff_path) in files.items():
        instances, stuff = _read_json(instances_path), _read_json(stuff_path)
        cats = _categories(instances_path, instances) | _categories(stuff_path, stuff)
        _check_disjoint(instances_path, stuff_path, instances, stuff)
        if categories is None:
            categories = cats
        elif cats != categories:
            raise DataError(stuff_path, "categories differ from those of the train files")
        images = _images(instances_path, instances, root / f"{split}2017")
        scenes, stats[split], zero_size = _scenes(
            instances_path,
            stuff_path,
            instances,
            stuff,
            images,
            cats,
            min_object_area,
            min_objects,
            max_objects,
        )
        if not scenes:
            raise DataError(
                instances_path,
                f"empty layout: no image keeps {min_objects}-{max_objects} objects "
                f"covering > {min_object_area:g} of the image",
            )
        kept[split] = scenes
        warnings += [f"zero-size box dropped by the area rule: {z}" for z in zero_size]
        del instances, stuff  # the real files take gigabytes once parsed: free before the next
    assert categories is not None
    class_ids = sorted(c for c, name in categories.items() if name != OTHER_NAME)
    index = {c: k for k, c in enumerate(class_ids)}
    for scenes in kept.values():
        for scene in scenes:
            scene.labels = np.asarray([index[int(c)] for c in scene.labels], dtype=np.int64)
    val_scenes = sorted(kept["val"], key=lambda s: s.image_id)
    n_val, n_test = val_test_division(len(val_scenes))
    splits = {
        "train": kept["train"],
        "val": val_scenes[:n_val],
        "test": val_scenes[n_val : n_val + n_test],
    }
    return LayoutData(
        format="coco-stuff",
        root=root,
        class_names=[categories[c] for c in class_ids],
        category_ids=class_ids,
        splits=splits,
        max_objects=max_objects,
        min_objects=min_objects,
        extra={
            "source_stats": stats,
            "warnings": warnings,
            "unused_val2017_images": len(val_scenes) - n_val - n_test,
            "rules": {
                "min_object_area": min_object_area,
                "min_objects": min_objects,
                "max_objects": max_objects,
            },
        },
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object with images, annotations, categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DataError(path, f"missing or non-list key {key!r}")
    return data


def _field(path: Path, record: Mapping[str, Any], key: str, kind: str, where: str) -> Any:
    if not isinstance(record, Mapping) or key not in record:
        raise DataError(path, f"{where}: missing field {key!r}")
    value = record[key]
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "num": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise DataError(path, f"{where}: field {key!r} has the wrong type ({value!r})")
    return value


def _categories(path: Path, data: Mapping[str, Any]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i, cat in enumerate(data["categories"]):
        where = f"categories[{i}]"
        cid = _field(path, cat, "id", "int", where)
        name = _field(path, cat, "name", "str", where)
        if cid in out:
            raise DataError(path, f"{where}: duplicate category id {cid}")
        out[cid] = name
    if not out:
        raise DataError(path, "no categories")
    return out


def _check_disjoint(
    instances_path: Path, stuff_path: Path, instances: Mapping, stuff: Mapping
) -> None:
    thing_ids = {c["id"] for c in instances["categories"]}
    stuff_ids = {c["id"] for c in stuff["categories"]}
    shared = sorted(thing_ids & stuff_ids)
    if shared:
        raise DataError(stuff_path, f"category id {shared[0]} is also a thing category")


def _images(path: Path, data: Mapping[str, Any], image_dir: Path) -> dict[int, tuple]:
    """``{image id: (file path, width, height)}`` from the instances file."""
    out: dict[int, tuple[Path, int, int]] = {}
    for i, img in enumerate(data["images"]):
        where = f"images[{i}]"
        iid = _field(path, img, "id", "int", where)
        name = _field(path, img, "file_name", "str", where)
        width = _field(path, img, "width", "int", where)
        height = _field(path, img, "height", "int", where)
        if width <= 0 or height <= 0:
            raise DataError(path, f"{where}: image {iid} has non-positive size {width}x{height}")
        if iid in out:
            raise DataError(path, f"{where}: duplicate image id {iid}")
        out[iid] = (inside_root(image_dir, name, path, where=f"{where}.file_name"), width, height)
    return out


def _scenes(
    instances_path: Path,
    stuff_path: Path,
    instances: Mapping[str, Any],
    stuff: Mapping[str, Any],
    images: Mapping[int, tuple[Path, int, int]],
    categories: Mapping[int, str],
    min_object_area: float,
    min_objects: int,
    max_objects: int,
) -> tuple[list[Scene], dict[str, int], list[str]]:
    """Kept scenes (labels still category ids), counts, and notes on zero-size boxes."""
    objects: dict[int, list[tuple[int, list[float], Any]]] = {}
    with_stuff: set[int] = set()
    total = dropped_small = dropped_other = 0
    zero_size: list[str] = []
    for path, data, is_stuff in ((instances_path, instances, False), (stuff_path, stuff, True)):
        for i, ann in enumerate(data["annotations"]):
            where = f"annotations[{i}]"
            iid = _field(path, ann, "image_id", "int", where)
            cid = _field(path, ann, "category_id", "int", where)
            if iid not in images:
                raise DataError(path, f"{where}: refers to unknown image id {iid}")
            if cid not in categories:
                raise DataError(path, f"{where}: refers to unknown category id {cid}")
            _, width, height = images[iid]
            box = _box(path, ann, where, width, height)
            segmentation = ann.get("segmentation")
            _check_segmentation(path, segmentation, where, is_stuff)
            if is_stuff:
                with_stuff.add(iid)
            total += 1
            if categories[cid] == OTHER_NAME:
                dropped_other += 1
                continue
            if box[2] == 0 or box[3] == 0:
                zero_size.append(f"{path.name} {where} (image {iid}, bbox {ann['bbox']})")
            if box[2] * box[3] / (width * height) <= min_object_area:
                dropped_small += 1
                continue
            objects.setdefault(iid, []).append((cid, box, segmentation))
    scenes: list[Scene] = []
    counts = {"too_few": 0, "too_many": 0}
    for iid, (image_path, width, height) in images.items():  # file order, as sg2im
        if iid not in with_stuff:
            continue
        found = objects.get(iid, [])
        if len(found) < min_objects:
            counts["too_few"] += 1
            continue
        if len(found) > max_objects:
            counts["too_many"] += 1
            continue
        if not image_path.is_file():
            raise DataError(image_path, f"missing image file (image id {iid} of {instances_path})")
        scenes.append(_scene(iid, image_path, width, height, found))
    stats = {
        "images": len(images),
        "images_with_stuff": len(with_stuff),
        "annotations": total,
        "dropped_other": dropped_other,
        "dropped_small": dropped_small,
        "images_too_few_objects": counts["too_few"],
        "images_too_many_objects": counts["too_many"],
        "images_kept": len(scenes),
        "zero_size_boxes": len(zero_size),
    }
    return scenes, stats, zero_size


def _box(path: Path, ann: Mapping[str, Any], where: str, width: int, height: int) -> list[float]:
    box = ann.get("bbox")
    if (
        not isinstance(box, Sequence)
        or len(box) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        or not all(math.isfinite(v) for v in box)
    ):
        raise DataError(path, f"{where}: 'bbox' must be four numbers [x, y, w, h], got {box!r}")
    x, y, w, h = (float(v) for v in box)
    if w < 0 or h < 0:
        raise DataError(path, f"{where}: box {box} has negative size")
    tol = OUTSIDE_TOLERANCE
    if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
        raise DataError(path, f"{where}: box {box} lies outside its {width}x{height} image")
    return [x, y, w, h]


def _check_segmentation(path: Path, seg: Any, where: str, required: bool) -> None:
    if seg is None:
        if required:
            raise DataError(path, f"{where}: stuff annotation without 'segmentation'")
        return
    if isinstance(seg, list):
        if all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in seg):
            return
    elif isinstance(seg, Mapping) and isinstance(seg.get("counts"), (str, list)):
        size = seg.get("size")
        if isinstance(size, Sequence) and len(size) == 2:
            return
    raise DataError(path, f"{where}: 'segmentation' is neither polygons nor RLE")


def _scene(
    iid: int, image_path: Path, width: int, height: int, found: list[tuple[int, list[float], Any]]
) -> Scene:
    xywh = np.asarray([box for _, box, _ in found], dtype=np.float64)
    scale = np.asarray([width, height, width, height], dtype=np.float64)
    corners = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    boxes = (corners / scale).astype(np.float32)
    np.clip(boxes, 0.0, 1.0, out=boxes)
    masks = [seg for _, _, seg in found]
    return Scene(
        image_id=iid,
        image_path=image_path,
        width=width,
        height=height,
        boxes=boxes,
        labels=np.asarray([cid for cid, _, _ in found], dtype=np.int64),  # ids until remapped
        masks=None if any(m is None for m in masks) else masks,
    )
