"""Validate and summarise an MRI dataset (``lococo data check --format brats2015|brats|decathlon``).

Listing the cases checks names and presence of every modality; with ``verify_images`` every
volume is also read in full (a corrupt or truncated file fails), shapes and geometry of the
four modalities and the label are compared and label values checked against the format's
convention. The first problem raises one ``DataError`` naming the case and file.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from lococo.data.mri import load_mri
from lococo.data.mri.types import LABEL_NAMES, MODALITIES, MRIData
from lococo.data.mri.volumes import read_case, read_header


def check_dataset(
    root: str | Path, fmt: str, *, verify_images: bool = True, progress: bool = True
) -> dict[str, Any]:
    """Load ``root`` as ``fmt``, validate every case and return a JSON-friendly summary."""
    data = load_mri(root, fmt)
    shapes: Counter[tuple[int, ...]] = Counter()
    spacings: list[tuple[float, float, float]] = []
    label_voxels = np.zeros(len(LABEL_NAMES), dtype=np.int64)
    cases_with_enhancing = 0
    verified = 0
    bar = _bar(len(data.cases), progress and verify_images)
    for case in data.cases:
        if verify_images:
            vol = read_case(case)
            shape, spacing = vol.shape, vol.spacing
            if vol.has_label:
                label_voxels += np.bincount(vol.label.ravel(), minlength=len(LABEL_NAMES))
                cases_with_enhancing += bool(vol.target.any())
            verified += 1
        else:
            shape, spacing = read_header(case)
        shapes[shape] += 1
        spacings.append(spacing)
        bar.update(1)
    bar.close()
    return summarize(
        data,
        shapes=shapes,
        spacings=spacings,
        label_voxels=label_voxels if verified else None,
        cases_with_enhancing=cases_with_enhancing if verified else None,
        verified=verified,
    )


def summarize(
    data: MRIData,
    *,
    shapes: Counter[tuple[int, ...]],
    spacings: list[tuple[float, float, float]],
    label_voxels: np.ndarray | None,
    cases_with_enhancing: int | None,
    verified: int,
) -> dict[str, Any]:
    """JSON-friendly description of a checked dataset.

    ``shape`` is the ``D×H×W`` shape shared by all cases (or ``None`` with ``shapes`` listing
    each distinct one); ``spacing`` likewise in mm along ``D, H, W``.
    """
    sp = np.asarray(spacings, dtype=np.float64).reshape(-1, 3)
    same_spacing = bool(len(sp) and np.allclose(sp, sp[0], atol=1e-3))
    groups = Counter(str(c.group) for c in data.cases if c.group is not None)
    out: dict[str, Any] = {
        "format": data.format,
        "root": str(data.root),
        "cases": len(data.cases),
        "cases_with_labels": sum(c.label_path is not None for c in data.cases),
        "groups": dict(sorted(groups.items())),
        "modalities": list(MODALITIES),
        "shape": list(next(iter(shapes))) if len(shapes) == 1 else None,
        "shapes": {"x".join(map(str, s)): n for s, n in sorted(shapes.items())},
        "spacing": [round(float(v), 4) for v in sp[0]] if same_spacing else None,
        "spacing_min": [round(float(v), 4) for v in sp.min(axis=0)] if len(sp) else None,
        "spacing_max": [round(float(v), 4) for v in sp.max(axis=0)] if len(sp) else None,
        "volumes_verified": verified,
    }
    if label_voxels is not None:
        out["label_voxels"] = {LABEL_NAMES[i]: int(n) for i, n in enumerate(label_voxels.tolist())}
        out["cases_with_enhancing"] = cases_with_enhancing
    return out


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines for a :func:`check_dataset` summary."""
    s = summary
    groups = ", ".join(f"{k} {v}" for k, v in s.get("groups", {}).items())
    lines = [
        f"{s['format']} dataset at {s['root']}",
        f"cases: {s['cases']} ({s['cases_with_labels']} with labels)"
        + (f"; {groups}" if groups else ""),
        f"modalities: {', '.join(s['modalities'])}",
    ]
    if s.get("shape") is not None:
        lines.append(f"shape (D×H×W): {'×'.join(map(str, s['shape']))}")
    else:
        lines.append("shapes (D×H×W): " + ", ".join(f"{k} ({n})" for k, n in s["shapes"].items()))
    if s.get("spacing") is not None:
        lines.append(f"spacing (mm, D×H×W): {_mm(s['spacing'])}")
    elif s.get("spacing_min") is not None:
        lines.append(f"spacing (mm, D×H×W): {_mm(s['spacing_min'])} to {_mm(s['spacing_max'])}")
    if "label_voxels" in s:
        counts = ", ".join(f"{k} {v}" for k, v in s["label_voxels"].items())
        lines.append(f"label voxels: {counts}")
        lines.append(
            f"cases with enhancing tumour: {s['cases_with_enhancing']} of {s['cases_with_labels']}"
        )
    if s.get("volumes_verified"):
        lines.append(f"volumes verified: all {s['volumes_verified']} cases read in full")
    else:
        lines.append("volumes not verified (headers only)")
    return lines


def _mm(values: list[float]) -> str:
    return "×".join(f"{v:.3g}" for v in values)


def _bar(total: int, enabled: bool) -> Any:
    if enabled and total > 1:
        from tqdm import tqdm

        return tqdm(total=total, desc="check mri", unit="case", file=sys.stderr)
    return _NoBar()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
