"""Load, validate and summarise a layout dataset (``lococo data check --format coco-stuff|vg``).

The summary holds the statistics of thesis table B.1: images per split after preprocessing,
objects, classes and the objects-per-image range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lococo.data.layout import load_layout
from lococo.data.layout.types import LayoutData
from lococo.errors import DataError


def check_dataset(
    root: str | Path, fmt: str, *, verify_images: bool = True, progress: bool = True
) -> dict[str, Any]:
    """Load and validate a layout dataset; return its summary. Problems raise ``DataError``.

    Loading checks every annotation file; with ``verify_images`` each kept image is also fully
    decoded and its size compared with the annotated one.
    """
    options: dict[str, Any] = {"progress": progress} if fmt.lower() == "vg" else {}
    data = load_layout(root, fmt, **options)
    verified = verify_layout_images(data, progress) if verify_images else 0
    return summarize(data, verified)


def verify_layout_images(data: LayoutData, progress: bool = True) -> int:
    """Decode every image of every split; a corrupt file or a size that differs from the
    annotated one is a ``DataError``. Returns the number of images checked."""
    from lococo.data.images import threaded_map, verify_image

    scenes = [s for split in data.splits.values() for s in split]
    paths = [s.image_path for s in scenes]
    for scene, size in zip(
        scenes, threaded_map(verify_image, paths, progress, "verify"), strict=True
    ):
        if tuple(size) != (scene.width, scene.height):
            raise DataError(
                scene.image_path,
                f"image is {size[0]}x{size[1]} but annotated as {scene.width}x{scene.height}",
            )
    return len(scenes)


def summarize(data: LayoutData, verified: int = 0) -> dict[str, Any]:
    """JSON-friendly statistics of ``data`` (table B.1)."""
    splits: dict[str, Any] = {}
    all_counts: list[int] = []
    for name, scenes in data.splits.items():
        counts = [s.num_objects for s in scenes]
        all_counts += counts
        splits[name] = {
            "images": len(scenes),
            "objects": int(sum(counts)),
            "objects_per_image": _range(counts),
            "classes_present": len({int(c) for s in scenes for c in s.labels}),
        }
    return {
        "format": data.format,
        "root": str(data.root),
        "classes": data.num_classes,
        "class_names": list(data.class_names),
        "category_ids": list(data.category_ids),
        "objects_per_image_rule": [data.min_objects, data.max_objects],
        "objects_per_image": _range(all_counts),
        "splits": splits,
        "images_verified": verified,
        "source_stats": data.extra.get("source_stats", {}),
        "unused_images": data.extra.get("unused_val2017_images", 0),
        "warnings": [str(w) for w in data.extra.get("warnings", [])],
    }


def _range(counts: list[int]) -> dict[str, float]:
    if not counts:
        return {"min": 0, "max": 0, "mean": 0.0}
    arr = np.asarray(counts)
    return {"min": int(arr.min()), "max": int(arr.max()), "mean": round(float(arr.mean()), 3)}


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines for a :func:`check_dataset` summary."""
    s = summary
    low, high = s["objects_per_image_rule"]
    lines = [
        f"{s['format']} at {s['root']}",
        f"classes: {s['classes']}; objects per image kept: {low}-{high}",
        f"{'split':<6} {'images':>8} {'objects':>9}  objects/image (min-max, mean)",
    ]
    for name, split in s["splits"].items():
        r = split["objects_per_image"]
        lines.append(
            f"{name:<6} {split['images']:>8} {split['objects']:>9}  "
            f"{r['min']}-{r['max']}, {r['mean']:.2f}"
        )
    if s.get("unused_images"):
        lines.append(f"unused val2017 images (beyond val + test): {s['unused_images']}")
    if s.get("images_verified"):
        lines.append(f"images verified: all {s['images_verified']} decode")
    else:
        lines.append("images not verified")
    lines.extend(f"warning: {w}" for w in s.get("warnings", []))
    return lines
