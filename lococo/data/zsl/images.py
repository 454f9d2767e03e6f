"""Images of a ZSL dataset as tensors: resize, random/centre crops and flips (thesis app. A.2).

Every image is resized (aspect ratio not kept) to ``image_size × image_size``; training
takes random ``crop_size × crop_size`` crops and random horizontal flips, test takes the
centre crop. With ``cache=True`` images are decoded once into a ``uint8`` tensor and every
epoch only crops and flips tensors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lococo.data.images import decode_all, load_resized
from lococo.data.zsl.types import ZSLData

CROP_RATIO = 0.875


def crop_size(image_size: int) -> int:
    """Side of the crops taken from ``image_size`` images: ``round(0.875 · image_size)``."""
    return round(CROP_RATIO * image_size)


def class_index_map(class_ids: Iterable[int]) -> dict[int, int]:
    """``{class id: position}`` for a subset of classes (e.g. the seen classes)."""
    return {int(c): k for k, c in enumerate(class_ids)}


class ZSLImageDataset(Dataset):
    """Items ``(image, target, index)`` for the images ``indices`` of ``data``.

    ``image`` is ``float32`` ``3×crop×crop`` in ``[-1, 1]``; ``target`` is
    ``labels_map[label]`` when given, else the class id; ``index`` is the image's index in
    ``data`` (all ``int64``). Random crops/flips use torch's global RNG.
    """

    def __init__(
        self,
        data: ZSLData,
        indices: Sequence[int] | np.ndarray | torch.Tensor,
        image_size: int,
        train: bool,
        cache: bool = True,
        labels_map: Mapping[int, int] | None = None,
        progress: bool = True,
        num_threads: int | None = None,
    ) -> None:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(data.image_paths)):
            raise IndexError(f"image indices must lie in 0..{len(data.image_paths) - 1}")
        self.image_size = int(image_size)
        self.crop = crop_size(self.image_size)
        if not 0 < self.crop <= self.image_size:
            raise ValueError(f"image_size {image_size} is too small to crop")
        self.train = train
        self.paths = [Path(data.image_paths[i]) for i in idx]
        self.indices = torch.from_numpy(idx)
        self.targets = torch.from_numpy(_targets(np.asarray(data.labels)[idx], labels_map))
        self.images = (
            decode_all(self.paths, self.image_size, progress, num_threads) if cache else None
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.images is not None:
            image = self.images[i]
        else:
            image = load_resized(self.paths[i], self.image_size)
        return self.transform(image), self.targets[i], self.indices[i]

    def transform(self, image: torch.Tensor) -> torch.Tensor:
        """Crop (random in training, centre in test), maybe flip, scale ``uint8`` to [-1, 1]."""
        c, margin = self.crop, self.image_size - self.crop
        if self.train:
            top, left = torch.randint(0, margin + 1, (2,)).tolist()
            patch = image[:, top : top + c, left : left + c]
            if torch.randint(0, 2, (1,)).item():
                patch = patch.flip(-1)
        else:
            top = left = round(margin / 2.0)
            patch = image[:, top : top + c, left : left + c]
        return patch.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)


def _targets(labels: np.ndarray, labels_map: Mapping[int, int] | None) -> np.ndarray:
    if labels_map is None:
        return labels.astype(np.int64)
    missing = sorted({int(x) for x in labels} - {int(k) for k in labels_map})
    if missing:
        raise KeyError(f"labels_map has no entry for class id {missing[0]}")
    return np.asarray([labels_map[int(x)] for x in labels], dtype=np.int64)
