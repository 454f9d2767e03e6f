"""CUB-200-2011 reader (images, labels, boxes, parts, attributes) with the xlsa17 splits.

Also holds the whitespace-separated text-table parsers shared with the AwA2 reader.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lococo.data.images import inside_root
from lococo.data.zsl.types import PartAnnotations, ZSLData
from lococo.data.zsl.xlsa17 import (
    Xlsa17Splits,
    att_norm_warnings,
    check_attribute_agreement,
    check_index_range,
    check_splits,
    find_splits_dir,
    load_xlsa17,
    map_image_files,
)
from lococo.errors import DataError

CUB_DIR = "CUB_200_2011"

# ---------------------------------------------------------------- text tables


def read_text_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines of a text file as (1-based line number, stripped text)."""
    if not path.is_file():
        raise DataError(path, "missing file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc})") from exc
    return [(i, s) for i, line in enumerate(text.splitlines(), 1) if (s := line.strip())]


def read_id_names(path: Path) -> tuple[np.ndarray, list[str]]:
    """``<id> <name possibly with spaces>`` lines: (ids, names); ids positive and unique."""
    ids: list[int] = []
    names: list[str] = []
    seen: set[int] = set()
    for lineno, text in read_text_lines(path):
        fields = text.split(maxsplit=1)
        if len(fields) != 2:
            raise DataError(path, f"expected '<id> <name>', got {text!r}", line=lineno)
        if not (fields[0].isascii() and fields[0].isdigit()) or int(fields[0]) < 1:
            raise DataError(path, f"id {fields[0]!r} is not a positive integer", line=lineno)
        ident = int(fields[0])
        if ident in seen:
            raise DataError(path, f"duplicate id {ident}", line=lineno)
        seen.add(ident)
        ids.append(ident)
        names.append(fields[1].strip())
    if not ids:
        raise DataError(path, "file is empty")
    return np.asarray(ids, dtype=np.int64), names


def read_numeric(
    path: Path, ncols: int, int_cols: Sequence[int] = (), allow_extra: bool = False
) -> np.ndarray:
    """A table of ``ncols`` finite numbers per line (``n×ncols`` float64).

    With ``allow_extra`` longer lines are accepted and their extra fields ignored. Columns in
    ``int_cols`` must hold whole numbers. Errors name the first offending line.
    """
    if not path.is_file():
        raise DataError(path, "missing file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data"
            table = np.loadtxt(
                path,
                dtype=np.float64,
                ndmin=2,
                comments=None,
                usecols=range(ncols) if allow_extra else None,
            )
    except (ValueError, IndexError):
        table = None
    if table is None or table.shape[1] != ncols or not _table_ok(table, int_cols):
        table = _read_numeric_slow(path, ncols, int_cols, allow_extra)
    if table.shape[0] == 0:
        raise DataError(path, "file is empty")
    return table


def _table_ok(table: np.ndarray, int_cols: Sequence[int]) -> bool:
    if not np.isfinite(table).all():
        return False
    cols = table[:, list(int_cols)]
    return bool((cols == np.round(cols)).all())


def _read_numeric_slow(
    path: Path, ncols: int, int_cols: Sequence[int], allow_extra: bool
) -> np.ndarray:
    rows: list[list[float]] = []
    for lineno, text in read_text_lines(path):
        fields = text.split()
        if len(fields) < ncols or (len(fields) > ncols and not allow_extra):
            want = f"at least {ncols}" if allow_extra else str(ncols)
            raise DataError(path, f"expected {want} fields, got {len(fields)}", line=lineno)
        try:
            values = [float(f) for f in fields[:ncols]]
        except ValueError:
            raise DataError(path, f"non-numeric field in {text!r}", line=lineno) from None
        if not all(np.isfinite(values)):
            raise DataError(path, "NaN or Inf value", line=lineno)
        if any(values[c] != round(values[c]) for c in int_cols):
            raise DataError(path, f"expected whole numbers in {text!r}", line=lineno)
        rows.append(values)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), ncols)


def line_of(path: Path, row: int) -> int:
    """1-based line number of the ``row``-th (0-based) non-blank line of ``path``."""
    return read_text_lines(path)[row][0]


