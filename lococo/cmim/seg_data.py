"""The bridge from :mod:`lococo.data.mri` to segmentation training and evaluation.

Cases are split (never slices) with a fixed seed, independent of the run's ``seed``, so every
method and seed of a study is tested on the same cases (and the paired tests pair them).
"""

from __future__ import annotations

from lococo.cmim.seg_config import SegConfig
from lococo.data.mri import CaseVolumes, MRICase, load_mri, split_cases
from lococo.data.mri.slices import SliceDataset, load_volumes
from lococo.errors import LococoError

SPLIT_SEED = 0


def load_splits(cfg: SegConfig) -> dict[str, list[MRICase]]:
    """Train / val / test cases of ``cfg.data`` (a fixed split, the same for every run)."""
    d = cfg.data
    if not d.path:
        raise LococoError("no data: pass --data DIR (or data.path=DIR)")
    train = 1.0 - d.val_fraction - d.test_fraction
    if train <= 0:
        raise LococoError("data.val_fraction + data.test_fraction must be below 1")
    data = load_mri(d.path, d.format)
    if len(data.cases) < 3:
        raise LococoError(f"{d.path}: {len(data.cases)} cases; need at least 3 (train/val/test)")
    return split_cases(data, SPLIT_SEED, (train, d.val_fraction, d.test_fraction))


def slice_dataset(
    cases: list[MRICase], cfg: SegConfig, *, train: bool, progress: bool = False
) -> SliceDataset:
    """Training slices (tumour-biased random draws, ``data.slices_per_epoch`` per epoch,
    left–right flips) or every slice of every case in order (validation)."""
    d = cfg.data
    return SliceDataset(
        load_volumes(cases, progress=progress),
        train=train,
        tumour_fraction=d.tumour_fraction,
        size=d.slices_per_epoch or None,
        seed=cfg.seed,
        flip=train,
    )


def test_volumes(cases: list[MRICase], *, progress: bool = False) -> list[CaseVolumes]:
    """Each case read and normalised, in order."""
    return load_volumes(cases, progress=progress)
