"""BRATS-2015 (MetaImage ``.mha`` volumes, read through SimpleITK).

Layout::

    <root>/{HGG,LGG}/<patient>/VSD.Brain.XX.O.MR_{Flair,T1,T1c,T2}.<id>/VSD.Brain.XX.O.MR_*.<id>.mha
                               VSD.Brain_3more.XX.O.OT.<id>/VSD.Brain_3more.XX.O.OT.<id>.mha

Labels: 0 healthy, 1 necrosis, 2 edema, 3 non-enhancing tumour, 4 enhancing tumour; mapped to
the unified convention with necrosis and non-enhancing tumour both becoming the core (1).
Test-set patients (no ``OT`` folder) get ``label_path=None``. ``root`` may also be a single
``HGG`` or ``LGG`` folder, or a folder of patients.
"""

from __future__ import annotations

import re
from pathlib import Path

from lococo.data.mri.types import MODALITIES, MRICase, MRIData
from lococo.errors import DataError

LABEL_MAP: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 1, 4: 3}
_MODALITY_TAGS = {"flair": "MR_Flair", "t1": "MR_T1", "t1c": "MR_T1c", "t2": "MR_T2"}
_MODALITY_DIR = re.compile(r"^VSD\.Brain\.XX\.O\.(MR_(?:Flair|T1c|T1|T2))\.\d+$")
_LABEL_DIR = re.compile(r"^VSD\.Brain_\d+more\.XX\.O\.OT\.\d+$")
_GROUPS = ("HGG", "LGG")


def load_brats2015(root: str | Path) -> MRIData:
    """List the patients of a BRATS-2015 tree at ``root``; every modality must be present."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "not a directory")
    groups = [root / g for g in _GROUPS if (root / g).is_dir()]
    if groups:
        patients = [(g.name, p) for g in groups for p in sorted(g.iterdir()) if p.is_dir()]
    else:
        group = root.name if root.name in _GROUPS else None
        patients = [(group, p) for p in sorted(root.iterdir()) if p.is_dir()]
    cases = [c for c in (_case(p, g) for g, p in patients) if c is not None]
    if not cases:
        raise DataError(
            root, "no BRATS-2015 patients found (expected HGG|LGG/<patient>/VSD.Brain.XX.O.MR_*)"
        )
    seen: dict[str, Path] = {}
    for case in cases:
        folder = case.modality_paths["flair"].parent.parent
        if case.case_id in seen:
            raise DataError(
                folder, f"case {case.case_id}: patient name also used in {seen[case.case_id]}"
            )
        seen[case.case_id] = folder
    return MRIData(format="brats2015", root=root, cases=sorted(cases, key=lambda c: c.case_id))


def _case(folder: Path, group: str | None) -> MRICase | None:
    """The patient in ``folder``; ``None`` when it holds no ``VSD.Brain`` folder at all."""
    cid = folder.name
    found: dict[str, Path] = {}
    label: Path | None = None
    for sub in sorted(folder.iterdir()):
        if not sub.is_dir():
            continue
        match = _MODALITY_DIR.match(sub.name)
        if match:
            tag = match.group(1)
            if tag in found:
                raise DataError(sub, f"case {cid}: two {tag} folders")
            found[tag] = _volume_in(sub, cid)
        elif _LABEL_DIR.match(sub.name):
            if label is not None:
                raise DataError(sub, f"case {cid}: two label (OT) folders")
            label = _volume_in(sub, cid)
    if not found and label is None:
        return None
    paths: dict[str, Path] = {}
    for name in MODALITIES:
        tag = _MODALITY_TAGS[name]
        if tag not in found:
            raise DataError(
                folder / f"VSD.Brain.XX.O.{tag}.<id>", f"case {cid}: missing {name} volume"
            )
        paths[name] = found[tag]
    return MRICase(
        case_id=cid, modality_paths=paths, label_path=label, label_map=dict(LABEL_MAP), group=group
    )


def _volume_in(folder: Path, cid: str) -> Path:
    """The single ``.mha`` (or ``.mhd``) file inside a BRATS-2015 volume folder."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mha", ".mhd"))
    if not files:
        raise DataError(folder, f"case {cid}: no .mha volume in this folder")
    preferred = [p for p in files if p.stem == folder.name]
    if preferred:
        return preferred[0]
    if len(files) > 1:
        raise DataError(folder, f"case {cid}: several .mha volumes in this folder")
    return files[0]
