"""Read MRI volumes (NIfTI through nibabel, MetaImage through SimpleITK) into canonical arrays.

Both file kinds go through one reorientation: the header's voxel → world matrix is turned
into a nibabel RAS affine (SimpleITK's LPS direction, spacing and origin are converted), the
data are reoriented to the closest canonical RAS axes (:func:`nibabel.as_closest_canonical`),
then transposed to ``D×H×W`` = ``[S, A, R]`` (see :mod:`lococo.data.mri.types`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lococo.data.mri.types import MODALITIES, CaseVolumes, MRICase
from lococo.errors import DataError

# LPS (ITK world) -> RAS (NIfTI world): flip the first two world axes.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def read_oriented(path: str | Path, *, case_id: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Read one volume; return ``(data, affine)`` in canonical RAS voxel order ``[R, A, S, ...]``.

    ``data`` keeps the file's dtype (after scaling for NIfTI) and any 4th axis; a corrupt,
    truncated or non-3/4-D file raises one ``DataError`` naming the case and file.
    """
    path = Path(path)
    prefix = f"case {case_id}: " if case_id else ""
    if not path.is_file():
        raise DataError(path, f"{prefix}file not found")
    try:
        if path.suffix.lower() in (".mha", ".mhd"):
            data, affine = _read_metaimage(path)
        else:
            data, affine = _read_nifti(path)
    except DataError:
        raise
    except Exception as err:  # nibabel/SimpleITK/zlib raise many kinds on damaged files
        problem = str(err).strip().splitlines()
        detail = problem[0] if problem else type(err).__name__
        raise DataError(path, f"{prefix}cannot read volume ({detail})") from None
    if data.ndim not in (3, 4):
        raise DataError(path, f"{prefix}expected a 3-D or 4-D volume, found shape {data.shape}")
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise DataError(path, f"{prefix}header has a singular or non-finite orientation matrix")
    return data, affine


def _read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    img = nib.load(str(path))
    if len(img.shape) not in (3, 4):
        return np.asarray(img.dataobj), img.affine
    canon = nib.as_closest_canonical(img)
    data = np.asanyarray(canon.dataobj)  # reads (and decompresses) every byte
    return np.asarray(data), np.asarray(canon.affine, dtype=np.float64)


def metaimage_data_files(path: Path, prefix: str = "") -> list[Path]:
    """The data files a MetaImage header names (``ElementDataFile``; none for ``LOCAL``), each
    checked to stay in the header's folder: a name that is absolute or climbs out with
    ``..`` is refused before SimpleITK opens anything."""
    from lococo.data.images import inside_root

    with open(path, "rb") as handle:
        head = handle.read(1 << 16).split(b"\n")
    for number, raw in enumerate(head, start=1):
        key, sep, value = raw.decode("latin-1").partition("=")
        if not sep or key.strip() != "ElementDataFile":
            continue
        value = value.strip()
        if value.upper() == "LOCAL":
            return []
        if value.upper().startswith("LIST"):
            names = [n.decode("latin-1").strip() for n in head[number:] if n.strip()]
        else:
            names = [value.split()[0]] if "%" in value else [value]
        where = f"{prefix}ElementDataFile"
        return [inside_root(path.parent, n, path, number, where) for n in names]
    return []


