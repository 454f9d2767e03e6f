"""Xian et al. proposed splits ("xlsa17"): ``att_splits.mat`` and ``res101.mat``.

Also holds the MATLAB helpers and split checks shared by the CUB, AwA2 and SUN readers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lococo.data.images import inside_root
from lococo.data.zsl.types import ZSLData
from lococo.errors import DataError

ATT_SPLITS = "att_splits.mat"
RES101 = "res101.mat"
REQUIRED_LOCS = ("trainval_loc", "test_seen_loc", "test_unseen_loc")
OPTIONAL_LOCS = ("train_loc", "val_loc")
# Smallest per-class cosine between a dataset's own class attributes and xlsa17's original_att.
AGREEMENT_MIN_COSINE = 0.9


@dataclass
class Xlsa17Splits:
    """One dataset's xlsa17 files. Indices are 0-based; ``att``/``original_att`` are ``C×A``.

    ``image_files`` (raw, foreign-prefixed paths) and ``labels`` (0-based into
    ``class_names``) come from ``res101.mat`` and are ``None`` when that file is absent.
    """

    directory: Path
    class_names: list[str]
    att: np.ndarray
    original_att: np.ndarray
    trainval: np.ndarray
    test_seen: np.ndarray
    test_unseen: np.ndarray
    train: np.ndarray | None = None
    val: np.ndarray | None = None
    image_files: list[str] | None = None
    labels: np.ndarray | None = None

    @property
    def att_path(self) -> Path:
        return self.directory / ATT_SPLITS

    @property
    def res101_path(self) -> Path:
        return self.directory / RES101

    def to_zsl(
        self,
        name: str,
        root: Path,
        image_paths: list[Path],
        labels: np.ndarray,
        attribute_names: list[str],
        **fields: Any,
    ) -> ZSLData:
        """A :class:`ZSLData` with these splits' classes, attributes and split indices."""
        return ZSLData(
            name=name,
            root=root,
            image_paths=image_paths,
            labels=labels,
            class_names=list(self.class_names),
            class_attributes=self.att,
            class_attributes_raw=self.original_att,
            attribute_names=attribute_names,
            trainval=self.trainval,
            test_seen=self.test_seen,
            test_unseen=self.test_unseen,
            train=self.train,
            val=self.val,
            **fields,
        )

    def locs(self) -> dict[str, np.ndarray]:
        """The present splits by name (``trainval``, ``test_seen``, ... ``val``)."""
        named = {
            "trainval": self.trainval,
            "test_seen": self.test_seen,
            "test_unseen": self.test_unseen,
            "train": self.train,
            "val": self.val,
        }
        return {k: v for k, v in named.items() if v is not None}


# ---------------------------------------------------------------- MATLAB helpers


