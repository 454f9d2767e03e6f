"""The in-memory description of a layout dataset (images with boxed, labelled objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass
class Scene:
    """One image and its objects after preprocessing.

    ``boxes``: ``O×4`` ``float32`` normalised ``(x0, y0, x1, y1)`` in ``[0, 1]`` (fractions of
    ``width``/``height``, the original image size). ``labels``: ``O`` ``int64`` contiguous class
    indices into :attr:`LayoutData.class_names`. ``masks``: one segmentation per object on the
    original image grid — a pycocotools RLE dict (``{"size": [h, w], "counts": ...}``) or an
    ``h×w`` array — or ``None`` where the format has none (Visual Genome). They are decoded
    only when needed (:func:`lococo.data.layout.dataset.object_masks`).
    """

    image_id: int
    image_path: Path
    width: int
    height: int
    boxes: np.ndarray
    labels: np.ndarray
    masks: list[Any] | None = None

    @property
    def num_objects(self) -> int:
        return len(self.labels)


@dataclass
class LayoutData:
    """Classes and the preprocessed scenes of each split of a layout dataset.

    ``class_names[k]`` / ``category_ids[k]``: name and original category id of class ``k``.
    ``splits`` maps ``"train"``, ``"val"``, ``"test"`` to their scenes; ``max_objects`` is the
    largest object count a scene may have under the format's rules (8 for COCO-Stuff, 30 for
    Visual Genome), the padding length of the layout tensors.
    """

    format: str
    root: Path
    class_names: list[str]
    category_ids: list[int]
    splits: dict[str, list[Scene]]
    max_objects: int
    min_objects: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def scenes(self, split: str) -> list[Scene]:
        """The scenes of ``split``; an unknown split is a ``KeyError`` naming the known ones."""
        try:
            return self.splits[split]
        except KeyError:
            raise KeyError(f"unknown split {split!r}; have {', '.join(self.splits)}") from None
