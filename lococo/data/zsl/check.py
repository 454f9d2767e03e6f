"""Load, validate and summarise a ZSL dataset (``lococo data check --format cub|awa2|sun``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lococo.data.zsl.types import ZSLData
from lococo.errors import LococoError

ZSL_FORMATS = ("cub", "awa2", "sun")
# Slack in pixels before a box or visible part counts as lying outside its image.
OUTSIDE_TOLERANCE = 1.0


def load_zsl(root: str | Path, fmt: str, splits_dir: str | Path | None = None) -> ZSLData:
    """Load the dataset at ``root`` in format ``fmt`` (one of :data:`ZSL_FORMATS`)."""
    key = fmt.lower()
    if key == "cub":
        from lococo.data.zsl.cub import load_cub

        return load_cub(root, splits_dir=splits_dir)
    if key == "awa2":
        from lococo.data.zsl.awa2 import load_awa2

        return load_awa2(root, splits_dir=splits_dir)
    if key == "sun":
        from lococo.data.zsl.sun import load_sun

        return load_sun(root, splits_dir=splits_dir)
    raise LococoError(f"unknown ZSL format {fmt!r}; expected one of {', '.join(ZSL_FORMATS)}")


def check_dataset(
    root: str | Path,
    fmt: str,
    *,
    verify_images: bool = True,
    progress: bool = True,
    splits_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Load and validate a dataset; return its summary. Problems raise ``DataError``.

    Loading checks every annotation file (fields, ids, ranges, shapes, splits); with
    ``verify_images`` each image is also opened and fully decoded.
    """
    data = load_zsl(root, fmt, splits_dir)
    warnings = list(_warnings(data)) + geometry_warnings(data)
    verified = 0
    if verify_images:
        from lococo.data.images import threaded_map, verify_image

        for _ in threaded_map(verify_image, data.image_paths, progress, "verify"):
            verified += 1
    return summarize(data, fmt.lower(), verified, warnings)


def _warnings(data: ZSLData) -> list[str]:
    found = data.extra.get("warnings", [])
    return [str(w) for w in found] if isinstance(found, list) else []


def geometry_warnings(data: ZSLData) -> list[str]:
    """Notes on boxes and visible parts that extend outside their image."""
    if data.image_sizes is None:
        return []
    size = data.image_sizes.astype(np.float64)
    out: list[str] = []
    if data.boxes is not None:
        b = data.boxes
        outside = (
            (b[:, 0] < -OUTSIDE_TOLERANCE)
            | (b[:, 1] < -OUTSIDE_TOLERANCE)
            | (b[:, 0] + b[:, 2] > size[:, 0] + OUTSIDE_TOLERANCE)
            | (b[:, 1] + b[:, 3] > size[:, 1] + OUTSIDE_TOLERANCE)
        )
        if outside.any():
            out.append(f"{int(outside.sum())} bounding box(es) extend outside their image")
    if data.parts is not None:
        loc = data.parts.locs
        vis = loc[..., 2] > 0
        outside = vis & (
            (loc[..., 0] < -OUTSIDE_TOLERANCE)
            | (loc[..., 1] < -OUTSIDE_TOLERANCE)
            | (loc[..., 0] > size[:, None, 0] + OUTSIDE_TOLERANCE)
            | (loc[..., 1] > size[:, None, 1] + OUTSIDE_TOLERANCE)
        )
        if outside.any():
            out.append(f"{int(outside.sum())} visible part location(s) lie outside their image")
    return out


def summarize(
    data: ZSLData, fmt: str, verified: int = 0, warnings: list[str] | None = None
) -> dict[str, Any]:
    """JSON-friendly counts describing ``data``."""
    parts = data.parts
    return {
        "name": data.name,
        "format": fmt,
        "root": str(data.root),
        "splits_dir": data.extra.get("splits_dir"),
        "images": len(data.image_paths),
        "classes": data.num_classes,
        "seen_classes": len(data.seen_classes),
        "unseen_classes": len(data.unseen_classes),
        "trainval": len(data.trainval),
        "test_seen": len(data.test_seen),
        "test_unseen": len(data.test_unseen),
        "train": None if data.train is None else len(data.train),
        "val": None if data.val is None else len(data.val),
        "attributes": int(data.class_attributes.shape[1]),
        "image_attributes": data.image_attributes is not None,
        "parts": 0 if parts is None else len(parts.names),
        "part_clicks": 0 if parts is None else len(parts.clicks),
        "boxes": 0 if data.boxes is None else len(data.boxes),
        "images_verified": verified,
        "warnings": list(warnings or []),
    }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines for a :func:`check_dataset` summary."""
    s = summary
    splits = f"trainval {s['trainval']}, test_seen {s['test_seen']}, test_unseen {s['test_unseen']}"
    if s.get("train") is not None and s.get("val") is not None:
        splits += f", train {s['train']}, val {s['val']}"
    lines = [
        f"{s['name']} ({s['format']}) at {s['root']}",
        f"splits from {s['splits_dir']}",
        f"images: {s['images']}, classes: {s['classes']} "
        f"({s['seen_classes']} seen, {s['unseen_classes']} unseen), "
        f"attributes: {s['attributes']}" + (" (+ per image)" if s.get("image_attributes") else ""),
        f"splits: {splits}",
    ]
    if s.get("boxes") or s.get("parts"):
        lines.append(f"boxes: {s['boxes']}, parts: {s['parts']} ({s['part_clicks']} clicks)")
    if s.get("images_verified"):
        lines.append(f"images verified: all {s['images_verified']} decode")
    else:
        lines.append("images not verified")
    lines.extend(f"warning: {w}" for w in s.get("warnings", []))
    return lines
