"""The in-memory description of a zero-shot-learning dataset, shared by every ZSL reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class PartAnnotations:
    """Part locations of CUB-style data (pixel coordinates of the original images).

    ``locs``: ``N×P×3`` array of (x, y, visible) consensus locations (``part_locs.txt``).
    ``clicks``: ``M×5`` float array of per-worker clicks (image index, part index, x, y,
    visible) from ``part_click_locs.txt``; image and part indices are 0-based.
    """

    names: list[str]
    locs: np.ndarray
    clicks: np.ndarray


@dataclass
class ZSLData:
    """Images, labels, class attributes and the seen/unseen split of a ZSL dataset.

    All indices are 0-based. ``labels[i]`` is the class id of ``image_paths[i]`` in
    ``class_names`` order. ``class_attributes`` are the per-class vectors used for ZSL
    (xlsa17 ``att``: each class vector L2-normalised); ``class_attributes_raw`` the original
    continuous values (xlsa17 ``original_att``). ``trainval``/``test_seen``/``test_unseen``
    index images (xlsa17 proposed splits); ``train``/``val`` are optional.
    """

    name: str
    root: Path
    image_paths: list[Path]
    labels: np.ndarray
    class_names: list[str]
    class_attributes: np.ndarray
    class_attributes_raw: np.ndarray
    attribute_names: list[str]
    trainval: np.ndarray
    test_seen: np.ndarray
    test_unseen: np.ndarray
    train: np.ndarray | None = None
    val: np.ndarray | None = None
    image_attributes: np.ndarray | None = None
    boxes: np.ndarray | None = None
    image_sizes: np.ndarray | None = None
    parts: PartAnnotations | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def seen_classes(self) -> np.ndarray:
        """Sorted class ids that appear in ``trainval``."""
        return np.unique(self.labels[self.trainval])

    @property
    def unseen_classes(self) -> np.ndarray:
        """Sorted class ids that appear in ``test_unseen``."""
        return np.unique(self.labels[self.test_unseen])
