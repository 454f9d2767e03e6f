"""Visual Genome in the sg2im preprocessed form (thesis 6.4.1, table B.1).

Layout under ``root``::

    train.h5, val.h5, test.h5   sg2im's preprocess_vg output, one row per image
    vocab.json                  object_idx_to_name (index 0 is "__image__"), pred_idx_to_name, ...
    images/                     the VG image folder; ``image_paths`` are relative to it
                                (e.g. ``VG_100K/2345.jpg``)

Each h5 file must hold ``image_ids`` (N), ``image_paths`` (N strings), ``objects_per_image``
(N), ``object_names`` (N×O vocabulary indices, -1 padding) and ``object_boxes`` (N×O×4 pixel
``x, y, w, h`` on the original image, -1 padding); relationship and attribute arrays may be
present and are not used (the SGSM builds spatial relations from the boxes). Images keep 3–30
objects; the 178 classes are ``object_idx_to_name`` without ``__image__`` (contiguous index =
vocabulary index − 1). The h5 files hold no image sizes, so each image's header is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lococo.data.layout.types import SPLITS, LayoutData, Scene
from lococo.errors import DataError

MIN_OBJECTS = 3
MAX_OBJECTS = 30
IMAGE_TOKEN = "__image__"
REQUIRED: tuple[str, ...] = (
    "image_ids",
    "image_paths",
    "objects_per_image",
    "object_names",
    "object_boxes",
)
OUTSIDE_TOLERANCE = 1.0


def load_vg(
    root: str | Path,
    *,
    image_dir: str | Path | None = None,
    min_objects: int = MIN_OBJECTS,
    max_objects: int = MAX_OBJECTS,
    progress: bool = False,
) -> LayoutData:
    """Read and validate sg2im-preprocessed Visual Genome at ``root``."""
    root = Path(root)
    images_root = Path(image_dir) if image_dir is not None else root / "images"
    vocab_path = root / "vocab.json"
    h5_paths = {split: root / f"{split}.h5" for split in SPLITS}
    for path in (vocab_path, *h5_paths.values()):
        if not path.is_file():
            raise DataError(path, "missing file")
    names = _vocab(vocab_path)
    splits: dict[str, list[Scene]] = {}
    stats: dict[str, dict[str, int]] = {}
    for split, path in h5_paths.items():
        arrays = _read_h5(path)
        splits[split], stats[split] = _scenes(
            path, arrays, len(names), images_root, min_objects, max_objects, progress
        )
        if not splits[split]:
            raise DataError(
                path, f"empty layout: no image keeps {min_objects}-{max_objects} objects"
            )
    return LayoutData(
        format="vg",
        root=root,
        class_names=names[1:],
        category_ids=list(range(1, len(names))),
        splits=splits,
        max_objects=max_objects,
        min_objects=min_objects,
        extra={"source_stats": stats, "image_dir": str(images_root)},
    )


def _vocab(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            vocab = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
    names = vocab.get("object_idx_to_name") if isinstance(vocab, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(path, "missing or malformed 'object_idx_to_name' (a list of names)")
    if len(names) < 2 or names[0] != IMAGE_TOKEN:
        raise DataError(path, f"'object_idx_to_name' must start with {IMAGE_TOKEN!r}")
    return names


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in REQUIRED if k not in f]
            if missing:
                raise DataError(path, f"missing dataset {missing[0]!r}")
            out = {k: np.asarray(f[k]) for k in REQUIRED if k != "image_paths"}
            out["image_paths"] = np.asarray(
                [p.decode() if isinstance(p, bytes) else str(p) for p in f["image_paths"][()]]
            )
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
        # h5py reports a damaged file as any of these, depending on where the damage is
        raise DataError(path, f"cannot read HDF5 file ({exc})") from None
    if out["image_ids"].ndim != 1:
        raise DataError(
            path, f"dataset 'image_ids' has shape {out['image_ids'].shape}, expected (N,)"
        )
    n = len(out["image_ids"])
    shapes = {
        "image_paths": (n,),
        "objects_per_image": (n,),
        "object_names": (n, None),
        "object_boxes": (n, None, 4),
    }
    for key, shape in shapes.items():
        got = out[key].shape
        if len(got) != len(shape) or any(
            s is not None and s != g for s, g in zip(shape, got, strict=True)
        ):
            raise DataError(path, f"dataset {key!r} has shape {got}, expected {shape}")
    if out["object_names"].shape[1] != out["object_boxes"].shape[1]:
        raise DataError(path, "object_names and object_boxes disagree on objects per row")
    return out


def _scenes(
    path: Path,
    arrays: dict[str, Any],
    vocab_size: int,
    images_root: Path,
    min_objects: int,
    max_objects: int,
    progress: bool,
) -> tuple[list[Scene], dict[str, int]]:
    from lococo.data.images import inside_root, threaded_map

    counts = arrays["objects_per_image"].astype(np.int64)
    width = arrays["object_names"].shape[1]
    if (counts < 0).any() or (counts > width).any():
        bad = int(np.flatnonzero((counts < 0) | (counts > width))[0])
        raise DataError(path, f"objects_per_image[{bad}] = {counts[bad]} is not in 0..{width}")
    keep = np.flatnonzero((counts >= min_objects) & (counts <= max_objects))
    paths = [
        inside_root(images_root, str(arrays["image_paths"][i]), path, where=f"image_paths[{i}]")
        for i in keep
    ]
    sizes = list(threaded_map(_image_size, paths, progress, "image sizes"))
    scenes = []
    for i, image_path, (w, h) in zip(keep, paths, sizes, strict=True):
        k = int(counts[i])
        names = arrays["object_names"][i, :k].astype(np.int64)
        bad = (names < 1) | (names >= vocab_size)
        if bad.any():
            raise DataError(
                path, f"object_names[{i}] refers to unknown class index {names[bad][0]}"
            )
        xywh = arrays["object_boxes"][i, :k].astype(np.float64)
        if (xywh[:, 2:] <= 0).any():
            raise DataError(path, f"object_boxes[{i}] has a box with non-positive size")
        x0, y0 = xywh[:, 0], xywh[:, 1]
        x1, y1 = x0 + xywh[:, 2], y0 + xywh[:, 3]
        tol = OUTSIDE_TOLERANCE
        if (x0 < -tol).any() or (y0 < -tol).any() or (x1 > w + tol).any() or (y1 > h + tol).any():
            raise DataError(path, f"object_boxes[{i}] has a box outside its {w}x{h} image")
        boxes = np.stack([x0 / w, y0 / h, x1 / w, y1 / h], axis=1).astype(np.float32)
        scenes.append(
            Scene(
                image_id=int(arrays["image_ids"][i]),
                image_path=image_path,
                width=w,
                height=h,
                boxes=np.clip(boxes, 0.0, 1.0),
                labels=names - 1,
                masks=None,
            )
        )
    stats = {
        "rows": len(counts),
        "images_too_few_objects": int((counts < min_objects).sum()),
        "images_too_many_objects": int((counts > max_objects).sum()),
        "images_kept": len(scenes),
    }
    return scenes, stats


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise DataError(path, "missing image file") from None
    except Exception as exc:
        raise DataError(path, f"cannot read image header ({exc})") from exc
