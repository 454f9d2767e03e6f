"""Open-I / Indiana University chest X-rays: NLMCXR XML reports and PNG images.

Layout of a dataset root::

    ROOT/ecgen-radiology/*.xml    one report per file (the public NLMCXR_reports release)
    ROOT/images/<id>.png          one PNG per ``parentImage id`` (NLMCXR_png); the folder may
                                  also be given explicitly, or the PNGs may lie in ROOT itself

A report file is an ``eCitation`` element holding (every part may be missing):

* ``uId id="CXR123"`` — the report id (else the file name's stem). The public release has no
  patient identifier; a report is one patient's study, so ``patient_id`` is the report id.
* ``MedlineCitation/Article/Abstract/AbstractText`` with ``Label`` ``COMPARISON``,
  ``INDICATION``, ``FINDINGS``, ``IMPRESSION`` (missing sections are common; repeated labels
  are joined; text keeps the ``XXXX`` anonymisation tokens, whitespace is normalised).
* ``MeSH/major`` and ``MeSH/automatic`` terms, ``Heading/qualifier/…`` (``MeSH`` may be empty).
* one ``parentImage id="CXR123_1_IM-0001-3001"`` per image (some reports have none).

Files are parsed with ``defusedxml``: entity declarations and external references are refused,
so a hostile file cannot expand entities or read other files. A malformed file is a
:class:`DataError` naming it (and the line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lococo.data.cxr.labels import LABELS, label_vector
from lococo.data.images import inside_root
from lococo.errors import DataError

REPORT_DIR = "ecgen-radiology"
IMAGE_DIR = "images"
SECTIONS = ("COMPARISON", "INDICATION", "FINDINGS", "IMPRESSION")
TEXT_SECTIONS = ("FINDINGS", "IMPRESSION")


@dataclass(frozen=True)
class Report:
    """One NLMCXR report."""

    id: str
    path: Path
    sections: dict[str, str]
    mesh_major: tuple[str, ...]
    mesh_automatic: tuple[str, ...]
    image_ids: tuple[str, ...]

    @property
    def patient_id(self) -> str:
        return self.id

    @property
    def mesh_terms(self) -> tuple[str, ...]:
        """``major`` then ``automatic`` terms (both feed the labels)."""
        return self.mesh_major + self.mesh_automatic

    def text(self, sections: Sequence[str] = TEXT_SECTIONS) -> str:
        """The named sections' texts joined by a space (missing ones skipped)."""
        return " ".join(self.sections[s] for s in sections if self.sections.get(s))

    def labels(self, names: Sequence[str] = LABELS) -> np.ndarray:
        return label_vector(self.mesh_terms, names)


@dataclass
class OpenIData:
    """Every report under ``root`` and where their images are expected."""

    root: Path
    report_dir: Path
    image_dir: Path
    reports: list[Report]
    warnings: list[str] = field(default_factory=list)

    def image_path(self, image_id: str) -> Path:
        return self.image_dir / f"{image_id}.png"

    @property
    def image_ids(self) -> list[str]:
        return [i for r in self.reports for i in r.image_ids]


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse_report(path: str | Path) -> Report:
    """Parse one NLMCXR XML file; ``DataError`` naming ``path`` when it is malformed."""
    from xml.etree.ElementTree import ParseError

    import defusedxml
    import defusedxml.ElementTree as DET

    path = Path(path)
    try:
        root: Any = DET.parse(path).getroot()
    except ParseError as err:
        line = err.position[0] if getattr(err, "position", None) else None
        raise DataError(path, f"malformed XML ({err})", line) from None
    except defusedxml.DefusedXmlException as err:
        raise DataError(
            path, f"refused: XML entities and external references are not allowed ({err})"
        ) from None
    except OSError as err:
        raise DataError(path, f"cannot read report ({err.strerror or err})") from None
    if root.tag != "eCitation":
        raise DataError(path, f"not an NLMCXR report (root element <{root.tag}>, not <eCitation>)")
    uid = root.find("uId")
    report_id = (uid.get("id") or "").strip() if uid is not None else ""
    sections: dict[str, str] = {}
    texts = root.findall("MedlineCitation/Article/Abstract/AbstractText")
    for node in texts or root.iter("AbstractText"):
        label = (node.get("Label") or "").strip().upper()
        text = _clean("".join(node.itertext()))
        if label and text:
            sections[label] = f"{sections[label]} {text}" if label in sections else text
    mesh = root.find("MeSH")
    if mesh is None:
        mesh = root.find(".//MeSH")
    major, automatic = [], []
    if mesh is not None:
        major = [_clean(n.text or "") for n in mesh.findall("major")]
        automatic = [_clean(n.text or "") for n in mesh.findall("automatic")]
    image_ids = []
    for node in root.iter("parentImage"):
        image_id = (node.get("id") or "").strip()
        if not image_id:
            raise DataError(path, "a <parentImage> element has no id")
        inside_root(Path(), f"{image_id}.png", path, where="<parentImage id>")  # no ../, /x
        image_ids.append(image_id)
    return Report(
        id=report_id or path.stem,
        path=path,
        sections=sections,
        mesh_major=tuple(t for t in major if t),
        mesh_automatic=tuple(t for t in automatic if t),
        image_ids=tuple(image_ids),
    )


