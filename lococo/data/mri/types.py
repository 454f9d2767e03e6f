"""The in-memory description of a multi-modal brain MRI dataset, shared by every MRI reader.

Conventions used everywhere in :mod:`lococo.data.mri`:

* **Modalities** are always in :data:`MODALITIES` order: FLAIR, T1, T1 with contrast (T1c,
  called ``t1ce`` in BraTS 2018–2021, ``t1gd`` in the Decathlon, ``t1c`` in BraTS 2023), T2.
* **Labels** use one convention whatever the format (:data:`LABEL_NAMES`):
  ``0`` background / healthy tissue, ``1`` necrotic or non-enhancing tumour core, ``2`` edema,
  ``3`` enhancing tumour. The segmentation target of chapter 8 is enhancing tumour versus the
  rest (``label == ENHANCING``).
* **Arrays** are ``D×H×W`` (one modality) or ``4×D×H×W`` (all) in the canonical orientation of
  the headers: the volume is reoriented to the closest RAS axes (index increasing towards the
  patient's Right, Anterior, Superior), then indexed ``[S, A, R]``. So ``D`` runs inferior →
  superior and an axial slice is ``volume[..., k, :, :]``; ``H`` runs posterior → anterior and
  ``W`` left → right (patient). ``spacing`` is in millimetres in the same ``D, H, W`` order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lococo.errors import LococoError

#: Canonical modality order of every ``4×D×H×W`` image.
MODALITIES: tuple[str, ...] = ("flair", "t1", "t1c", "t2")

#: Names used for the sequences by BraTS 2015–2023, the Decathlon and nnU-Net, lower-cased →
#: the canonical name in :data:`MODALITIES`.
MODALITY_ALIASES: dict[str, str] = {
    "flair": "flair",
    "t2f": "flair",
    "t2-flair": "flair",
    "t2_flair": "flair",
    "t1": "t1",
    "t1w": "t1",
    "t1n": "t1",
    "t1c": "t1c",
    "t1ce": "t1c",
    "t1gd": "t1c",
    "t1-gd": "t1c",
    "t1post": "t1c",
    "t2": "t2",
    "t2w": "t2",
}


def canonical_modality(name: str) -> str | None:
    """The :data:`MODALITIES` name of ``name`` (any case, any alias above), or ``None``."""
    return MODALITY_ALIASES.get(str(name).strip().lower())


def parse_modality(name: str, *, option: str = "modality") -> str:
    """Like :func:`canonical_modality` but an unknown name is a one-line ``LococoError``."""
    found = canonical_modality(name)
    if found is None:
        raise LococoError(
            f"{option}: unknown MRI modality {name!r}; expected one of {', '.join(MODALITIES)} "
            f"(or an alias: {', '.join(a for a in MODALITY_ALIASES if a not in MODALITIES)})"
        )
    return found


BACKGROUND = 0
NECROTIC = 1  # necrotic or non-enhancing tumour core
EDEMA = 2
ENHANCING = 3
LABEL_NAMES: dict[int, str] = {
    BACKGROUND: "background",
    NECROTIC: "necrotic/non-enhancing core",
    EDEMA: "edema",
    ENHANCING: "enhancing tumour",
}

#: Dataset formats read by :func:`lococo.data.mri.load_mri`.
MRI_FORMATS: tuple[str, ...] = ("brats2015", "brats", "decathlon")


@dataclass(frozen=True)
class MRICase:
    """Where one case's volumes live and how to read them.

    ``modality_paths`` maps every name of :data:`MODALITIES` to a file. For 4-D files (the
    Decathlon) several modalities share one path and ``channels`` gives each one's index along
    the fourth axis. ``label_map`` maps the file's label values onto the unified convention;
    any other value in the label volume is an error. ``label_path`` is ``None`` for cases
    without ground truth (e.g. challenge validation sets).
    """

    case_id: str
    modality_paths: dict[str, Path]
    label_path: Path | None
    label_map: dict[int, int]
    channels: dict[str, int] | None = None
    group: str | None = None  # e.g. "HGG" / "LGG" in BRATS-2015

    @property
    def files(self) -> list[Path]:
        """Every distinct file of the case (modalities first, then the label)."""
        out: list[Path] = []
        for name in MODALITIES:
            path = self.modality_paths[name]
            if path not in out:
                out.append(path)
        if self.label_path is not None:
            out.append(self.label_path)
        return out


@dataclass
class MRIData:
    """A dataset: its format, root folder and cases (sorted by ``case_id``)."""

    format: str
    root: Path
    cases: list[MRICase]
    extra: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cases)

    def case(self, case_id: str) -> MRICase:
        for c in self.cases:
            if c.case_id == case_id:
                return c
        raise KeyError(case_id)


@dataclass
class CaseVolumes:
    """One case read into memory, canonically oriented (see the module docstring).

    ``image``: ``float32 4×D×H×W`` in :data:`MODALITIES` order (raw intensities, or normalised
    when ``normalised``). ``label``: ``uint8 D×H×W`` in the unified convention (all zeros when
    the case has no ground truth, with ``has_label`` False). ``brain``: ``bool D×H×W`` (voxels
    where any modality is non-zero: BraTS volumes are skull-stripped with a zero background).
    ``affine``: the canonical voxel → RAS millimetre matrix (axes in ``W, H, D`` order, as
    nibabel writes it). ``spacing``: millimetres along ``D, H, W``.
    """

    case_id: str
    image: np.ndarray
    label: np.ndarray
    brain: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    has_label: bool = True
    normalised: bool = False

    @property
    def shape(self) -> tuple[int, int, int]:
        d, h, w = self.label.shape
        return (int(d), int(h), int(w))

    @property
    def target(self) -> np.ndarray:
        """The binary enhancing-tumour mask (``bool D×H×W``)."""
        return self.label == ENHANCING