def lookup_ids(values: np.ndarray, known: np.ndarray, path: Path, what: str) -> np.ndarray:
    """Positions of ``values`` (ids read from ``path``) in ``known``; unknown ids are errors."""
    sorter = np.argsort(known)
    ordered = known[sorter]
    at = np.clip(np.searchsorted(ordered, values), 0, len(ordered) - 1)
    pos = np.where(ordered[at] == values, sorter[at], -1)
    bad = np.flatnonzero(pos < 0)
    if bad.size:
        row = int(bad[0])
        raise DataError(path, f"unknown {what} id {values[row]:g}", line=line_of(path, row))
    return pos


def check_once(keys: np.ndarray, size: int, path: Path, what: str) -> None:
    """Each of ``size`` keys (flat 0-based) must occur exactly once in ``keys``."""
    counts = np.bincount(keys, minlength=size)
    dup = np.flatnonzero(counts[keys] > 1)
    if dup.size:
        second = int(np.flatnonzero(keys == keys[dup[0]])[1])
        raise DataError(path, f"duplicate entry for {what}", line=line_of(path, second))
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        raise DataError(path, f"{missing.size} {what}(s) have no entry (first: #{missing[0] + 1})")


# ---------------------------------------------------------------- CUB


def find_cub_dir(root: str | Path) -> Path:
    """``<root>/CUB_200_2011`` when it holds ``images.txt``, else ``root`` itself."""
    root = Path(root)
    inner = root / CUB_DIR
    if (inner / "images.txt").is_file():
        return inner
    if (root / "images.txt").is_file():
        return root
    raise DataError(root / "images.txt", f"missing file (not a {CUB_DIR} folder)")


def find_attribute_names(cub: Path) -> Path | None:
    """``attributes.txt``: next to the CUB folder (as in the tarball), in it, or in attributes/."""
    for cand in (
        cub.parent / "attributes.txt",
        cub / "attributes.txt",
        cub / "attributes" / "attributes.txt",
    ):
        if cand.is_file():
            return cand
    return None


def load_cub(
    root: str | Path, splits_dir: str | Path | None = None, with_parts: bool = True
) -> ZSLData:
    """Load CUB-200-2011 with the xlsa17 ``CUB`` splits.

    Image order and labels follow ``res101.mat`` (cross-checked against
    ``image_class_labels.txt``); without ``res101.mat`` the split indices address
    ``images.txt`` order. Boxes, parts and image sizes are in original pixels.
    """
    cub = find_cub_dir(root)
    ids, rels = read_id_names(cub / "images.txt")
    class_ids, cub_classes = read_id_names(cub / "classes.txt")
    label_rows = per_image_table(cub / "image_class_labels.txt", ids, 2)
    own_labels = lookup_ids(label_rows[:, 1], class_ids, cub / "image_class_labels.txt", "class")
    split_rows = per_image_table(cub / "train_test_split.txt", ids, 2)
    _check_binary(split_rows[:, 1], cub / "train_test_split.txt", "is_training_image")
    boxes = _read_boxes(cub / "bounding_boxes.txt", ids)

    splits = load_xlsa17(
        splits_dir if splits_dir is not None else find_splits_dir([root, cub], "CUB")
    )
    order, labels, paths = _align_images(splits, cub, rels, cub_classes, own_labels)
    check_splits(splits, labels, splits.class_names)
    num_attrs = splits.att.shape[1]
    notes = att_norm_warnings(splits)
    _check_class_attributes(cub, splits, cub_classes)
    attr_names = _attribute_names(cub, num_attrs, notes)
    image_attrs, certainty = _image_attributes(cub, ids, num_attrs)

    extra: dict[str, object] = {
        "format": "cub",
        "splits_dir": str(splits.directory),
        "cub_image_ids": ids[order],
        "is_training_image": split_rows[order, 1].astype(bool),
        "warnings": notes,
    }
    if certainty is not None:
        extra["attribute_certainty"] = certainty[order]
    return splits.to_zsl(
        "CUB",
        cub,
        paths,
        labels,
        attr_names,
        image_attributes=None if image_attrs is None else image_attrs[order],
        boxes=boxes[order],
        image_sizes=image_sizes(paths),
        parts=_read_parts(cub, ids, order) if with_parts else None,
        extra=extra,
    )


