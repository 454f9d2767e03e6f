"""PyTorch datasets over preprocessed MRI cases: 2-D axial slices and 3-D patches.

Cases are read and normalised once (:func:`load_volumes`, with an in-memory cache shared by
every dataset of the process) and kept as arrays; items are cut from them on the fly.

Training items are drawn at random, deterministically in ``(seed, epoch, index)``: with
probability ``tumour_fraction`` a slice (patch centre) containing enhancing tumour, otherwise
any slice (voxel) inside the brain — the usual oversampling of the rare class. Evaluation
items enumerate every slice of every case in order (``case_ranges[i]`` gives case ``i``'s
items), so per-case scores can be assembled from them; :meth:`case_volume` returns a whole
case at once.

Item dictionaries: ``image`` float32 ``4×H×W`` (``4×d×h×w`` for patches) in
:data:`~lococo.data.mri.types.MODALITIES` order, ``target`` float32 ``1×…`` (enhancing tumour),
``brain`` bool ``1×…``, ``case`` (index into the dataset's cases), ``slice`` (axial index; for
patches ``origin``, the patch's first voxel ``(z, y, x)``).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from lococo.data.mri.types import CaseVolumes, MRICase
from lococo.data.mri.volumes import normalise_case, read_case

# Normalised cases kept in memory across datasets of one process (bytes).
CACHE_BYTES = int(os.environ.get("LOCOCO_MRI_CACHE_BYTES", 4 * 1024**3))
_CACHE: OrderedDict[tuple, CaseVolumes] = OrderedDict()


def _cache_key(case: MRICase, dtype: np.dtype) -> tuple:
    stamps = []
    for path in case.files:
        st = path.stat()
        stamps.append((str(path), st.st_mtime_ns, st.st_size))
    channels = tuple(sorted(case.channels.items())) if case.channels else None
    return (case.case_id, tuple(stamps), tuple(sorted(case.label_map.items())), channels, dtype.str)


def _nbytes(v: CaseVolumes) -> int:
    return v.image.nbytes + v.label.nbytes + v.brain.nbytes


def load_volumes(
    cases: Sequence[MRICase],
    *,
    progress: bool = False,
    cache: bool = True,
    dtype: np.dtype | type = np.float32,
) -> list[CaseVolumes]:
    """Read and normalise ``cases`` (:func:`read_case` + :func:`normalise_case`), in order.

    With ``cache`` a case already loaded by this process (same files, unchanged on disk) is
    reused; the cache holds at most ``LOCOCO_MRI_CACHE_BYTES`` (default 4 GiB). ``dtype``
    ``float16`` halves the memory of the kept images (normalised values are clipped to ±5, so
    the rounding is below 0.004); the datasets still return float32 items.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise ValueError(f"dtype must be float32 or float16, got {dtype}")
    out: list[CaseVolumes] = []
    bar = None
    if progress and len(cases) > 1:
        from tqdm import tqdm

        bar = tqdm(total=len(cases), desc="read mri", unit="case", file=sys.stderr)
    for case in cases:
        key = _cache_key(case, dtype) if cache else None
        vol = _CACHE.get(key) if key is not None else None
        if vol is None:
            vol = normalise_case(read_case(case))
            if dtype != vol.image.dtype:
                vol.image = vol.image.astype(dtype)
            if key is not None and _nbytes(vol) <= CACHE_BYTES:
                _CACHE[key] = vol
                while sum(_nbytes(v) for v in _CACHE.values()) > CACHE_BYTES:
                    _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(key)
        out.append(vol)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return out


def clear_cache() -> None:
    """Forget every cached case."""
    _CACHE.clear()


