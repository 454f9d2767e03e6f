"""Open-I MeSH terms → the 14 ChestX-ray14 finding labels + ``normal`` (multi-label).

One table, :data:`MESH_TO_LABEL`, decides every label. A report's terms are its ``MeSH/major``
and ``MeSH/automatic`` entries; each term is ``Heading/qualifier/qualifier…``
(``Pleural Effusion/right/small``). A term gives a label when its heading equals a table
heading (case-insensitive, spaces normalised) and, for rows with a qualifier, one of its
qualifiers equals it. ``normal`` is set when a term's heading is ``normal`` and no finding label
is set. Terms outside the table (``Granuloma``, ``Spine/degenerative``, ``No Indexing``) give
no label; a report with none of the 15 labels is "unlabelled" (readers may drop it).

ChestX-ray14 has no "opacity" class; Open-I's ``Opacity`` and ``Infiltrate`` headings both map
to ``Infiltration`` (our choice, stated here and in the docs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from lococo.errors import LococoError

#: The 14 ChestX-ray14 categories (Wang et al. 2017), then ``normal``.
FINDINGS: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
NORMAL = "normal"
LABELS: tuple[str, ...] = (*FINDINGS, NORMAL)

#: ``(MeSH heading, required qualifier or None, label)``; headings compare case-insensitively.
MESH_TO_LABEL: tuple[tuple[str, str | None, str], ...] = (
    ("Pulmonary Atelectasis", None, "Atelectasis"),
    ("Atelectasis", None, "Atelectasis"),
    ("Cardiomegaly", None, "Cardiomegaly"),
    ("Pleural Effusion", None, "Effusion"),
    ("Infiltrate", None, "Infiltration"),
    ("Opacity", None, "Infiltration"),
    ("Mass", None, "Mass"),
    ("Nodule", None, "Nodule"),
    ("Pulmonary Nodule", None, "Nodule"),
    ("Pneumonia", None, "Pneumonia"),
    ("Pneumothorax", None, "Pneumothorax"),
    ("Consolidation", None, "Consolidation"),
    ("Pulmonary Edema", None, "Edema"),
    ("Edema", None, "Edema"),
    ("Pulmonary Emphysema", None, "Emphysema"),
    ("Emphysema", None, "Emphysema"),
    ("Pulmonary Fibrosis", None, "Fibrosis"),
    ("Fibrosis", None, "Fibrosis"),
    ("Pleural Thickening", None, "Pleural_Thickening"),
    ("Thickening", "pleura", "Pleural_Thickening"),
    ("Hernia, Hiatal", None, "Hernia"),
    ("Hernia", None, "Hernia"),
    ("normal", None, NORMAL),
)


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


_TABLE: dict[str, list[tuple[str | None, str]]] = {}
for _heading, _qualifier, _label in MESH_TO_LABEL:
    _TABLE.setdefault(_norm(_heading), []).append(
        (None if _qualifier is None else _norm(_qualifier), _label)
    )


def split_term(term: str) -> tuple[str, list[str]]:
    """``"Pleural Effusion/right/small"`` → ``("pleural effusion", ["right", "small"])``."""
    parts = [_norm(p) for p in term.split("/")]
    return parts[0], [p for p in parts[1:] if p]


def labels_of_terms(terms: Iterable[str]) -> set[str]:
    """The label names the MeSH ``terms`` give (see the module rules)."""
    found: set[str] = set()
    for term in terms:
        heading, qualifiers = split_term(term)
        for qualifier, label in _TABLE.get(heading, ()):
            if qualifier is None or qualifier in qualifiers:
                found.add(label)
    if found - {NORMAL}:
        found.discard(NORMAL)
    return found


def label_vector(terms: Iterable[str], names: Sequence[str] = LABELS) -> np.ndarray:
    """0/1 ``float32`` vector over ``names`` for a report's MeSH ``terms``."""
    found = labels_of_terms(terms)
    return np.array([name in found for name in names], dtype=np.float32)


def resolve_labels(names: Iterable[str] | None) -> tuple[str, ...]:
    """Validate a user's label selection (case-insensitive); ``None`` means all 15 labels."""
    if names is None:
        return LABELS
    lookup = {n.lower(): n for n in LABELS}
    out: list[str] = []
    for name in names:
        key = name.strip().lower()
        if key not in lookup:
            raise LococoError(f"unknown label name {name!r}; valid: {', '.join(LABELS)}")
        if lookup[key] not in out:
            out.append(lookup[key])
    if not out:
        raise LococoError("no label names given")
    return tuple(out)


def mapping_markdown() -> str:
    """The mapping table as Markdown (for the README and docs)."""
    lines = ["| MeSH heading | qualifier | label |", "|---|---|---|"]
    for heading, qualifier, label in MESH_TO_LABEL:
        lines.append(f"| {heading} | {qualifier or 'any'} | {label} |")
    return "\n".join(lines)