def per_image_table(
    path: Path, ids: np.ndarray, ncols: int, int_cols: Sequence[int] = (0, 1)
) -> np.ndarray:
    """``<image_id> ...`` rows, one per image, reordered to ``ids`` order."""
    table = read_numeric(path, ncols, int_cols=int_cols)
    rows = lookup_ids(table[:, 0], ids, path, "image")
    check_once(rows, len(ids), path, "image")
    out = np.empty_like(table)
    out[rows] = table
    return out


def _check_binary(values: np.ndarray, path: Path, what: str) -> None:
    bad = np.flatnonzero((values != 0) & (values != 1))
    if bad.size:
        raise DataError(
            path, f"{what} must be 0 or 1, got {values[bad[0]]:g}", line=line_of(path, int(bad[0]))
        )


def _read_boxes(path: Path, ids: np.ndarray) -> np.ndarray:
    table = read_numeric(path, 5, int_cols=(0,))
    bad = np.flatnonzero((table[:, 3] <= 0) | (table[:, 4] <= 0))
    if bad.size:
        raise DataError(
            path, "box width and height must be positive", line=line_of(path, int(bad[0]))
        )
    rows = lookup_ids(table[:, 0], ids, path, "image")
    check_once(rows, len(ids), path, "image")
    boxes = np.empty((len(ids), 4), dtype=np.float64)
    boxes[rows] = table[:, 1:5]
    return boxes


