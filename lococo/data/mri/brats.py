"""BraTS NIfTI layouts: 2018–2021 and 2023 (one folder per case).

2018–2021::

    <root>/<case>/<case>_{flair,t1,t1ce,t2}.nii.gz   <case>_seg.nii.gz
    labels: 1 necrotic/non-enhancing core, 2 edema, 4 enhancing

2023 (``BraTS-GLI-00000-000`` style)::

    <root>/<case>/<case>-{t2f,t1n,t1c,t2w}.nii.gz    <case>-seg.nii.gz
    labels: 1 necrotic core, 2 edema, 3 enhancing

``.nii`` is accepted as well as ``.nii.gz``. The naming is detected per case; cases without a
segmentation (validation sets) get ``label_path=None``.
"""

from __future__ import annotations

from pathlib import Path

from lococo.data.mri.types import MODALITIES, MRICase, MRIData
from lococo.errors import DataError

#: Per naming scheme: separator, file suffix of each canonical modality, label suffix, labels.
NAMINGS: dict[str, tuple[str, dict[str, str], str, dict[int, int]]] = {
    "2018-2021": (
        "_",
        {"flair": "flair", "t1": "t1", "t1c": "t1ce", "t2": "t2"},
        "seg",
        {0: 0, 1: 1, 2: 2, 4: 3},
    ),
    "2023": (
        "-",
        {"flair": "t2f", "t1": "t1n", "t1c": "t1c", "t2": "t2w"},
        "seg",
        {0: 0, 1: 1, 2: 2, 3: 3},
    ),
}
_EXTENSIONS = (".nii.gz", ".nii")


def load_brats(root: str | Path) -> MRIData:
    """List the cases of a BraTS NIfTI dataset at ``root``; every modality must be present."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "not a directory")
    case_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    cases = [c for c in (_case(d) for d in case_dirs) if c is not None]
    if not cases:
        raise DataError(
            root,
            "no BraTS cases found (expected <case>/<case>_flair.nii.gz ... or "
            "<case>/<case>-t2f.nii.gz ...)",
        )
    namings = sorted({str(c.group) for c in cases})
    return MRIData(format="brats", root=root, cases=cases, extra={"naming": namings})


def _find(folder: Path, stem: str) -> Path | None:
    for ext in _EXTENSIONS:
        path = folder / f"{stem}{ext}"
        if path.is_file():
            return path
    return None


def _case(folder: Path) -> MRICase | None:
    """The case in ``folder``; ``None`` when the folder holds no BraTS volume at all."""
    cid = folder.name
    best: tuple[int, str] | None = None
    for naming, (sep, suffixes, _, _) in NAMINGS.items():
        found = sum(_find(folder, f"{cid}{sep}{s}") is not None for s in suffixes.values())
        if found and (best is None or found > best[0]):
            best = (found, naming)
    if best is None:
        return None
    naming = best[1]
    sep, suffixes, seg, label_map = NAMINGS[naming]
    paths: dict[str, Path] = {}
    for name in MODALITIES:
        path = _find(folder, f"{cid}{sep}{suffixes[name]}")
        if path is None:
            raise DataError(
                folder / f"{cid}{sep}{suffixes[name]}.nii.gz",
                f"case {cid}: missing {name} volume",
            )
        paths[name] = path
    return MRICase(
        case_id=cid,
        modality_paths=paths,
        label_path=_find(folder, f"{cid}{sep}{seg}"),
        label_map=dict(label_map),
        group=naming,
    )
