"""Validate and summarise an Open-I dataset (``lococo data check DIR --format openi``).

Every report is parsed (a malformed one stops the check, naming the file). An image that a
report points at but that is not on disk is counted and listed (up to 10 ids), not fatal —
unless every image is missing. With ``verify_images`` every present PNG is fully decoded.
Label counts are per report (``labels``) and per present image (``image_labels``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lococo.data.cxr.labels import LABELS
from lococo.data.cxr.openi import load_openi
from lococo.errors import DataError

MISSING_EXAMPLES = 10


def check_dataset(
    root: str | Path,
    fmt: str = "openi",
    *,
    verify_images: bool = True,
    progress: bool = True,
    image_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Load ``root``, count reports, images and labels; ``DataError`` on fatal problems."""
    data = load_openi(root, image_dir)
    ids = data.image_ids
    present = [i for i in ids if data.image_path(i).is_file()]
    present_set = set(present)
    missing = [i for i in ids if i not in present_set]
    if ids and not present:
        raise DataError(
            data.image_dir, f"none of the {len(ids)} images the reports name is there (<id>.png)"
        )
    if verify_images and present:
        from lococo.data.images import threaded_map, verify_image

        for _ in threaded_map(
            verify_image, [data.image_path(i) for i in present], progress, "verify"
        ):
            pass
    per_report = np.stack([r.labels(LABELS) for r in data.reports])
    per_image = np.array(
        [r.labels(LABELS) for r in data.reports for i in r.image_ids if i in present_set]
    ).reshape(-1, len(LABELS))
    warnings = list(data.warnings)
    if missing:
        warnings.append(f"{len(missing)} image(s) named by reports are missing")
    return {
        "format": fmt,
        "root": str(data.root),
        "image_dir": str(data.image_dir),
        "reports": len(data.reports),
        "images": len(ids),
        "images_present": len(present),
        "images_missing": len(missing),
        "missing_examples": missing[:MISSING_EXAMPLES],
        "reports_without_images": sum(not r.image_ids for r in data.reports),
        "reports_without_labels": int((per_report.sum(axis=1) == 0).sum()),
        "reports_with_empty_mesh": sum(not r.mesh_terms for r in data.reports),
        "labels": {n: int(c) for n, c in zip(LABELS, per_report.sum(axis=0), strict=True)},
        "image_labels": {n: int(c) for n, c in zip(LABELS, per_image.sum(axis=0), strict=True)},
        "images_verified": len(present) if verify_images else 0,
        "warnings": warnings,
    }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines for a :func:`check_dataset` summary."""
    s = summary
    lines = [
        f"Open-I ({s['format']}) at {s['root']}, images in {s['image_dir']}",
        f"reports: {s['reports']} ({s['reports_without_images']} without images, "
        f"{s['reports_without_labels']} without any of the {len(LABELS)} labels, "
        f"{s['reports_with_empty_mesh']} with empty MeSH)",
        f"images: {s['images']} named, {s['images_present']} present, "
        f"{s['images_missing']} missing",
        "labels (reports / images): "
        + ", ".join(f"{n} {c}/{s['image_labels'][n]}" for n, c in s["labels"].items() if c),
    ]
    if s["images_missing"]:
        lines.append("missing images: " + ", ".join(s["missing_examples"]))
    if s["images_verified"]:
        lines.append(f"images verified: all {s['images_verified']} present images decode")
    else:
        lines.append("images not verified")
    lines.extend(f"warning: {w}" for w in s.get("warnings", []))
    return lines