class _CaseArrays:
    """The normalised arrays of the dataset's cases plus the per-slice sampling pools."""

    def __init__(self, volumes: Sequence[CaseVolumes]) -> None:
        if not volumes:
            raise ValueError("no cases given")
        self.volumes = [v if v.normalised else normalise_case(v) for v in volumes]
        shapes = {v.image.shape[0] for v in self.volumes}
        if shapes != {4}:
            raise ValueError(f"expected 4-channel images, found {sorted(shapes)} channels")
        self.targets = [v.target for v in self.volumes]
        tumour, brain = [], []
        for i, (v, t) in enumerate(zip(self.volumes, self.targets, strict=True)):
            tumour += [(i, k) for k in np.flatnonzero(t.any(axis=(1, 2)))]
            brain += [(i, k) for k in np.flatnonzero(v.brain.any(axis=(1, 2)))]
        self.tumour_slices = np.asarray(tumour, dtype=np.int64).reshape(-1, 2)
        self.brain_slices = np.asarray(brain, dtype=np.int64).reshape(-1, 2)

    def case_volume(self, i: int) -> dict[str, Any]:
        v = self.volumes[i]
        return {
            "image": torch.from_numpy(v.image.astype(np.float32, copy=False)),
            "target": torch.from_numpy(self.targets[i][None].astype(np.float32)),
            "brain": torch.from_numpy(v.brain[None]),
            "case": i,
            "case_id": v.case_id,
        }