def load_mat(path: Path, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """``scipy.io.loadmat`` with user-facing errors; ``keys`` limits what is read."""
    import scipy.io

    if not path.is_file():
        raise DataError(path, "missing file")
    try:
        return scipy.io.loadmat(str(path), variable_names=list(keys) if keys else None)
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5) files
        raise DataError(path, f"unsupported MATLAB file version ({exc}); save it as -v7") from exc
    except Exception as exc:  # scipy raises many types on corrupt input
        raise DataError(path, f"not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc


def mat_get(mat: dict[str, Any], key: str, path: Path) -> Any:
    if key not in mat:
        raise DataError(path, f"missing variable '{key}'")
    return mat[key]


def mat_strings(value: Any, path: Path, key: str) -> list[str]:
    """A MATLAB cell array (or char matrix) of strings as a list of stripped strings."""
    arr = np.asarray(value)
    if arr.dtype.kind == "U":
        return [str(s).strip() for s in arr.ravel()]
    if arr.dtype != object:
        raise DataError(path, f"'{key}' is not a cell array of strings")
    return [_cell_string(item, path, key) for item in arr.ravel()]


def _cell_string(item: Any, path: Path, key: str) -> str:
    if isinstance(item, str):
        return item.strip()
    arr = np.asarray(item)
    if arr.dtype == object and arr.size == 1:
        return _cell_string(arr.ravel()[0], path, key)
    if arr.dtype.kind != "U":
        raise DataError(path, f"'{key}' holds a non-string entry of type {arr.dtype}")
    return "".join(str(s) for s in arr.ravel()).strip()


def mat_matrix(mat: dict[str, Any], key: str, path: Path) -> np.ndarray:
    """A finite 2-D float matrix."""
    arr = np.asarray(mat_get(mat, key, path))
    if arr.ndim != 2 or arr.dtype.kind not in "biuf":
        raise DataError(path, f"'{key}' must be a numeric matrix, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise DataError(path, f"'{key}' contains NaN or Inf")
    return arr


def mat_index_vector(mat: dict[str, Any], key: str, path: Path) -> np.ndarray:
    """A vector of 1-based MATLAB indices, returned 0-based (int64)."""
    arr = np.asarray(mat_get(mat, key, path))
    if arr.dtype.kind not in "biuf" or (arr.ndim == 2 and min(arr.shape) > 1) or arr.ndim > 2:
        raise DataError(path, f"'{key}' must be a numeric vector, got shape {arr.shape}")
    vec = arr.astype(np.float64).ravel()
    if vec.size == 0:
        raise DataError(path, f"'{key}' is empty")
    if not np.isfinite(vec).all() or (vec != np.round(vec)).any():
        raise DataError(path, f"'{key}' must hold whole numbers")
    if vec.min() < 1:
        raise DataError(path, f"'{key}' holds index {int(vec.min())}; indices are 1-based")
    return vec.astype(np.int64) - 1


# ---------------------------------------------------------------- locating and loading


def splits_candidates(root: str | Path, name: str) -> list[Path]:
    """Where the xlsa17 folder of dataset ``name`` (``CUB``, ``AWA2``, ``SUN``) is looked for."""
    root = Path(root)
    out: list[Path] = []
    for cand in (
        root / "xlsa17" / "data" / name,
        root.parent / "xlsa17" / "data" / name,
        root / "data" / name,
    ):
        if cand not in out:
            out.append(cand)
    return out


def find_splits_dir(roots: Sequence[str | Path], name: str) -> Path:
    """The first candidate folder (over ``roots``) holding ``att_splits.mat``."""
    tried: list[Path] = []
    for root in roots:
        for cand in splits_candidates(root, name):
            if cand not in tried:
                tried.append(cand)
            if (cand / ATT_SPLITS).is_file():
                return cand
    looked = ", ".join(str(p) for p in tried)
    raise DataError(
        tried[0] / ATT_SPLITS,
        f"xlsa17 splits not found (looked in {looked}); pass splits_dir",
    )


def load_xlsa17(splits_dir: str | Path) -> Xlsa17Splits:
    """Read ``att_splits.mat`` (required) and ``res101.mat`` (optional) from ``splits_dir``."""
    directory = Path(splits_dir)
    path = directory / ATT_SPLITS
    mat = load_mat(path)
    names = mat_strings(mat_get(mat, "allclasses_names", path), path, "allclasses_names")
    if len(set(names)) != len(names):
        raise DataError(path, "'allclasses_names' has duplicate names")
    att = mat_matrix(mat, "att", path)
    if att.shape[1] != len(names):
        raise DataError(
            path, f"'att' has shape {att.shape}; expected A×{len(names)} (one column per class)"
        )
    original = mat_matrix(mat, "original_att", path) if "original_att" in mat else att
    if original.shape != att.shape:
        raise DataError(path, f"'original_att' has shape {original.shape}, 'att' {att.shape}")
    locs = {key: mat_index_vector(mat, key, path) for key in REQUIRED_LOCS}
    optional = {key: mat_index_vector(mat, key, path) for key in OPTIONAL_LOCS if key in mat}
    for key, idx in {**locs, **optional}.items():
        values, counts = np.unique(idx, return_counts=True)
        if (counts > 1).any():
            raise DataError(path, f"'{key}' lists image {values[counts > 1][0] + 1} twice")
    splits = Xlsa17Splits(
        directory=directory,
        class_names=names,
        att=att.T.copy(),
        original_att=original.T.copy(),
        trainval=locs["trainval_loc"],
        test_seen=locs["test_seen_loc"],
        test_unseen=locs["test_unseen_loc"],
        train=optional.get("train_loc"),
        val=optional.get("val_loc"),
    )
    if splits.res101_path.is_file():
        _read_res101(splits)
        check_index_range(splits, len(splits.labels))  # type: ignore[arg-type]
    return splits


def _read_res101(splits: Xlsa17Splits) -> None:
    path = splits.res101_path
    mat = load_mat(path, keys=("image_files", "labels"))
    files = mat_strings(mat_get(mat, "image_files", path), path, "image_files")
    labels = mat_index_vector(mat, "labels", path)
    if len(labels) != len(files):
        raise DataError(path, f"{len(files)} image_files but {len(labels)} labels")
    if labels.max() >= len(splits.class_names):
        raise DataError(
            path,
            f"label {labels.max() + 1} out of range 1..{len(splits.class_names)} "
            f"(allclasses_names of {splits.att_path})",
        )
    splits.image_files = files
    splits.labels = labels


def check_index_range(splits: Xlsa17Splits, num_images: int) -> None:
    """Every split index must address one of ``num_images`` images."""
    for name, idx in splits.locs().items():
        if idx.max() >= num_images:
            raise DataError(
                splits.att_path,
                f"{name}_loc index {idx.max() + 1} out of range 1..{num_images}",
            )


def check_splits(splits: Xlsa17Splits, labels: np.ndarray, class_names: Sequence[str]) -> None:
    """Seen/unseen consistency of the proposed splits given every image's label."""
    path = splits.att_path
    seen = set(np.unique(labels[splits.trainval]).tolist())
    unseen = set(np.unique(labels[splits.test_unseen]).tolist())
    both = sorted(seen & unseen)
    if both:
        shown = ", ".join(class_names[c] for c in both[:5])
        raise DataError(
            path, f"{len(both)} class(es) both seen (trainval) and unseen (test_unseen): {shown}"
        )
    odd = sorted(set(np.unique(labels[splits.test_seen]).tolist()) - seen)
    if odd:
        raise DataError(path, f"test_seen_loc has images of unseen class {class_names[odd[0]]}")
    _check_class_lists(splits, labels, class_names, seen)
    for a, b in (
        ("trainval", "test_seen"),
        ("trainval", "test_unseen"),
        ("test_seen", "test_unseen"),
    ):
        shared = np.intersect1d(getattr(splits, a), getattr(splits, b))
        if shared.size:
            raise DataError(path, f"image {shared[0] + 1} is in both {a}_loc and {b}_loc")


def _check_class_lists(
    splits: Xlsa17Splits, labels: np.ndarray, class_names: Sequence[str], seen: set[int]
) -> None:
    """The ZSL rule against xlsa17's class lists, when present: no image of a class listed in
    ``testclasses.txt`` (unseen) is in ``trainval_loc``, and no test_unseen image is of a class
    listed in ``trainvalclasses.txt``."""
    index = {name: i for i, name in enumerate(class_names)}
    for file, split, forbidden_in in (
        ("testclasses.txt", "trainval", seen),
        ("trainvalclasses.txt", "test_unseen", set(labels[splits.test_unseen].tolist())),
    ):
        path = splits.directory / file
        if not path.is_file():
            continue
        try:
            listed = {index[n] for n in path.read_text(encoding="utf-8").split() if n in index}
        except (OSError, UnicodeDecodeError):
            continue  # an optional file; the splits themselves were checked
        clash = sorted(listed & forbidden_in)
        if clash:
            raise DataError(
                splits.att_path,
                f"{split}_loc has images of class {class_names[clash[0]]}, which {path.name} "
                f"lists as {'unseen' if split == 'trainval' else 'seen'} (the ZSL rule)",
            )


# ---------------------------------------------------------------- images and attributes


def relative_after(path: str, marker: str) -> list[str] | None:
    """Components of ``path`` after the last ``marker`` folder, or ``None`` if it has none."""
    parts = [p for p in re.split(r"[\\/]+", path) if p]
    for k in range(len(parts) - 2, -1, -1):
        if parts[k] == marker:
            return parts[k + 1 :]
    return None


def map_image_files(
    files: Sequence[str], marker: str, image_root: Path, source: Path
) -> list[Path]:
    """Map foreign absolute paths onto ``image_root`` by the suffix after ``marker/``."""
    out: list[Path] = []
    for name in files:
        rel = relative_after(name, marker)
        if not rel:
            raise DataError(source, f"image path {name!r} has no '{marker}/' folder")
        local = inside_root(image_root, rel, source)
        if not os.path.isfile(local):
            raise DataError(source, f"image {name!r} not found locally (expected {local})")
        out.append(local)
    return out


def check_attribute_agreement(
    splits: Xlsa17Splits, own: np.ndarray, source: Path, what: str
) -> None:
    """``own`` (``C×A``, xlsa17 class order) must agree in shape and direction with original_att."""
    ref = splits.original_att
    if own.shape != ref.shape:
        raise DataError(
            source, f"{what} has shape {own.shape} but {splits.att_path} implies {ref.shape}"
        )
    cos = _row_cosines(own, ref)
    worst = int(np.argmin(cos))
    if cos[worst] < AGREEMENT_MIN_COSINE:
        raise DataError(
            source,
            f"{what} of class {splits.class_names[worst]!r} disagree with 'original_att' of "
            f"{splits.att_path} (cosine {cos[worst]:.3f})",
        )


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    dots = (a * b).sum(axis=1)
    cos = np.where((na > 0) & (nb > 0), dots / np.maximum(na * nb, 1e-300), 1.0)
    both_zero = (na == 0) & (nb == 0)
    one_zero = (na == 0) ^ (nb == 0)
    return np.where(both_zero, 1.0, np.where(one_zero, 0.0, cos))


def att_norm_warnings(splits: Xlsa17Splits) -> list[str]:
    """A note when ``att`` class vectors are not unit length (xlsa17 normalises them)."""
    norms = np.linalg.norm(splits.att, axis=1)
    off = np.abs(norms - 1.0) > 1e-3
    if off.any():
        return [f"{splits.att_path}: {int(off.sum())} 'att' class vector(s) are not unit length"]
    return []