def _read_metaimage(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib
    import SimpleITK as sitk

    metaimage_data_files(path)
    img = sitk.ReadImage(str(path))
    if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
        arr = sitk.GetArrayFromImage(img)
        return arr, np.eye(4)
    arr = sitk.GetArrayFromImage(img).transpose(2, 1, 0)  # SimpleITK gives [z, y, x]
    direction = np.asarray(img.GetDirection(), dtype=np.float64).reshape(3, 3)
    spacing = np.asarray(img.GetSpacing(), dtype=np.float64)
    lps = np.eye(4)
    lps[:3, :3] = direction * spacing[None, :]
    lps[:3, 3] = img.GetOrigin()
    affine = _LPS_TO_RAS @ lps
    canon = nib.as_closest_canonical(nib.Nifti1Image(np.ascontiguousarray(arr), affine))
    return np.asarray(canon.dataobj), np.asarray(canon.affine, dtype=np.float64)


def to_dhw(data: np.ndarray) -> np.ndarray:
    """``[R, A, S]`` (or ``[R, A, S, C]``) → ``D×H×W`` (or ``C×D×H×W``), contiguous."""
    if data.ndim == 3:
        return np.ascontiguousarray(data.transpose(2, 1, 0))
    return np.ascontiguousarray(data.transpose(3, 2, 1, 0))


def spacing_of(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel size in millimetres along ``D, H, W`` from a canonical affine."""
    sx, sy, sz = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))
    return (float(sz), float(sy), float(sx))


def remap_labels(
    label: np.ndarray, label_map: dict[int, int], path: Path, case_id: str
) -> np.ndarray:
    """Map a label volume's values onto the unified convention; other values are an error."""
    values = np.unique(label)
    if not np.all(np.equal(np.mod(values, 1), 0)):
        bad = [float(v) for v in values if v % 1][:5]
        raise DataError(path, f"case {case_id}: non-integer label values {bad}")
    unexpected = sorted(int(v) for v in values if int(v) not in label_map)
    if unexpected:
        raise DataError(
            path,
            f"case {case_id}: unexpected label values {unexpected}; "
            f"expected a subset of {sorted(label_map)}",
        )
    lut = np.zeros(max(label_map) + 1, dtype=np.uint8)
    for src, dst in label_map.items():
        lut[src] = dst
    return lut[label.astype(np.int64)]


def read_case(case: MRICase, *, normalise: bool = False) -> CaseVolumes:
    """Read every modality and the label of ``case`` into a :class:`CaseVolumes`.

    Checks that all modalities and the label have one shape and (to 1e-3 mm) one geometry.
    With ``normalise`` the image is z-scored per modality inside the brain
    (:func:`normalise_image`).
    """
    cid = case.case_id
    loaded: dict[Path, tuple[np.ndarray, np.ndarray]] = {}
    channels: list[np.ndarray] = []
    ref_path: Path | None = None
    ref_affine: np.ndarray | None = None
    for name in MODALITIES:
        path = case.modality_paths[name]
        if path not in loaded:
            loaded[path] = read_oriented(path, case_id=cid)
        data, affine = loaded[path]
        if case.channels is not None:
            index = case.channels[name]
            if data.ndim != 4 or data.shape[3] <= index:
                raise DataError(
                    path,
                    f"case {cid}: expected a 4-D volume with channel {index} ({name}), "
                    f"found shape {data.shape}",
                )
            data = data[..., index]
        elif data.ndim != 3:
            raise DataError(path, f"case {cid}: expected a 3-D volume, found shape {data.shape}")
        vol = to_dhw(data).astype(np.float32, copy=False)
        if ref_path is None:
            ref_path, ref_affine = path, affine
        else:
            _check_geometry(vol.shape, affine, channels[0].shape, ref_affine, path, ref_path, cid)
        channels.append(vol)
    assert ref_affine is not None
    image = np.stack(channels)
    if not np.all(np.isfinite(image)):
        raise DataError(ref_path, f"case {cid}: volume holds NaN or infinite intensities")
    brain = brain_mask(image)
    if case.label_path is not None:
        data, affine = read_oriented(case.label_path, case_id=cid)
        if data.ndim != 3:
            raise DataError(
                case.label_path, f"case {cid}: expected a 3-D label volume, found {data.shape}"
            )
        raw = to_dhw(data)
        _check_geometry(
            raw.shape, affine, channels[0].shape, ref_affine, case.label_path, ref_path, cid
        )
        label = remap_labels(raw, case.label_map, case.label_path, cid)
    else:
        label = np.zeros(image.shape[1:], dtype=np.uint8)
    out = CaseVolumes(
        case_id=cid,
        image=image,
        label=label,
        brain=brain,
        spacing=spacing_of(ref_affine),
        affine=ref_affine,
        has_label=case.label_path is not None,
    )
    return normalise_case(out) if normalise else out


def _check_geometry(
    shape: tuple[int, ...],
    affine: np.ndarray,
    ref_shape: tuple[int, ...],
    ref_affine: np.ndarray | None,
    path: Path,
    ref_path: Path,
    case_id: str,
) -> None:
    if tuple(shape) != tuple(ref_shape):
        raise DataError(
            path,
            f"case {case_id}: shape {_dhw(shape)} differs from {ref_path.name}'s {_dhw(ref_shape)}",
        )
    if ref_affine is not None and not np.allclose(affine, ref_affine, atol=1e-3):
        raise DataError(
            path, f"case {case_id}: voxel-to-world geometry differs from {ref_path.name}'s"
        )


def _dhw(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape) + " (D×H×W)"


def brain_mask(image: np.ndarray) -> np.ndarray:
    """Voxels where any modality is non-zero (``C×D×H×W`` → ``bool D×H×W``)."""
    return np.any(image != 0, axis=0)


def normalise_image(
    image: np.ndarray, brain: np.ndarray, *, eps: float = 1e-6, clip: float | None = 5.0
) -> np.ndarray:
    """Z-score every modality inside the brain mask; voxels outside the brain become 0.

    ``image``: ``C×D×H×W``; ``brain``: ``D×H×W``. Mean and standard deviation are computed
    per channel over the brain voxels only; values are optionally clipped to ``±clip``.
    A channel that is constant inside the brain maps to 0 there.
    """
    out = np.zeros(image.shape, dtype=np.float32)
    if not brain.any():
        return out
    for c in range(image.shape[0]):
        values = image[c][brain].astype(np.float64)
        mean, std = values.mean(), values.std()
        z = (values - mean) / max(std, eps)
        if clip is not None:
            z = np.clip(z, -clip, clip)
        out[c][brain] = z.astype(np.float32)
    return out


def normalise_case(case: CaseVolumes) -> CaseVolumes:
    """A copy of ``case`` with :func:`normalise_image` applied (a no-op if already normalised)."""
    if case.normalised:
        return case
    return CaseVolumes(
        case_id=case.case_id,
        image=normalise_image(case.image, case.brain),
        label=case.label,
        brain=case.brain,
        spacing=case.spacing,
        affine=case.affine,
        has_label=case.has_label,
        normalised=True,
    )


def header_geometry(path: str | Path, *, case_id: str = "") -> tuple[tuple[int, ...], np.ndarray]:
    """Shape (canonical ``[R, A, S, ...]`` order) and canonical affine from the header only."""
    import nibabel as nib
    from nibabel import orientations as ornt

    path = Path(path)
    prefix = f"case {case_id}: " if case_id else ""
    if not path.is_file():
        raise DataError(path, f"{prefix}file not found")
    try:
        if path.suffix.lower() in (".mha", ".mhd"):
            import SimpleITK as sitk

            metaimage_data_files(path, prefix)
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(path))
            reader.ReadImageInformation()
            shape = tuple(int(s) for s in reader.GetSize())
            n = len(shape)
            lps = np.eye(4)
            if n == 3:
                direction = np.asarray(reader.GetDirection(), dtype=np.float64).reshape(3, 3)
                lps[:3, :3] = direction * np.asarray(reader.GetSpacing())[None, :]
                lps[:3, 3] = reader.GetOrigin()
            affine = _LPS_TO_RAS @ lps
        else:
            img = nib.load(str(path))
            shape, affine = tuple(int(s) for s in img.shape), np.asarray(img.affine)
    except DataError:
        raise
    except Exception as err:
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(path, f"{prefix}cannot read header ({detail})") from None
    if len(shape) not in (3, 4):
        raise DataError(path, f"{prefix}expected a 3-D or 4-D volume, found shape {shape}")
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise DataError(path, f"{prefix}header has a singular or non-finite orientation matrix")
    transform = ornt.io_orientation(affine)
    canon_shape = [0, 0, 0]
    for src, (dst, _) in enumerate(transform):
        canon_shape[int(dst)] = shape[src]
    canon_affine = affine @ ornt.inv_ornt_aff(transform, shape[:3])
    return tuple(canon_shape) + tuple(shape[3:]), canon_affine


def read_header(case: MRICase) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """``D×H×W`` shape and spacing of ``case`` from its headers, checking all files agree."""
    ref: tuple[tuple[int, ...], np.ndarray, Path] | None = None
    for path in case.files:
        shape, affine = header_geometry(path, case_id=case.case_id)
        is_image = path != case.label_path
        if case.channels is not None and is_image:
            need = max(case.channels.values()) + 1
            if len(shape) != 4 or shape[3] < need:
                raise DataError(
                    path,
                    f"case {case.case_id}: expected a 4-D volume with {need} channels, "
                    f"found shape {shape}",
                )
            shape = shape[:3]
        elif len(shape) != 3:
            raise DataError(path, f"case {case.case_id}: expected a 3-D volume, found {shape}")
        dhw = tuple(shape[::-1])
        if ref is None:
            ref = (dhw, affine, path)
        else:
            _check_geometry(dhw, affine, ref[0], ref[1], path, ref[2], case.case_id)
    assert ref is not None
    d, h, w = ref[0]
    return (int(d), int(h), int(w)), spacing_of(ref[1])
