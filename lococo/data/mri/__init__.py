"""Multi-modal brain MRI (chapter 8's segmentation data): BRATS-2015 (``.mha``), BraTS NIfTI
(2018–2021 and 2023 naming), the Medical Segmentation Decathlon Task01, synthetic brain
phantoms in the BraTS NIfTI layout, and 2-D slice / 3-D patch datasets.

Every reader returns an :class:`MRIData` of :class:`MRICase`; :func:`read_case` turns a case
into canonically oriented arrays with labels in one convention (see
:mod:`lococo.data.mri.types`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lococo.data.mri.types import (
    BACKGROUND,
    EDEMA,
    ENHANCING,
    LABEL_NAMES,
    MODALITIES,
    MODALITY_ALIASES,
    MRI_FORMATS,
    NECROTIC,
    CaseVolumes,
    MRICase,
    MRIData,
    canonical_modality,
    parse_modality,
)
from lococo.data.mri.volumes import brain_mask, normalise_case, normalise_image, read_case
from lococo.errors import LococoError

__all__ = [
    "BACKGROUND",
    "EDEMA",
    "ENHANCING",
    "LABEL_NAMES",
    "MODALITIES",
    "MODALITY_ALIASES",
    "MRI_FORMATS",
    "NECROTIC",
    "CaseVolumes",
    "MRICase",
    "MRIData",
    "brain_mask",
    "canonical_modality",
    "load_mri",
    "normalise_case",
    "normalise_image",
    "parse_modality",
    "read_case",
    "split_cases",
]


def load_mri(root: str | Path, fmt: str) -> MRIData:
    """List the cases of the dataset at ``root`` in format ``fmt`` (one of :data:`MRI_FORMATS`).

    Checks that every case has every modality (named after the format's conventions); the
    volumes themselves are read by :func:`read_case`.
    """
    key = fmt.lower()
    if key == "brats2015":
        from lococo.data.mri.brats2015 import load_brats2015

        return load_brats2015(root)
    if key == "brats":
        from lococo.data.mri.brats import load_brats

        return load_brats(root)
    if key == "decathlon":
        from lococo.data.mri.decathlon import load_decathlon

        return load_decathlon(root)
    raise LococoError(f"unknown MRI format {fmt!r}; expected one of {', '.join(MRI_FORMATS)}")


def split_cases(
    data: MRIData | Sequence[MRICase],
    seed: int,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    names: Sequence[str] = ("train", "val", "test"),
) -> dict[str, list[MRICase]]:
    """Split cases (never slices) into named parts by a seeded permutation.

    Part sizes are ``round(fraction · n)`` with the remainder going to the first part; every
    part with a positive fraction gets at least one case when there are enough cases. The same
    ``seed`` and case list always give the same split, whatever order the cases came in.
    """
    cases = sorted(data.cases if isinstance(data, MRIData) else data, key=lambda c: c.case_id)
    if len(fractions) != len(names):
        raise LococoError(f"split: {len(fractions)} fractions for {len(names)} names")
    if any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise LococoError(f"split fractions must be non-negative with a positive sum: {fractions}")
    total = float(sum(fractions))
    n = len(cases)
    sizes = [round(f / total * n) for f in fractions]
    for i, f in enumerate(fractions):
        if f > 0 and sizes[i] == 0 and n >= sum(1 for x in fractions if x > 0):
            sizes[i] = 1
    while sum(sizes) > n:
        j = int(np.argmax(sizes))
        sizes[j] -= 1
    sizes[0] += n - sum(sizes)
    order = np.random.default_rng(seed).permutation(n)
    out: dict[str, list[MRICase]] = {}
    start = 0
    for name, size in zip(names, sizes, strict=True):
        out[name] = [cases[i] for i in sorted(order[start : start + size])]
        start += size
    return out
