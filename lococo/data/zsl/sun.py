"""SUN attribute database reader with the xlsa17 ``SUN`` splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lococo.data.zsl.types import ZSLData
from lococo.data.zsl.xlsa17 import (
    Xlsa17Splits,
    att_norm_warnings,
    check_attribute_agreement,
    check_splits,
    find_splits_dir,
    load_mat,
    load_xlsa17,
    map_image_files,
    mat_get,
    mat_matrix,
    mat_strings,
)
from lococo.errors import DataError

SUN_DB = "SUNAttributeDB"
IMAGE_DIR = "images"


def find_sun_dir(root: str | Path) -> Path:
    """The folder holding ``SUNAttributeDB/`` and ``images/``: ``root`` or ``root/SUN``."""
    root = Path(root)
    for cand in (root, root / "SUN"):
        if (cand / SUN_DB).is_dir():
            return cand
    raise DataError(root / SUN_DB, "missing folder (not a SUN attributes folder)")


def read_sun_db(sun: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Relative image paths, attribute names and the ``N×A`` continuous image attributes."""
    db = sun / SUN_DB
    path = db / "images.mat"
    rels = mat_strings(mat_get(load_mat(path, ["images"]), "images", path), path, "images")
    path = db / "attributes.mat"
    names = mat_strings(
        mat_get(load_mat(path, ["attributes"]), "attributes", path), path, "attributes"
    )
    path = db / "attributeLabels_continuous.mat"
    values = mat_matrix(load_mat(path, ["labels_cv"]), "labels_cv", path)
    if values.shape != (len(rels), len(names)):
        raise DataError(
            path,
            f"'labels_cv' has shape {values.shape}; expected {len(rels)}×{len(names)} "
            "(images.mat × attributes.mat)",
        )
    return rels, names, values


def load_sun(root: str | Path, splits_dir: str | Path | None = None) -> ZSLData:
    """Load SUN attributes (images under ``<root>/images/``) with the xlsa17 splits.

    Image order and labels follow ``res101.mat``; ``image_attributes`` are the
    ``labels_cv`` rows of those images, whose per-class means must agree with
    xlsa17's ``original_att``.
    """
    sun = find_sun_dir(root)
    rels, attr_names, values = read_sun_db(sun)
    directory = splits_dir if splits_dir is not None else find_splits_dir([root, sun], "SUN")
    splits = load_xlsa17(directory)
    if splits.image_files is None or splits.labels is None:
        raise DataError(splits.res101_path, "missing file (needed to map split indices to images)")
    if splits.att.shape[1] != len(attr_names):
        raise DataError(
            splits.att_path,
            f"'att' has {splits.att.shape[1]} attributes but attributes.mat has {len(attr_names)}",
        )
    image_root = sun / IMAGE_DIR
    paths = map_image_files(splits.image_files, IMAGE_DIR, image_root, splits.res101_path)
    order = _rows_in_db(paths, splits.image_files, rels, image_root, sun / SUN_DB / "images.mat")
    image_attrs = values[order]
    _check_class_means(splits, image_attrs, sun / SUN_DB / "attributeLabels_continuous.mat")
    check_splits(splits, splits.labels, splits.class_names)
    return splits.to_zsl(
        "SUN",
        sun,
        paths,
        splits.labels,
        attr_names,
        image_attributes=image_attrs.astype(np.float32),
        extra={
            "format": "sun",
            "splits_dir": str(splits.directory),
            "warnings": att_norm_warnings(splits),
        },
    )


def _rows_in_db(
    paths: list[Path], names: list[str], rels: list[str], image_root: Path, source: Path
) -> np.ndarray:
    row_of = {rel.replace("\\", "/").strip("/"): i for i, rel in enumerate(rels)}
    order = np.empty(len(paths), dtype=np.int64)
    for i, (path, name) in enumerate(zip(paths, names, strict=True)):
        row = row_of.get(path.relative_to(image_root).as_posix())
        if row is None:
            raise DataError(source, f"image {name!r} (from res101.mat) is not listed")
        order[i] = row
    return order


def _check_class_means(splits: Xlsa17Splits, image_attrs: np.ndarray, source: Path) -> None:
    """Per-class means of the image attributes against ``original_att`` (classes with images)."""
    labels = splits.labels
    assert labels is not None
    num_classes = len(splits.class_names)
    counts = np.bincount(labels, minlength=num_classes)
    sums = np.zeros((num_classes, image_attrs.shape[1]))
    np.add.at(sums, labels, image_attrs)
    own = splits.original_att.copy()
    has = counts > 0
    own[has] = sums[has] / counts[has, None]
    check_attribute_agreement(splits, own, source, "class means of image attributes")
