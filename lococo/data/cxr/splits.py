"""Patient-level splits (a patient's images never cross splits) and class rebalancing.

:func:`patient_splits` shuffles the distinct patient ids with a seeded generator and cuts the
shuffled list by ``fractions``; every image follows its patient. The result is a plain
``{split: [patient ids]}`` mapping that a run writes next to its config
(:func:`write_splits`) and reads back to evaluate the same images.

Rebalancing by sampling (the thesis re-balanced Open-I's heavy class imbalance):
:func:`balanced_weights` gives each image the mean of ``1 / count(label)`` over its positive
labels, so every label is drawn about equally often by a
``torch.utils.data.WeightedRandomSampler`` (:func:`balanced_sampler`), with replacement.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lococo.errors import DataError, LococoError

SPLITS = ("train", "val", "test")


def patient_splits(
    patient_ids: Sequence[str],
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
    names: Sequence[str] = SPLITS,
) -> dict[str, list[str]]:
    """Disjoint lists of patient ids, one per split name, from a seeded shuffle.

    Each split gets ``round(fraction · n_patients)`` patients (the last one takes the rest);
    a split with a positive fraction gets at least one patient when there are enough.
    """
    if len(fractions) != len(names):
        raise LococoError(f"{len(names)} split names need {len(names)} fractions")
    if any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise LococoError(f"split fractions must be non-negative with a positive sum: {fractions}")
    patients = sorted(set(patient_ids))
    if not patients:
        raise LococoError("no patients to split")
    order = np.random.default_rng(seed).permutation(len(patients))
    total = float(sum(fractions))
    n = len(patients)
    sizes = [round(f / total * n) for f in fractions]
    for i, f in enumerate(fractions):
        if f > 0 and sizes[i] == 0 and n >= sum(1 for x in fractions if x > 0):
            sizes[i] = 1
    while sum(sizes) > n:
        sizes[int(np.argmax(sizes))] -= 1
    sizes[-1] = n - sum(sizes[:-1])
    out, start = {}, 0
    for name, size in zip(names, sizes, strict=True):
        out[name] = [patients[j] for j in order[start : start + size]]
        start += size
    return out


def split_indices(
    patients_of_items: Sequence[str], splits: dict[str, list[str]]
) -> dict[str, list[int]]:
    """Item indices per split, from each item's patient id (items of unknown patients: none)."""
    where = {p: name for name, ps in splits.items() for p in ps}
    out: dict[str, list[int]] = {name: [] for name in splits}
    for i, p in enumerate(patients_of_items):
        if p in where:
            out[where[p]].append(i)
    return out


def write_splits(path: str | Path, splits: dict[str, list[str]], seed: int) -> None:
    from lococo.io import write_json

    write_json(path, {"seed": seed, "unit": "patient", "splits": splits})


def read_splits(path: str | Path) -> dict[str, list[str]]:
    from lococo.io import read_json

    try:
        data = read_json(path)
        splits = data["splits"]
        if not all(isinstance(v, list) for v in splits.values()):
            raise TypeError("split values must be lists")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(path, f"not a splits file ({err})") from None
    return {str(k): [str(p) for p in v] for k, v in splits.items()}


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-item sampling weight ``mean over positive labels of 1 / count(label)``.

    ``labels`` is ``N×K`` 0/1; items without any positive label get the smallest weight of the
    labelled items (they stay in, rarely). Weights sum to 1.
    """
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2 or len(y) == 0:
        raise ValueError(f"labels must be a non-empty N×K array, got shape {y.shape}")
    counts = y.sum(axis=0)
    inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0), 0.0)
    positives = y.sum(axis=1)
    w = (y @ inv) / np.maximum(positives, 1.0)
    if (positives > 0).any():
        w[positives == 0] = w[positives > 0].min()
    else:
        w[:] = 1.0
    return w / w.sum()


def balanced_sampler(labels: np.ndarray, num_samples: int | None = None, seed: int = 0):
    """A seeded ``WeightedRandomSampler`` over :func:`balanced_weights` (with replacement)
    whose draws depend only on ``(seed, epoch)``: Lightning calls its ``set_epoch`` at every
    epoch, so a resumed run draws what the uninterrupted one drew."""
    import torch
    from torch.utils.data import WeightedRandomSampler

    class EpochSeededSampler(WeightedRandomSampler):
        def set_epoch(self, epoch: int) -> None:
            state = np.random.SeedSequence((seed, epoch)).generate_state(2, np.uint64)
            self.generator.manual_seed(int(state[0] >> np.uint64(1)))

    w = balanced_weights(labels)
    sampler = EpochSeededSampler(
        torch.as_tensor(w, dtype=torch.double),
        num_samples or len(w),
        replacement=True,
        generator=torch.Generator(),
    )
    sampler.set_epoch(0)
    return sampler
