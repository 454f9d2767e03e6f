"""Synthetic brain-tumour phantoms in the BraTS NIfTI 2018–2021 layout.

Each case is a skull-stripped head: an irregular brain with a grey-matter cortex of varying
thickness, white matter, deep grey nuclei, cerebrospinal fluid (outer layer, midline fissure,
two ventricles) and a few small enhancing vessels; one or two tumours, each with a necrotic
core, an irregular (sometimes incomplete) enhancing rim and edema spreading through the white
matter. Some cases carry a tumour without enhancement (an empty target, as in real data).

The four sequences see the tissues differently (relative intensities, jittered per case):

============  =====  =====  =====  ========  =========  =====  ======
sequence      CSF    GM     WM     necrosis  enhancing  edema  vessel
============  =====  =====  =====  ========  =========  =====  ======
FLAIR         0.12   0.62   0.50   0.45      0.97       1.10   0.55
T1            0.25   0.55   0.75   0.42      0.49       0.47   0.62
T1c           0.25   0.55   0.75   0.38      1.45       0.50   1.35
T2            1.25   0.75   0.52   1.15      0.90       1.00   0.70
============  =====  =====  =====  ========  =========  =====  ======

So T1c shows the enhancing rim strongly (but also bright vessels), FLAIR and T2 show the edema
brightly and the rim only as a faint dip inside it, and T1 carries little (the rim is a
shade brighter than edema). After partial-volume blur, a smooth multiplicative bias field per
sequence and Rician noise the rim remains findable in FLAIR/T1 only from weak cues and context —
the setting in which cross-modal training can help.

The arrays are built in the canonical ``[S, A, R]`` order, then written in a per-case storage
orientation (LPS, RAS, ... also axis-permuted) with a non-isotropic spacing and a random origin,
so a reader must use the header to get them back. Intensities are stored as int16, labels as
uint8 with the 2018–2021 values (1 core, 2 edema, 4 enhancing)::

    <out>/<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz      <out>/synth_mri.json
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from lococo.data.mri.types import BACKGROUND, EDEMA, ENHANCING, MODALITIES, NECROTIC
from lococo.errors import LococoError
from lococo.io import write_json

# Tissue indices of the phantom (more than the label classes: the labels merge healthy tissue).
CSF, GM, WM, NECROSIS, RIM, OEDEMA, VESSEL = range(7)
TISSUE_LABEL = np.array(
    [BACKGROUND, BACKGROUND, BACKGROUND, NECROTIC, ENHANCING, EDEMA, BACKGROUND]
)
#: Mean intensity of each tissue (columns CSF, GM, WM, necrosis, rim, edema, vessel) per sequence.
CONTRAST: dict[str, tuple[float, ...]] = {
    "flair": (0.12, 0.62, 0.50, 0.45, 0.97, 1.10, 0.55),
    "t1": (0.25, 0.55, 0.75, 0.42, 0.49, 0.47, 0.62),
    "t1c": (0.25, 0.55, 0.75, 0.38, 1.45, 0.50, 1.35),
    "t2": (1.25, 0.75, 0.52, 1.15, 0.90, 1.00, 0.70),
}
FILE_SUFFIX = {"flair": "flair", "t1": "t1", "t1c": "t1ce", "t2": "t2"}
#: Unified label -> BraTS 2018–2021 file value.
FILE_LABEL = np.array([0, 1, 2, 4], dtype=np.uint8)
#: Storage orientations (nibabel axis codes of the written array), drawn per case.
ORIENTATIONS: tuple[str, ...] = ("LPS", "RAS", "LAS", "RPI", "PRS", "ALS")
INTENSITY_SCALE = 1000.0
MIN_SIZE, MAX_SIZE = 24, 256


class SynthArgumentError(LococoError, ValueError):
    """A synthetic-data option is invalid (also a ``ValueError``)."""


@dataclass
class Phantom:
    """One generated case, canonically oriented (``[S, A, R]``, as :func:`read_case` returns).

    ``image``: float32 ``4×D×H×W`` holding the stored int16 values; ``label``: uint8 ``D×H×W``
    in the unified convention; ``affine``: canonical voxel → RAS mm; ``orientation``: the axis
    codes the files are written in; ``spacing``: mm along ``D, H, W``.
    """

    case_id: str
    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray
    orientation: str
    spacing: tuple[float, float, float]


@dataclass(frozen=True)
class SynthMRIInfo:
    root: Path
    case_ids: list[str]
    seed: int
    size: int
    shape: tuple[int, int, int]
    seconds: float

    @property
    def cases_per_second(self) -> float:
        return len(self.case_ids) / max(self.seconds, 1e-9)


def phantom_shape(size: int) -> tuple[int, int, int]:
    """``D×H×W`` of a phantom of in-plane side ``size``: ``(round(0.75·size), size, size)``."""
    return (max(8, round(0.75 * size)), size, size)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], cells: int) -> np.ndarray:
    """Smooth random field (unit-ish amplitude, about ``cells`` bumps per axis): a coarse
    Gaussian grid upsampled by separable cubic interpolation."""
    coarse = rng.standard_normal(tuple(max(2, min(cells, s)) + 2 for s in shape))
    field = coarse
    for axis, (n, c) in enumerate(zip(shape, coarse.shape, strict=True)):
        field = np.moveaxis(np.tensordot(_upsampler(c, n), field, axes=(1, axis)), 0, axis)
    return field.astype(np.float32)


@functools.lru_cache(maxsize=64)
def _upsampler(coarse: int, n: int) -> np.ndarray:
    """``n×coarse`` matrix interpolating a coarse 1-D signal (margins dropped) to ``n`` points."""
    eye = np.eye(coarse)
    zoomed = ndimage.zoom(eye, ((n + 2) / coarse, 1), order=3, mode="nearest")
    return zoomed[1 : n + 1]


def _grid(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> list[np.ndarray]:
    """Physical coordinates (mm, centred) along D, H, W, broadcastable."""
    axes = []
    for i, (n, s) in enumerate(zip(shape, spacing, strict=True)):
        v = (np.arange(n, dtype=np.float32) - (n - 1) / 2) * s
        axes.append(v.reshape([-1 if j == i else 1 for j in range(3)]))
    return axes


def make_phantom(
    seed: int, index: int, size: int, case_id: str | None = None, *, tumour_scale: float = 1.0
) -> Phantom:
    """Generate case ``index`` of dataset ``seed`` (deterministic in both).

    ``tumour_scale`` multiplies every tumour's radius (default 1: radii of 9–22 mm, about
    1.5–4 voxels at ``size`` 32); the random draws do not depend on it.
    """
    rng = np.random.default_rng([seed, index, 11])
    shape = phantom_shape(size)
    d = shape[0]
    # In-plane spacing fills the field of view with a ~150×180×140 mm brain; depth coarser.
    s_w = 190.0 / size * rng.uniform(0.95, 1.1)
    s_h = 205.0 / size * rng.uniform(0.95, 1.1)
    s_d = 170.0 / d * rng.uniform(0.95, 1.1)
    spacing = (float(s_d), float(s_h), float(s_w))
    z, y, x = _grid(shape, spacing)
    # Brain: a rotated, bumpy ellipsoid.
    angle = rng.uniform(-0.2, 0.2)
    cz, cy, cx = rng.uniform(-4, 4, size=3)
    xr = np.cos(angle) * (x - cx) - np.sin(angle) * (y - cy)
    yr = np.sin(angle) * (x - cx) + np.cos(angle) * (y - cy)
    zr = z - cz
    ax, ay, az = (
        72 * rng.uniform(0.88, 1.05),
        86 * rng.uniform(0.9, 1.05),
        64 * rng.uniform(0.88, 1.05),
    )
    rho = np.sqrt((xr / ax) ** 2 + (yr / ay) ** 2 + (zr / az) ** 2)
    rho = rho + 0.05 * _smooth_noise(rng, shape, 4)
    brain = rho < 1.0
    tissue = np.full(shape, WM, dtype=np.int8)
    gyri = 0.05 * _smooth_noise(rng, shape, 10)
    tissue[rho > 0.80 + gyri] = GM
    tissue[(rho > 0.955 + 0.3 * gyri) | ((np.abs(xr) < 1.6) & (rho > 0.55) & (yr > -ay * 0.9))] = (
        CSF
    )
    # Deep grey nuclei and ventricles, mirrored about the midline.
    side = rng.uniform(0.85, 1.15)
    for sgn in (-1.0, 1.0):
        nuc = ((np.abs(xr) - 16) / 9) ** 2 + ((yr + 4) / 13) ** 2 + ((zr + 2) / 10) ** 2
        tissue[nuc < 1.0] = GM
        vent = (
            ((sgn * xr - 7 * side) / (5 * side)) ** 2
            + ((yr - 6) / (24 * side)) ** 2
            + ((zr - 10) / (9 * side)) ** 2
        )
        tissue[vent < 1.0] = CSF
    # Vessels: a few short bright tubes near the ventricles and surface (T1c enhances them).
    for _ in range(rng.integers(2, 5)):
        p = rng.uniform(-0.5, 0.5, size=3) * np.array([az, ay, ax])
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        length, radius = rng.uniform(10, 25), rng.uniform(1.0, 2.0)
        rel = [z - p[0], y - p[1], x - p[2]]
        along = rel[0] * direction[0] + rel[1] * direction[1] + rel[2] * direction[2]
        perp2 = rel[0] ** 2 + rel[1] ** 2 + rel[2] ** 2 - along**2
        tissue[(perp2 < radius**2) & (np.abs(along) < length / 2) & brain] = VESSEL
    # Tumours.
    enhancing_case = rng.uniform() > 0.1
    for t in range(1 if rng.uniform() < 0.7 else 2):
        _add_tumour(
            tissue, brain, (z, y, x), (az, ay, ax), rng, shape, enhancing_case, t, tumour_scale
        )
    tissue[~brain] = CSF  # placeholder; zeroed below
    label = TISSUE_LABEL[tissue].astype(np.uint8)
    label[~brain] = BACKGROUND
    image = _render(tissue, brain, rng, shape)
    # Canonical affine (voxel [R, A, S] order, as nibabel holds it) with a random origin.
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    affine[:3, 3] = rng.uniform(-110, -80, size=3)
    orientation = ORIENTATIONS[int(rng.integers(len(ORIENTATIONS)))]
    return Phantom(
        case_id=case_id or f"SynthBrain_{index + 1:03d}",
        image=image,
        label=label,
        affine=affine,
        orientation=orientation,
        spacing=spacing,
    )


def _add_tumour(
    tissue: np.ndarray,
    brain: np.ndarray,
    coords: tuple[np.ndarray, np.ndarray, np.ndarray],
    axes: tuple[float, float, float],
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    enhancing: bool,
    which: int,
    scale: float = 1.0,
) -> None:
    z, y, x = coords
    radius = rng.uniform(9, 22) * (0.75 if which else 1.0) * scale
    # Centre somewhere inside the white matter (ρ < 0.65).
    for _ in range(100):
        c = rng.uniform(-0.65, 0.65, size=3) * np.array(axes)
        if np.sum((c / np.array(axes)) ** 2) < 0.65**2:
            break
    dist = np.sqrt((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) / radius
    dist = dist * (1.0 + 0.22 * _smooth_noise(rng, shape, 6))
    core = rng.uniform(0.25, 0.6) if rng.uniform() < 0.85 else 0.0
    rim_noise = _smooth_noise(rng, shape, 8)
    inner = core + 0.08 * rim_noise
    reach = rng.uniform(1.4, 2.1)
    edema = (dist < reach) & brain & ((tissue == WM) | (dist < 1.15))
    tissue[edema] = OEDEMA
    solid = (dist < 1.0) & brain
    if enhancing:
        tissue[solid] = RIM
        gaps = rim_noise > rng.uniform(0.6, 1.6)  # incomplete rim: patches of non-enhancing core
        tissue[solid & gaps] = NECROSIS
    else:
        tissue[solid] = NECROSIS
    tissue[(dist < inner) & brain] = NECROSIS


def _render(
    tissue: np.ndarray, brain: np.ndarray, rng: np.random.Generator, shape: tuple[int, int, int]
) -> np.ndarray:
    """Four sequences as float32 holding int16 values; zero outside the brain."""
    channels = []
    texture = 0.03 * _smooth_noise(rng, shape, 12)
    for name in MODALITIES:
        means = np.asarray(CONTRAST[name], dtype=np.float32)
        # Scanner variation: a per-case scale of every tissue plus a small per-tissue jitter
        # (small enough that the faint rim-versus-edema differences keep their sign).
        means = means * rng.uniform(0.98, 1.02, size=means.shape).astype(np.float32)
        vol = means[tissue] * (1.0 + texture)
        vol = ndimage.gaussian_filter(vol, sigma=0.6)
        vol = vol * np.exp(0.15 * _smooth_noise(rng, shape, 3))
        sigma = rng.uniform(0.03, 0.05)
        real = vol + sigma * rng.standard_normal(shape, dtype=np.float32)
        imag = sigma * rng.standard_normal(shape, dtype=np.float32)
        vol = np.sqrt(real**2 + imag**2) * INTENSITY_SCALE * rng.uniform(0.8, 1.25)
        vol = np.clip(np.rint(vol), 1, 32000)
        vol[~brain] = 0
        channels.append(vol.astype(np.float32))
    return np.stack(channels)


def write_phantom(phantom: Phantom, folder: Path) -> None:
    """Write one case as ``<case>_{flair,t1,t1ce,t2,seg}.nii.gz`` in its storage orientation."""
    import nibabel as nib
    from nibabel import orientations as ornt

    folder.mkdir(parents=True, exist_ok=True)
    ras_shape = phantom.label.shape[::-1]
    transform = ornt.ornt_transform(
        ornt.axcodes2ornt(("R", "A", "S")), ornt.axcodes2ornt(tuple(phantom.orientation))
    )
    affine = phantom.affine @ ornt.inv_ornt_aff(transform, ras_shape)

    def save(array_dhw: np.ndarray, dtype: Any, suffix: str) -> None:
        stored = ornt.apply_orientation(array_dhw.transpose(2, 1, 0), transform)
        img = nib.Nifti1Image(np.ascontiguousarray(stored).astype(dtype), affine)
        img.header.set_xyzt_units("mm", "sec")
        img.set_qform(affine, code=1)
        img.set_sform(affine, code=1)
        nib.save(img, str(folder / f"{phantom.case_id}_{suffix}.nii.gz"))

    for c, name in enumerate(MODALITIES):
        save(phantom.image[c], np.int16, FILE_SUFFIX[name])
    save(FILE_LABEL[phantom.label], np.uint8, "seg")


def synth_mri(
    out: str | Path,
    *,
    seed: int = 0,
    cases: int = 30,
    size: int = 64,
    tumour_scale: float = 1.0,
    progress: bool = True,
    overwrite: bool = False,
) -> SynthMRIInfo:
    """Write ``cases`` brain phantoms of in-plane side ``size`` in the BraTS NIfTI layout.

    Same arguments ⇒ identical volumes. Everything is written under ``out/.tmp-synth-mri-*`` and
    moved into place at the end; a non-empty ``out`` is refused unless ``overwrite``.
    ``tumour_scale`` enlarges (or shrinks) every tumour (see :func:`make_phantom`).
    """
    _check_args(seed, cases, size, tumour_scale)
    out = Path(out)
    _check_out(out, overwrite)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".tmp-synth-mri-{os.getpid()}-{time.time_ns()}"
    ids: list[str] = []
    try:
        bar = _progress(cases, progress)
        for i in range(cases):
            ph = make_phantom(seed, i, size, tumour_scale=tumour_scale)
            write_phantom(ph, tmp / ph.case_id)
            ids.append(ph.case_id)
            bar.update(1)
        bar.close()
        write_json(
            tmp / "synth_mri.json",
            dict(
                seed=seed,
                cases=cases,
                size=size,
                tumour_scale=tumour_scale,
                shape=list(phantom_shape(size)),
                layout="brats",
            ),
        )
        _move_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return SynthMRIInfo(
        root=out,
        case_ids=ids,
        seed=seed,
        size=size,
        shape=phantom_shape(size),
        seconds=time.perf_counter() - start,
    )


def _check_args(seed: int, cases: int, size: int, tumour_scale: float = 1.0) -> None:
    checks = [
        (isinstance(seed, int) and seed >= 0, f"seed must be a non-negative integer, got {seed}"),
        (isinstance(cases, int) and cases >= 1, f"cases must be at least 1, got {cases}"),
        (
            isinstance(size, int) and MIN_SIZE <= size <= MAX_SIZE,
            f"size must be in {MIN_SIZE}..{MAX_SIZE}, got {size}",
        ),
        (0.5 <= tumour_scale <= 2.5, f"tumour_scale must be in 0.5..2.5, got {tumour_scale}"),
    ]
    for ok, message in checks:
        if not ok:
            raise SynthArgumentError(message)


def _is_ours(name: str) -> bool:
    return name == "synth_mri.json" or name.startswith("SynthBrain_")


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SynthArgumentError(f"{out}: exists and is not a directory")
    if not out.exists() or overwrite:
        return
    entries = [p.name for p in out.iterdir() if not p.name.startswith(".tmp-synth-mri-")]
    if entries:
        raise SynthArgumentError(
            f"{out}: directory is not empty ({', '.join(sorted(entries)[:5])}); "
            "pass overwrite=True (--overwrite) to replace it"
        )


def _move_into_place(tmp: Path, out: Path) -> None:
    """Swap the finished tree in: earlier phantoms go to a trash folder first, then are deleted."""
    trash = tmp.with_name(tmp.name + "-old")
    for p in list(out.iterdir()):
        if _is_ours(p.name):
            trash.mkdir(exist_ok=True)
            os.replace(p, trash / p.name)
    for p in sorted(tmp.iterdir()):
        os.replace(p, out / p.name)
    shutil.rmtree(trash, ignore_errors=True)


def _progress(total: int, enabled: bool) -> Any:
    if enabled and total > 1:
        from tqdm import tqdm

        return tqdm(total=total, desc="synth mri", unit="case", file=sys.stderr)
    return _NoBar()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
