"""Tiny hand-made CUB / AwA2 / SUN trees (+ xlsa17 splits) in the real on-disk formats.

Each builder returns a :class:`Tree` with the folder to load and the ground truth the files
were written from, so tests can compare a reader's output against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from PIL import Image

WIDTH, HEIGHT = 32, 24
PER_CLASS = 3
NUM_ATTRS = 5
SEEN = (0, 1, 2)  # class 3 is unseen
CUB_PREFIX = "/BS/Deep_Fragments/work/MSc/CUB_200_2011/CUB_200_2011/images/"
AWA2_PREFIX = "/BS/xian/work/data/Animals_with_Attributes2//JPEGImages/"
SUN_PREFIX = "/BS/Deep_Fragments/work/MSc/data/SUN/images/"


@dataclass
class Tree:
    """A written dataset: ``root`` to load, ``splits`` folder and what was written."""

    root: Path
    splits: Path
    class_names: list[str]
    rel_paths: list[str]  # in res101 (ZSL) order, relative to the image folder
    labels: np.ndarray  # 0-based, res101 order
    original_att: np.ndarray  # C×A
    locs: dict[str, np.ndarray]  # 0-based split indices
    extra: dict[str, Any] = field(default_factory=dict)


def write_jpeg(path: Path, seed: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
    """A small textured RGB JPEG (noise over a gradient), different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    grad = np.linspace(0, 200, w)[None, :, None] + np.linspace(0, 50, h)[:, None, None]
    pixels = np.clip(grad + rng.integers(0, 56, size=(h, w, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=95)


def cell(strings: list[str]) -> np.ndarray:
    """A MATLAB ``n×1`` cell array of strings for ``scipy.io.savemat``."""
    out = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        out[i, 0] = s
    return out


def update_mat(path: Path, **changes: Any) -> None:
    """Rewrite a ``.mat`` file with some variables replaced (``None`` deletes one)."""
    mat = {k: v for k, v in scipy.io.loadmat(str(path)).items() if not k.startswith("__")}
    for key, value in changes.items():
        if value is None:
            mat.pop(key, None)
        else:
            mat[key] = value
    scipy.io.savemat(str(path), mat)


def set_line(path: Path, lineno: int, text: str) -> None:
    """Replace line ``lineno`` (1-based) of a text file."""
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n")


def _split_positions(labels: np.ndarray) -> dict[str, np.ndarray]:
    """trainval: first two images of each seen class; test_seen: the third; unseen: all."""
    trainval, test_seen, test_unseen, train, val = [], [], [], [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if c in SEEN:
            trainval += list(members[:2])
            test_seen.append(members[2])
            (val if c == SEEN[-1] else train).extend(members[:2])
        else:
            test_unseen += list(members)
    return {
        k: np.sort(np.asarray(v, dtype=np.int64))
        for k, v in zip(
            ("trainval", "test_seen", "test_unseen", "train", "val"),
            (trainval, test_seen, test_unseen, train, val),
            strict=True,
        )
    }


def write_xlsa17(
    directory: Path,
    class_names: list[str],
    original_att: np.ndarray,
    locs: dict[str, np.ndarray],
    image_files: list[str] | None,
    labels: np.ndarray | None,
) -> None:
    """``att_splits.mat`` (+ ``res101.mat`` when ``image_files`` is given); indices 1-based."""
    directory.mkdir(parents=True, exist_ok=True)
    att = original_att.T / np.linalg.norm(original_att.T, axis=0, keepdims=True)
    mat: dict[str, Any] = {
        "allclasses_names": cell(class_names),
        "att": att,
        "original_att": original_att.T,
    }
    for key, idx in locs.items():
        mat[f"{key}_loc"] = (idx + 1).reshape(-1, 1).astype(np.float64)
    scipy.io.savemat(str(directory / "att_splits.mat"), mat)
    if image_files is not None and labels is not None:
        res = {
            "image_files": cell(image_files),
            "labels": (labels + 1).reshape(-1, 1).astype(np.float64),
            "features": np.zeros((8, len(image_files)), dtype=np.float32),
        }
        scipy.io.savemat(str(directory / "res101.mat"), res)


# ---------------------------------------------------------------- CUB


def make_cub(base: Path, res101: bool = True, num_classes: int = 4) -> Tree:
    """``base/CUB_200_2011`` (+ ``base/attributes.txt``, ``base/xlsa17/data/CUB``).

    res101 lists the images in reverse ``images.txt`` order, so reader order is testable.
    """
    rng = np.random.default_rng(0)
    cub = base / "CUB_200_2011"
    names = [f"{c + 1:03d}.Bird_{chr(65 + c)}" for c in range(num_classes)]
    rels, cub_labels = [], []
    for c, name in enumerate(names):
        for k in range(PER_CLASS):
            rels.append(f"{name}/Bird_{chr(65 + c)}_{k + 1:04d}_{c}{k}.jpg")
            cub_labels.append(c)
    n = len(rels)
    for i, rel in enumerate(rels):
        write_jpeg(cub / "images" / rel, seed=i)
    boxes = np.column_stack(
        [
            rng.integers(0, 8, n),
            rng.integers(0, 6, n),
            20 + rng.integers(0, 4, n),
            16 + rng.integers(0, 4, n),
        ]
    )
    part_names = ["left eye", "beak"]
    locs = np.zeros((n, 2, 3))
    locs[..., 0] = rng.integers(1, WIDTH, (n, 2))
    locs[..., 1] = rng.integers(1, HEIGHT, (n, 2))
    locs[..., 2] = rng.integers(0, 2, (n, 2))
    locs[locs[..., 2] == 0, :2] = 0
    original = rng.uniform(0, 100, (num_classes, NUM_ATTRS))
    present = rng.integers(0, 2, (n, NUM_ATTRS))

    _write(cub / "images.txt", [f"{i + 1} {rel}" for i, rel in enumerate(rels)])
    _write(cub / "classes.txt", [f"{c + 1} {name}" for c, name in enumerate(names)])
    _write(cub / "image_class_labels.txt", [f"{i + 1} {c + 1}" for i, c in enumerate(cub_labels)])
    _write(cub / "train_test_split.txt", [f"{i + 1} {i % 2}" for i in range(n)])
    _write(
        cub / "bounding_boxes.txt",
        [f"{i + 1} " + " ".join(f"{v:.1f}" for v in b) for i, b in enumerate(boxes)],
    )
    _write(cub / "parts" / "parts.txt", [f"{p + 1} {name}" for p, name in enumerate(part_names)])
    _write(
        cub / "parts" / "part_locs.txt",
        [
            f"{i + 1} {p + 1} {locs[i, p, 0]:.1f} {locs[i, p, 1]:.1f} {int(locs[i, p, 2])}"
            for i in range(n)
            for p in range(2)
        ],
    )
    clicks = [
        (i, p, locs[i, p, 0] + w, locs[i, p, 1] - w, 1)
        for i in range(n)
        for p in range(2)
        if locs[i, p, 2]
        for w in (0, 1)
    ]
    _write(
        cub / "parts" / "part_click_locs.txt",
        [f"{i + 1} {p + 1} {x:.1f} {y:.1f} {v} 1.234" for i, p, x, y, v in clicks],
    )
    attr_lines = [
        f"{i + 1} {a + 1} {present[i, a]} {1 + (i + a) % 4} 12.5"
        for i in range(n)
        for a in range(NUM_ATTRS)
    ]
    attr_lines[7] += " 0"  # the real file has a few lines with extra fields
    _write(cub / "attributes" / "image_attribute_labels.txt", attr_lines)
    _write(
        cub / "attributes" / "class_attribute_labels_continuous.txt",
        [" ".join(f"{v:.4f}" for v in row) for row in original],
    )
    _write(
        base / "attributes.txt", [f"{a + 1} has_part_{a // 2}::value_{a}" for a in range(NUM_ATTRS)]
    )

    order = np.arange(n)[::-1].copy() if res101 else np.arange(n)
    labels = np.asarray(cub_labels)[order]
    split_locs = _split_positions(labels)
    splits = base / "xlsa17" / "data" / "CUB"
    files = [CUB_PREFIX + rels[i] for i in order] if res101 else None
    write_xlsa17(splits, names, original, split_locs, files, labels if res101 else None)
    return Tree(
        root=base,
        splits=splits,
        class_names=names,
        rel_paths=[rels[i] for i in order],
        labels=labels,
        original_att=original,
        locs=split_locs,
        extra={
            "order": order,
            "boxes": boxes[order].astype(float),
            "part_names": part_names,
            "part_locs": locs[order],
            "num_clicks": len(clicks),
            "present": present[order],
        },
    )


# ---------------------------------------------------------------- AwA2


def make_awa2(base: Path) -> Tree:
    """``base/Animals_with_Attributes2`` and ``base/xlsa17/data/AWA2``."""
    rng = np.random.default_rng(1)
    awa = base / "Animals_with_Attributes2"
    names = ["antelope", "grizzly+bear", "killer+whale", "zebra"]
    rels, labels = [], []
    for c, name in enumerate(names):
        for k in range(PER_CLASS):
            rels.append(f"{name}/{name}_{10001 + k}.jpg")
            labels.append(c)
    for i, rel in enumerate(rels):
        write_jpeg(awa / "JPEGImages" / rel, seed=100 + i)
    original = rng.uniform(0, 100, (len(names), NUM_ATTRS))
    original[0, 0] = -1.0  # AwA marks some unknown values with -1
    _write(awa / "classes.txt", [f"\t{c + 1}\t{name}" for c, name in enumerate(names)])
    _write(awa / "predicates.txt", [f"\t{a + 1}\tpredicate{a}" for a in range(NUM_ATTRS)])
    _write(
        awa / "predicate-matrix-continuous.txt",
        ["  ".join(f"{v:7.2f}" for v in row) for row in original],
    )
    order = np.asarray([4, 0, 7, 1, 10, 2, 5, 8, 11, 3, 6, 9])  # res101 order != folder order
    lab = np.asarray(labels)[order]
    split_locs = _split_positions(lab)
    splits = base / "xlsa17" / "data" / "AWA2"
    write_xlsa17(splits, names, original, split_locs, [AWA2_PREFIX + rels[i] for i in order], lab)
    return Tree(base, splits, names, [rels[i] for i in order], lab, original, split_locs)


# ---------------------------------------------------------------- SUN


def make_sun(base: Path) -> Tree:
    """``base/SUN/{images,SUNAttributeDB}`` and ``base/xlsa17/data/SUN``."""
    rng = np.random.default_rng(2)
    sun = base / "SUN"
    folders = ["a/abbey", "a/airport_terminal", "b/bakery/shop", "b/beach"]
    names = ["abbey", "airport_terminal", "bakery_shop", "beach"]
    rels, labels = [], []
    for c, folder in enumerate(folders):
        for k in range(PER_CLASS):
            rels.append(f"{folder}/sun_{chr(97 + c)}{chr(97 + k)}xyz.jpg")
            labels.append(c)
    for i, rel in enumerate(rels):
        write_jpeg(sun / "images" / rel, seed=200 + i)
    values = rng.uniform(0, 1, (len(rels), NUM_ATTRS))
    db = sun / "SUNAttributeDB"
    db.mkdir(parents=True)
    scipy.io.savemat(str(db / "images.mat"), {"images": cell(rels)})
    scipy.io.savemat(
        str(db / "attributes.mat"), {"attributes": cell([f"sunattr{a}" for a in range(NUM_ATTRS)])}
    )
    scipy.io.savemat(str(db / "attributeLabels_continuous.mat"), {"labels_cv": values})
    lab_db = np.asarray(labels)
    original = np.stack([values[lab_db == c].mean(axis=0) for c in range(len(names))])
    order = np.arange(len(rels))[::-1].copy()
    lab = lab_db[order]
    split_locs = _split_positions(lab)
    splits = base / "xlsa17" / "data" / "SUN"
    write_xlsa17(splits, names, original, split_locs, [SUN_PREFIX + rels[i] for i in order], lab)
    return Tree(
        sun,
        splits,
        names,
        [rels[i] for i in order],
        lab,
        original,
        split_locs,
        extra={"values": values[order]},
    )


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