class SliceDataset(Dataset):
    """2-D axial slices of 4-modality cases (see the module docstring).

    ``volumes``: cases from :func:`load_volumes` (normalised here if they are not). ``train``:
    random tumour-biased slices, ``size`` per epoch (default: the number of brain slices);
    otherwise every slice of every case in order (``size`` ignored). ``flip``: in training,
    mirror left–right with probability ½.
    """

    def __init__(
        self,
        volumes: Sequence[CaseVolumes],
        *,
        train: bool,
        tumour_fraction: float = 0.5,
        size: int | None = None,
        seed: int = 0,
        flip: bool = False,
    ) -> None:
        if not 0.0 <= tumour_fraction <= 1.0:
            raise ValueError(f"tumour_fraction must be in [0, 1], got {tumour_fraction}")
        self.arrays = _CaseArrays(volumes)
        self.train = train
        self.tumour_fraction = tumour_fraction
        self.seed = seed
        self.flip = flip
        self.epoch = 0
        depths = [v.image.shape[1] for v in self.arrays.volumes]
        starts = np.concatenate([[0], np.cumsum(depths)])
        self.case_ranges = [range(int(a), int(b)) for a, b in itertools.pairwise(starts)]
        self._eval_index = [(i, k) for i, d in enumerate(depths) for k in range(d)]
        self._size = int(size) if size is not None else len(self.arrays.brain_slices)

    @classmethod
    def from_cases(cls, cases: Sequence[MRICase], **kwargs: Any) -> SliceDataset:
        """Read (or reuse from the cache) ``cases`` and build the dataset over them."""
        return cls(load_volumes(cases), **kwargs)

    @property
    def volumes(self) -> list[CaseVolumes]:
        return self.arrays.volumes

    def set_epoch(self, epoch: int) -> None:
        """Draw a different (still deterministic) set of training slices for ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._size if self.train else len(self._eval_index)

    def slice_at(self, index: int) -> tuple[int, int, bool]:
        """``(case, slice, flipped)`` of item ``index``."""
        if not self.train:
            case, k = self._eval_index[index]
            return case, k, False
        if not 0 <= index < self._size:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        pool = self.arrays.brain_slices
        if len(self.arrays.tumour_slices) and rng.uniform() < self.tumour_fraction:
            pool = self.arrays.tumour_slices
        case, k = pool[int(rng.integers(len(pool)))]
        flipped = bool(self.flip and rng.uniform() < 0.5)
        return int(case), int(k), flipped

    def __getitem__(self, index: int) -> dict[str, Any]:
        case, k, flipped = self.slice_at(index)
        v = self.arrays.volumes[case]
        image = v.image[:, k]
        target = self.arrays.targets[case][k]
        brain = v.brain[k]
        if flipped:
            image, target, brain = image[..., ::-1], target[..., ::-1], brain[..., ::-1]
        return {
            "image": torch.from_numpy(np.array(image, dtype=np.float32, order="C")),
            "target": torch.from_numpy(target[None].astype(np.float32)),
            "brain": torch.from_numpy(np.ascontiguousarray(brain[None])),
            "case": case,
            "slice": k,
        }

    def case_volume(self, i: int) -> dict[str, Any]:
        """Case ``i`` whole: ``image`` ``4×D×H×W``, ``target``/``brain`` ``1×D×H×W``."""
        return self.arrays.case_volume(i)


class PatchDataset(Dataset):
    """3-D patches of 4-modality cases (see the module docstring).

    ``patch``: ``(d, h, w)``; volumes smaller than the patch are zero-padded. Training: ``size``
    random patches per epoch whose centre is an enhancing voxel with probability
    ``tumour_fraction``, else a brain voxel. Evaluation: a regular grid of patches covering
    every case (the last patch of each axis aligned to the volume's end).
    """

    def __init__(
        self,
        volumes: Sequence[CaseVolumes],
        *,
        patch: tuple[int, int, int],
        train: bool,
        tumour_fraction: float = 0.5,
        size: int | None = None,
        seed: int = 0,
    ) -> None:
        if len(patch) != 3 or min(patch) < 1:
            raise ValueError(f"patch must be three positive sizes, got {patch}")
        if not 0.0 <= tumour_fraction <= 1.0:
            raise ValueError(f"tumour_fraction must be in [0, 1], got {tumour_fraction}")
        self.arrays = _CaseArrays(volumes)
        self.patch = tuple(int(p) for p in patch)
        self.train = train
        self.tumour_fraction = tumour_fraction
        self.seed = seed
        self.epoch = 0
        self._size = int(size) if size is not None else 4 * len(self.arrays.volumes)
        self._tumour_voxels = [np.argwhere(t) for t in self.arrays.targets]
        self._brain_voxels = [np.argwhere(v.brain) for v in self.arrays.volumes]
        self._grid = [
            (i, origin)
            for i, v in enumerate(self.arrays.volumes)
            for origin in _grid_origins(v.label.shape, self.patch)
        ]

    @classmethod
    def from_cases(cls, cases: Sequence[MRICase], **kwargs: Any) -> PatchDataset:
        return cls(load_volumes(cases), **kwargs)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._size if self.train else len(self._grid)

    def patch_at(self, index: int) -> tuple[int, tuple[int, int, int]]:
        """``(case, origin)`` of item ``index``."""
        if not self.train:
            return self._grid[index]
        if not 0 <= index < self._size:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        case = int(rng.integers(len(self.arrays.volumes)))
        has_tumour = [i for i, t in enumerate(self._tumour_voxels) if len(t)]
        if has_tumour and rng.uniform() < self.tumour_fraction:
            case = has_tumour[int(rng.integers(len(has_tumour)))]
            voxels = self._tumour_voxels[case]
        else:
            voxels = self._brain_voxels[case]
        shape = self.arrays.volumes[case].label.shape
        centre = voxels[int(rng.integers(len(voxels)))] if len(voxels) else np.array(shape) // 2
        origin = tuple(
            int(np.clip(c - p // 2, 0, max(s - p, 0)))
            for c, p, s in zip(centre, self.patch, shape, strict=True)
        )
        return case, origin  # type: ignore[return-value]

    def __getitem__(self, index: int) -> dict[str, Any]:
        case, origin = self.patch_at(index)
        v = self.arrays.volumes[case]
        region = tuple(slice(o, o + p) for o, p in zip(origin, self.patch, strict=True))
        image = _pad(v.image[(slice(None), *region)], self.patch).astype(np.float32, copy=False)
        target = _pad(self.arrays.targets[case][region][None], self.patch)
        brain = _pad(v.brain[region][None], self.patch)
        return {
            "image": torch.from_numpy(image),
            "target": torch.from_numpy(target.astype(np.float32)),
            "brain": torch.from_numpy(brain),
            "case": case,
            "origin": torch.tensor(origin),
        }

    def case_volume(self, i: int) -> dict[str, Any]:
        return self.arrays.case_volume(i)


def _grid_origins(shape: Sequence[int], patch: Sequence[int]) -> list[tuple[int, int, int]]:
    axes = []
    for s, p in zip(shape, patch, strict=True):
        starts = list(range(0, max(s - p, 0) + 1, p))
        if starts[-1] + p < s:
            starts.append(s - p)
        axes.append(starts)
    return [(a, b, c) for a in axes[0] for b in axes[1] for c in axes[2]]


def _pad(array: np.ndarray, patch: Sequence[int]) -> np.ndarray:
    """Zero-pad the last three axes of ``array`` up to ``patch`` (contiguous copy)."""
    missing = [p - s for s, p in zip(array.shape[-3:], patch, strict=True)]
    if not any(missing):
        return np.ascontiguousarray(array)
    width = [(0, 0)] * (array.ndim - 3) + [(0, m) for m in missing]
    return np.pad(array, width)
