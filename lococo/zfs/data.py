"""ZFS data glue: a config's data section -> a validated :class:`ZSLData`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lococo.data.zsl.check import load_zsl
from lococo.data.zsl.images import ZSLImageDataset
from lococo.data.zsl.types import ZSLData
from lococo.errors import LococoError
from lococo.zfs.config import DataConfig


def load_zsl_for(cfg: DataConfig) -> ZSLData:
    """Load (and validate) the dataset named by ``cfg``; errors name the offending file."""
    if not cfg.path:
        raise LococoError("no dataset given: pass --data DIR (or data.path=DIR)")
    root = Path(cfg.path)
    if not root.exists():
        raise LococoError(f"{root}: dataset directory not found")
    data = load_zsl(root, cfg.format, splits_dir=cfg.splits_dir)
    if cfg.verify_images:
        from lococo.data.images import threaded_map, verify_image

        for _ in threaded_map(verify_image, data.image_paths, desc="verify images"):
            pass
    return data


def zsl_images(
    data: ZSLData,
    indices: np.ndarray,
    cfg: DataConfig,
    *,
    train: bool,
    labels_map: dict[int, int] | None = None,
    progress: bool = True,
) -> ZSLImageDataset:
    """The images ``indices`` of ``data`` as ``cfg`` feeds them (random crops when ``train``)."""
    return ZSLImageDataset(
        data,
        indices,
        cfg.image_size,
        train=train,
        cache=cfg.cache_images,
        labels_map=labels_map,
        progress=progress,
    )
