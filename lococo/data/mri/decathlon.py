"""Medical Segmentation Decathlon Task01 (BrainTumour): 4-D NIfTI volumes + ``dataset.json``.

Layout::

    <root>/dataset.json
    <root>/imagesTr/BRATS_001.nii.gz     4-D: x × y × z × channel
    <root>/labelsTr/BRATS_001.nii.gz     3-D labels

``dataset.json`` names the channels (``"modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd",
"3": "T2w"}`` in the Decathlon; nnU-Net's ``"channel_names"`` is accepted too), lists the
training cases (``"training": [{"image": ..., "label": ...}]``) and names the labels
(``0`` background, ``1`` edema, ``2`` non-enhancing tumour, ``3`` enhancing tumour). The
channel order and the label values are taken from the file, never assumed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lococo.data.images import inside_root
from lococo.data.mri.types import (
    BACKGROUND,
    EDEMA,
    ENHANCING,
    MODALITIES,
    MODALITY_ALIASES,
    NECROTIC,
    MRICase,
    MRIData,
    canonical_modality,
)
from lococo.errors import DataError

#: The Decathlon's own label values (used when ``dataset.json`` has no ``labels``).
DEFAULT_LABEL_MAP: dict[int, int] = {0: BACKGROUND, 1: EDEMA, 2: NECROTIC, 3: ENHANCING}


def load_decathlon(root: str | Path) -> MRIData:
    """List the training cases of a Decathlon Task01 folder at ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "not a directory")
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise DataError(meta_path, "file not found (the Decathlon's dataset description)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(meta_path, f"not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise DataError(meta_path, "expected a JSON object")
    channels = channel_order(meta, meta_path)
    label_map = label_map_of(meta, meta_path)
    entries = meta.get("training")
    if not isinstance(entries, list) or not entries:
        raise DataError(meta_path, "key 'training': expected a non-empty list of cases")
    cases: list[MRICase] = []
    for i, entry in enumerate(entries):
        image, label = _entry_paths(entry, root, meta_path, i)
        cid = _case_id(image)
        if not image.is_file():
            raise DataError(image, f"case {cid}: image listed in dataset.json not found")
        if label is not None and not label.is_file():
            raise DataError(label, f"case {cid}: label listed in dataset.json not found")
        cases.append(
            MRICase(
                case_id=cid,
                modality_paths={m: image for m in MODALITIES},
                label_path=label,
                label_map=dict(label_map),
                channels=dict(channels),
            )
        )
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise DataError(meta_path, f"key 'training': case {dup} is listed twice")
    return MRIData(
        format="decathlon",
        root=root,
        cases=sorted(cases, key=lambda c: c.case_id),
        extra={"channels": channels, "label_map": label_map, "name": meta.get("name")},
    )


def channel_order(meta: dict[str, Any], meta_path: Path) -> dict[str, int]:
    """Canonical modality → channel index, from ``modality`` or ``channel_names``."""
    key = "modality" if "modality" in meta else "channel_names" if "channel_names" in meta else None
    if key is None:
        raise DataError(meta_path, "no channel names: expected key 'modality' (or 'channel_names')")
    names = meta[key]
    if not isinstance(names, dict) or not names:
        raise DataError(meta_path, f"key '{key}': expected an object {{index: name}}")
    out: dict[str, int] = {}
    for index, name in names.items():
        try:
            channel = int(index)
        except (TypeError, ValueError):
            raise DataError(
                meta_path, f"key '{key}': channel index {index!r} is not an integer"
            ) from None
        canonical = canonical_modality(str(name))
        if canonical is None:
            raise DataError(
                meta_path,
                f"key '{key}': unknown channel name {name!r}; "
                f"expected one of {', '.join(sorted(MODALITY_ALIASES))}",
            )
        if canonical in out:
            raise DataError(meta_path, f"key '{key}': two channels are {canonical}")
        out[canonical] = channel
    missing = [m for m in MODALITIES if m not in out]
    if missing:
        raise DataError(meta_path, f"key '{key}': no channel for {', '.join(missing)}")
    return out


def label_map_of(meta: dict[str, Any], meta_path: Path) -> dict[int, int]:
    """File label value → unified label, from the names in ``labels`` (Decathlon default)."""
    labels = meta.get("labels")
    if labels is None:
        return dict(DEFAULT_LABEL_MAP)
    if not isinstance(labels, dict):
        raise DataError(meta_path, "key 'labels': expected an object")
    out: dict[int, int] = {}
    for index, name in labels.items():
        try:
            value = int(index)
        except (TypeError, ValueError):
            # nnU-Net v2 writes {name: value}; accept it.
            try:
                value, name = int(name), index
            except (TypeError, ValueError):
                raise DataError(meta_path, f"key 'labels': bad entry {index!r}: {name!r}") from None
        out[value] = _label_class(str(name), meta_path)
    if ENHANCING not in out.values():
        raise DataError(meta_path, "key 'labels': no enhancing-tumour label")
    return out


def _label_class(name: str, meta_path: Path) -> int:
    n = name.strip().lower().replace("_", " ").replace("-", " ")
    if n in ("background", "healthy", "0"):
        return BACKGROUND
    if "edema" in n or "oedema" in n:
        return EDEMA
    if "non enhancing" in n or "necro" in n or "core" in n:
        return NECROTIC
    if "enhancing" in n:
        return ENHANCING
    raise DataError(meta_path, f"key 'labels': cannot tell which tissue {name!r} is")


def _entry_paths(entry: Any, root: Path, meta_path: Path, i: int) -> tuple[Path, Path | None]:
    if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
        raise DataError(
            meta_path, f"key 'training'[{i}]: expected {{'image': path, 'label': path}}"
        )
    at = f"key 'training'[{i}]"
    image = inside_root(root, entry["image"], meta_path, where=f"{at}.image").resolve()
    label = entry.get("label")
    if not isinstance(label, str):
        return image, None
    return image, inside_root(root, label, meta_path, where=f"{at}.label").resolve()


def _case_id(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", ".nii"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return path.stem