def _align_images(
    splits: Xlsa17Splits,
    cub: Path,
    rels: list[str],
    cub_classes: list[str],
    own_labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """CUB rows in ZSL order, ZSL labels (xlsa17 class order) and local image paths."""
    image_root = cub / "images"
    if splits.image_files is None or splits.labels is None:
        index = {name: i for i, name in enumerate(splits.class_names)}
        missing = [n for n in cub_classes if n not in index]
        if missing or len(cub_classes) != len(index):
            odd = missing[0] if missing else "(count differs)"
            raise DataError(
                cub / "classes.txt",
                f"classes differ from allclasses_names of {splits.att_path}: {odd}",
            )
        to_xlsa = np.asarray([index[n] for n in cub_classes], dtype=np.int64)
        check_index_range(splits, len(rels))
        _check_folders(cub / "images.txt", rels, cub_classes, own_labels)
        paths = _image_paths(image_root, rels, cub / "images.txt")
        return np.arange(len(rels)), to_xlsa[own_labels], paths
    source = splits.res101_path
    paths = map_image_files(splits.image_files, "images", image_root, source)
    row_of = {rel.replace("\\", "/").strip("/"): i for i, rel in enumerate(rels)}
    order = np.empty(len(paths), dtype=np.int64)
    for i, (local, name) in enumerate(zip(paths, splits.image_files, strict=True)):
        row = row_of.get(local.relative_to(image_root).as_posix())
        if row is None:
            raise DataError(source, f"image {name!r} is not listed in {cub / 'images.txt'}")
        want = splits.class_names[splits.labels[i]]
        if cub_classes[own_labels[row]] != want:
            raise DataError(
                source,
                f"image {name!r} has label {want!r} but image_class_labels.txt says "
                f"{cub_classes[own_labels[row]]!r}",
            )
        order[i] = row
    return order, splits.labels, paths


def _image_paths(image_root: Path, rels: list[str], listing: Path) -> list[Path]:
    """The files named in ``images.txt``; a name leading outside the image folder is refused."""
    paths = []
    for row, rel in enumerate(rels):
        try:
            paths.append(inside_root(image_root, rel, listing))
        except DataError as err:
            raise DataError(listing, err.problem, line_of(listing, row)) from None
    return paths


def _check_folders(
    path: Path, rels: list[str], cub_classes: list[str], own_labels: np.ndarray
) -> None:
    """An image stored in a class's folder must carry that class's label (a moved or swapped
    line would otherwise put an image in the wrong split)."""
    known = set(cub_classes)
    for row, rel in enumerate(rels):
        folder = rel.replace("\\", "/").split("/", 1)[0]
        label = cub_classes[own_labels[row]]
        if folder in known and folder != label:
            raise DataError(
                path,
                f"image {rel!r} is in the folder of class {folder!r} but "
                f"image_class_labels.txt gives class {label!r}",
                line=line_of(path, row),
            )


def _check_class_attributes(cub: Path, splits: Xlsa17Splits, cub_classes: list[str]) -> None:
    """``class_attribute_labels_continuous.txt`` (if present) must agree with original_att."""
    path = cub / "attributes" / "class_attribute_labels_continuous.txt"
    if not path.is_file():
        return
    table = read_numeric(path, splits.att.shape[1])
    if table.shape[0] != len(cub_classes):
        raise DataError(
            path, f"{table.shape[0]} lines but classes.txt has {len(cub_classes)} classes"
        )
    row_of = {name: i for i, name in enumerate(cub_classes)}
    if any(name not in row_of for name in splits.class_names):
        return  # class names already cross-checked where the labels are aligned
    own = table[[row_of[name] for name in splits.class_names]]
    check_attribute_agreement(splits, own, path, "class attributes")


def _attribute_names(cub: Path, num_attrs: int, notes: list[str]) -> list[str]:
    path = find_attribute_names(cub)
    if path is None:
        notes.append(f"attributes.txt not found near {cub}; attribute names are generic")
        return [f"attribute_{i + 1}" for i in range(num_attrs)]
    ids, names = read_id_names(path)
    if len(names) != num_attrs or not np.array_equal(np.sort(ids), np.arange(1, num_attrs + 1)):
        raise DataError(path, f"expected attribute ids 1..{num_attrs}, found {len(names)} names")
    return [names[i] for i in np.argsort(ids)]


def _image_attributes(
    cub: Path, ids: np.ndarray, num_attrs: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-image ``is_present`` (float32) and ``certainty_id`` (uint8), ``N×A``, or ``None``."""
    path = cub / "attributes" / "image_attribute_labels.txt"
    if not path.is_file():
        return None, None
    table = read_numeric(path, 5, int_cols=(0, 1, 2, 3), allow_extra=True)
    rows = lookup_ids(table[:, 0], ids, path, "image")
    attrs = lookup_ids(table[:, 1], np.arange(1, num_attrs + 1), path, "attribute")
    check_once(rows * num_attrs + attrs, len(ids) * num_attrs, path, "(image, attribute) pair")
    _check_binary(table[:, 2], path, "is_present")
    present = np.zeros((len(ids), num_attrs), dtype=np.float32)
    certainty = np.zeros((len(ids), num_attrs), dtype=np.uint8)
    present[rows, attrs] = table[:, 2]
    certainty[rows, attrs] = np.clip(table[:, 3], 0, 255)
    return present, certainty


def _read_parts(cub: Path, ids: np.ndarray, order: np.ndarray) -> PartAnnotations:
    parts_dir = cub / "parts"
    part_ids, names = read_id_names(parts_dir / "parts.txt")
    num_parts = len(part_ids)
    path = parts_dir / "part_locs.txt"
    table = read_numeric(path, 5, int_cols=(0, 1, 4))
    rows = lookup_ids(table[:, 0], ids, path, "image")
    parts = lookup_ids(table[:, 1], part_ids, path, "part")
    check_once(rows * num_parts + parts, len(ids) * num_parts, path, "(image, part) pair")
    _check_binary(table[:, 4], path, "visible")
    locs = np.zeros((len(ids), num_parts, 3), dtype=np.float64)
    locs[rows, parts] = table[:, 2:5]

    path = parts_dir / "part_click_locs.txt"
    clicks = read_numeric(path, 6, int_cols=(0, 1, 4))
    rows = lookup_ids(clicks[:, 0], ids, path, "image")
    parts = lookup_ids(clicks[:, 1], part_ids, path, "part")
    _check_binary(clicks[:, 4], path, "visible")
    zsl_index = np.full(len(ids), -1, dtype=np.int64)
    zsl_index[order] = np.arange(len(order))
    keep = zsl_index[rows] >= 0
    out = np.column_stack([zsl_index[rows], parts, clicks[:, 2:5]])[keep]
    return PartAnnotations(names=names, locs=locs[order], clicks=out.astype(np.float64))


def image_sizes(paths: Sequence[Path]) -> np.ndarray:
    """``N×2`` (width, height) from image headers; unreadable images are errors."""
    from PIL import Image

    sizes = np.zeros((len(paths), 2), dtype=np.int64)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                sizes[i] = img.size
        except FileNotFoundError:
            raise DataError(path, "missing image file") from None
        except Exception as exc:  # PIL raises several types on corrupt headers
            raise DataError(path, f"cannot read image ({exc})") from exc
    return sizes
