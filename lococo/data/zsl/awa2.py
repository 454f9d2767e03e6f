"""Animals with Attributes 2 reader with the xlsa17 ``AWA2`` splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lococo.data.zsl.cub import read_id_names, read_numeric
from lococo.data.zsl.types import ZSLData
from lococo.data.zsl.xlsa17 import (
    Xlsa17Splits,
    att_norm_warnings,
    check_attribute_agreement,
    check_splits,
    find_splits_dir,
    load_xlsa17,
    map_image_files,
)
from lococo.errors import DataError

AWA2_DIR = "Animals_with_Attributes2"
IMAGE_DIR = "JPEGImages"


def find_awa2_dir(root: str | Path) -> Path:
    """``<root>/Animals_with_Attributes2`` when it holds ``classes.txt``, else ``root``."""
    root = Path(root)
    for cand in (root / AWA2_DIR, root):
        if (cand / "classes.txt").is_file():
            return cand
    raise DataError(root / "classes.txt", f"missing file (not an {AWA2_DIR} folder)")


def read_ordered_names(path: Path) -> list[str]:
    """``<id> <name>`` lines whose ids must be exactly 1..n; names in id order."""
    ids, names = read_id_names(path)
    if not np.array_equal(np.sort(ids), np.arange(1, len(ids) + 1)):
        raise DataError(path, f"ids must be 1..{len(ids)} without gaps")
    return [names[i] for i in np.argsort(ids)]


def load_awa2(root: str | Path, splits_dir: str | Path | None = None) -> ZSLData:
    """Load AwA2 images (``JPEGImages/<class>/``) with the xlsa17 splits and attributes.

    Image order and labels follow ``res101.mat``; each image's class folder must match its
    label, and ``predicate-matrix-continuous.txt`` must agree with xlsa17's ``original_att``.
    """
    awa = find_awa2_dir(root)
    classes = read_ordered_names(awa / "classes.txt")
    predicates = read_ordered_names(awa / "predicates.txt")
    matrix_path = awa / "predicate-matrix-continuous.txt"
    matrix = read_numeric(matrix_path, len(predicates))
    if matrix.shape[0] != len(classes):
        raise DataError(matrix_path, f"{matrix.shape[0]} lines but {len(classes)} classes")

    directory = splits_dir if splits_dir is not None else find_splits_dir([root, awa], "AWA2")
    splits = load_xlsa17(directory)
    files, labels = _require_res101(splits)
    row_of = {name: i for i, name in enumerate(classes)}
    unknown = [n for n in splits.class_names if n not in row_of]
    if unknown or len(splits.class_names) != len(classes):
        odd = repr(unknown[0]) if unknown else "(class count differs)"
        raise DataError(splits.att_path, f"allclasses_names differ from classes.txt: {odd}")
    own = matrix[[row_of[n] for n in splits.class_names]]
    check_attribute_agreement(splits, own, matrix_path, "predicate matrix")

    paths = map_image_files(files, IMAGE_DIR, awa / IMAGE_DIR, splits.res101_path)
    for path, name, label in zip(paths, files, labels, strict=True):
        if path.parent.name != splits.class_names[label]:
            raise DataError(
                splits.res101_path,
                f"image {name!r} is labelled {splits.class_names[label]!r} "
                f"but lies in folder {path.parent.name!r}",
            )
    check_splits(splits, labels, splits.class_names)
    return splits.to_zsl(
        "AWA2",
        awa,
        paths,
        labels,
        predicates,
        extra={
            "format": "awa2",
            "splits_dir": str(splits.directory),
            "warnings": att_norm_warnings(splits),
        },
    )


def _require_res101(splits: Xlsa17Splits) -> tuple[list[str], np.ndarray]:
    if splits.image_files is None or splits.labels is None:
        raise DataError(splits.res101_path, "missing file (needed to map split indices to images)")
    return splits.image_files, splits.labels