def find_image_dir(root: Path, image_dir: str | Path | None = None) -> Path:
    """``image_dir`` if given, else ``ROOT/images`` when it exists, else ``ROOT``."""
    if image_dir is not None:
        path = Path(image_dir)
        if not path.is_dir():
            raise DataError(path, "image folder not found")
        return path
    return root / IMAGE_DIR if (root / IMAGE_DIR).is_dir() else root


def load_openi(root: str | Path, image_dir: str | Path | None = None) -> OpenIData:
    """Parse every ``ROOT/ecgen-radiology/*.xml`` (sorted by name). Images are not opened."""
    root = Path(root)
    report_dir = root / REPORT_DIR
    if not report_dir.is_dir():
        raise DataError(report_dir, "report folder not found (expected ROOT/ecgen-radiology/)")
    files = sorted(report_dir.glob("*.xml"))
    if not files:
        raise DataError(report_dir, "no .xml reports")
    reports = [parse_report(f) for f in files]
    warnings = []
    seen: dict[str, Path] = {}
    for r in reports:
        if r.id in seen:
            raise DataError(r.path, f"report id {r.id!r} also used by {seen[r.id].name}")
        seen[r.id] = r.path
    owner: dict[str, str] = {}
    for r in reports:
        for image_id in r.image_ids:
            if image_id in owner and owner[image_id] != r.id:
                raise DataError(
                    r.path, f"image {image_id!r} also belongs to report {owner[image_id]}"
                )
            owner[image_id] = r.id
    return OpenIData(root, report_dir, find_image_dir(root, image_dir), reports, warnings)


@dataclass(frozen=True)
class Sample:
    """One image with its report's text and labels: what a classifier trains on."""

    image_id: str
    image_path: Path
    report_id: str
    patient_id: str
    text: str
    labels: np.ndarray


def image_samples(
    data: OpenIData,
    names: Sequence[str] = LABELS,
    *,
    views: dict[str, str] | None = None,
    drop_unlabelled: bool = True,
    drop_missing: bool = True,
    sections: Sequence[str] = TEXT_SECTIONS,
) -> list[Sample]:
    """One :class:`Sample` per image of ``data``.

    ``views`` (image id → view, see :mod:`lococo.data.cxr.views`) keeps frontal images only;
    ``drop_unlabelled`` drops images whose report has none of ``names``; ``drop_missing`` drops
    images without a PNG file.
    """
    from lococo.data.cxr.views import is_frontal

    out = []
    for r in data.reports:
        y = r.labels(names)
        if drop_unlabelled and not y.any():
            continue
        text = r.text(sections)
        for image_id in r.image_ids:
            if views is not None and not is_frontal(views.get(image_id)):
                continue
            path = data.image_path(image_id)
            if drop_missing and not path.is_file():
                continue
            out.append(Sample(image_id, path, r.id, r.patient_id, text, y))
    return out
