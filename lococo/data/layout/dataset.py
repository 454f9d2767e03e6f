"""Layout tensors and the image + layout ``Dataset`` used by the SGSM and the OC-GAN.

Every item has fixed shapes, so torch's default collate batches it: the objects of a scene are
padded to ``max_objects`` rows and a ``valid`` mask says which rows are real. Images are
resized (aspect ratio not kept, as in sg2im) to ``image_size × image_size``; boxes are
normalised to the image, so they do not change with the resize. Instance masks are, as in
sg2im, each object's mask cropped to its box and resized to ``mask_size × mask_size``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from lococo.data.images import decode_all, load_resized, threaded_map
from lococo.data.layout.types import LayoutData, Scene

MASK_THRESHOLD = 0.5


def layout_tensors(
    scenes: Sequence[Scene], max_objects: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded layout tensors of ``scenes``: boxes ``N×M×4`` ``float32``, labels ``N×M``
    ``int64``, valid ``N×M`` ``bool`` (``M = max_objects``). Padding rows are all zero; a scene
    with more than ``M`` objects keeps its first ``M``."""
    n, m = len(scenes), int(max_objects)
    boxes = torch.zeros((n, m, 4), dtype=torch.float32)
    labels = torch.zeros((n, m), dtype=torch.int64)
    valid = torch.zeros((n, m), dtype=torch.bool)
    for i, scene in enumerate(scenes):
        k = min(scene.num_objects, m)
        boxes[i, :k] = torch.from_numpy(np.asarray(scene.boxes[:k], dtype=np.float32))
        labels[i, :k] = torch.from_numpy(np.asarray(scene.labels[:k], dtype=np.int64))
        valid[i, :k] = True
    return boxes, labels, valid


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """A full-image ``uint8`` ``height×width`` mask from an RLE dict (compressed or not), a
    polygon list, or an array."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, np.ndarray):
        return (segmentation > 0).astype(np.uint8)
    if isinstance(segmentation, list):  # polygons
        if not segmentation:
            return np.zeros((height, width), dtype=np.uint8)
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return np.asarray(mask_utils.decode(rle), dtype=np.uint8)


def box_mask(mask: np.ndarray, box: np.ndarray, mask_size: int) -> torch.Tensor:
    """``mask`` (full image) cropped to the normalised ``box`` and resized to
    ``mask_size × mask_size`` (bilinear, threshold 0.5): ``float32`` of 0/1."""
    h, w = mask.shape
    x0 = min(math.floor(float(box[0]) * w), w - 1)
    y0 = min(math.floor(float(box[1]) * h), h - 1)
    x1 = max(math.ceil(float(box[2]) * w), x0 + 1)
    y1 = max(math.ceil(float(box[3]) * h), y0 + 1)
    crop = torch.from_numpy(np.ascontiguousarray(mask[y0:y1, x0:x1], dtype=np.float32))
    resized = torch.nn.functional.interpolate(
        crop[None, None], size=(mask_size, mask_size), mode="bilinear", align_corners=False
    )[0, 0]
    return (resized > MASK_THRESHOLD).to(torch.float32)


def object_masks(scene: Scene, mask_size: int, max_objects: int | None = None) -> torch.Tensor:
    """Box-relative instance masks of ``scene``: ``float32`` ``M×mask_size×mask_size``
    (``M = max_objects``, default the scene's object count; padding rows zero). A scene without
    masks gets each object's full box (all ones)."""
    m = scene.num_objects if max_objects is None else int(max_objects)
    out = torch.zeros((m, mask_size, mask_size), dtype=torch.float32)
    k = min(scene.num_objects, m)
    if scene.masks is None:
        out[:k] = 1.0
        return out
    for j in range(k):
        full = decode_segmentation(scene.masks[j], scene.height, scene.width)
        out[j] = box_mask(full, scene.boxes[j], mask_size)
    return out


def flip_boxes(boxes: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mirror normalised ``(x0, y0, x1, y1)`` boxes left-right; padding rows stay zero."""
    flipped = torch.stack([1.0 - boxes[..., 2], boxes[..., 1], 1.0 - boxes[..., 0], boxes[..., 3]])
    flipped = flipped.movedim(0, -1)
    return torch.where(valid[..., None], flipped, boxes)


class LayoutDataset(Dataset):
    """Images and padded layouts of one split of ``data``.

    An item is a dict: ``image`` ``float32`` ``3×P×P`` in ``[-1, 1]``; ``boxes`` ``float32``
    ``M×4``; ``labels`` ``int64`` ``M``; ``valid`` ``bool`` ``M``; with ``masks=True``
    ``masks`` ``float32`` ``M×mask_size×mask_size``; ``index`` (position in the split). ``M`` is
    ``max_objects`` (default ``data.max_objects``). With ``flip`` a random half of the items
    (torch's global RNG) are mirrored left-right: image, boxes and masks together. With
    ``cache`` images (and masks) are decoded once at construction into ``uint8`` tensors.
    """

    def __init__(
        self,
        data: LayoutData,
        split: str,
        image_size: int,
        *,
        max_objects: int | None = None,
        masks: bool = False,
        mask_size: int = 16,
        flip: bool = False,
        cache: bool = True,
        progress: bool = True,
        num_threads: int | None = None,
    ) -> None:
        if image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        if mask_size < 1:
            raise ValueError(f"mask_size must be positive, got {mask_size}")
        self.data = data
        self.split = split
        self.scenes = data.scenes(split)
        self.image_size = int(image_size)
        self.max_objects = int(max_objects if max_objects is not None else data.max_objects)
        if self.max_objects < 1:
            raise ValueError(f"max_objects must be positive, got {self.max_objects}")
        self.with_masks = masks
        self.mask_size = int(mask_size)
        self.flip = flip
        self.paths = [s.image_path for s in self.scenes]
        self.boxes, self.labels, self.valid = layout_tensors(self.scenes, self.max_objects)
        self.images: torch.Tensor | None = None
        self.masks: torch.Tensor | None = None
        if cache:
            self.images = decode_all(self.paths, self.image_size, progress, num_threads)
            if masks:
                self.masks = self._all_masks(progress, num_threads)

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    @property
    def class_names(self) -> list[str]:
        return self.data.class_names

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self.images is not None:
            image = self.images[i]
        else:
            image = load_resized(self.paths[i], self.image_size)
        boxes, valid = self.boxes[i], self.valid[i]
        item: dict[str, Any] = {"labels": self.labels[i], "valid": valid, "index": i}
        masks = None
        if self.with_masks:
            if self.masks is not None:
                masks = self.masks[i].to(torch.float32)
            else:
                masks = object_masks(self.scenes[i], self.mask_size, self.max_objects)
        if self.flip and torch.randint(0, 2, (1,)).item():
            image = image.flip(-1)
            boxes = flip_boxes(boxes, valid)
            masks = None if masks is None else masks.flip(-1)
        item["image"] = image.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)
        item["boxes"] = boxes.clone()
        if masks is not None:
            item["masks"] = masks
        return item

    def _all_masks(self, progress: bool, num_threads: int | None) -> torch.Tensor:
        m, s = self.max_objects, self.mask_size
        out = torch.zeros((len(self.scenes), m, s, s), dtype=torch.uint8)
        positions = list(range(len(self.scenes)))

        def one(i: int) -> torch.Tensor:
            return object_masks(self.scenes[i], s, m).to(torch.uint8)

        for i, masks in enumerate(threaded_map(one, positions, progress, "masks", num_threads)):
            out[i] = masks
        return out
