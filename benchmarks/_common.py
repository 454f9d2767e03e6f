"""Shared set-up of the benchmarks: synthetic data and the quick-profile ZFS config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lococo.config.loading import load_config
from lococo.data.zsl.synth import synth_zsl
from lococo.zfs.config import ZFSConfig


def synthetic_zsl(root: Path, image_size: int) -> Path:
    """The quick main job's data set: 50 classes (10 unseen), 40 images each."""
    synth_zsl(
        root,
        seed=0,
        classes=50,
        unseen=10,
        images_per_class=40,
        image_size=image_size,
        progress=False,
    )
    return root


def quick_config(data: Path | str, **overrides: Any) -> ZFSConfig:
    """The quick profile on ``data`` with dotted-key overrides."""
    return load_config(
        ZFSConfig, system="zfs", profile="quick", overrides={"data.path": str(data), **overrides}
    )
