"""MeSH term → ChestX-ray14 + normal labels on known Open-I terms."""

from __future__ import annotations

import pytest

from lococo.data.cxr.labels import (
    FINDINGS,
    LABELS,
    MESH_TO_LABEL,
    label_vector,
    labels_of_terms,
    mapping_markdown,
    resolve_labels,
)
from lococo.errors import LococoError


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (["Cardiomegaly/mild"], {"Cardiomegaly"}),
        (["Pleural Effusion/right/small"], {"Effusion"}),
        (["Pulmonary Atelectasis/base/left"], {"Atelectasis"}),
        (["Opacity/lung/base/left/mild"], {"Infiltration"}),
        (["Infiltrate/lung/bilateral"], {"Infiltration"}),
        (["Nodule/lung/upper lobe/right"], {"Nodule"}),
        (["Mass/mediastinum"], {"Mass"}),
        (["Pneumothorax/right/small"], {"Pneumothorax"}),
        (["Consolidation/lung/base"], {"Consolidation"}),
        (["Pulmonary Edema"], {"Edema"}),
        (["Pulmonary Emphysema"], {"Emphysema"}),
        (["Emphysema/lung"], {"Emphysema"}),
        (["Pulmonary Fibrosis/lung"], {"Fibrosis"}),
        (["Thickening/pleura/apex/right"], {"Pleural_Thickening"}),
        (["Thickening/bronchi"], set()),  # thickening elsewhere is not pleural
        (["Hernia, Hiatal"], {"Hernia"}),
        (["Pneumonia/lung/lower lobe"], {"Pneumonia"}),
        (["normal"], {"normal"}),
        (["  PLEURAL   effusion / left "], {"Effusion"}),  # case and spaces
        (["normal", "Cardiomegaly"], {"Cardiomegaly"}),  # a finding overrides normal
        (["Calcified Granuloma/lung/upper lobe", "Spine/degenerative"], set()),
        (["No Indexing"], set()),
        ([], set()),
        (
            ["Cardiomegaly/mild", "cardiomegaly", "Pleural Effusion/bilateral"],
            {"Cardiomegaly", "Effusion"},
        ),
    ],
)
def test_known_terms(terms: list[str], expected: set[str]) -> None:
    assert labels_of_terms(terms) == expected
    vec = label_vector(terms)
    assert {LABELS[i] for i in range(len(LABELS)) if vec[i]} == expected


def test_table_covers_all_fourteen_findings_and_normal() -> None:
    assert len(FINDINGS) == 14 and LABELS[-1] == "normal"
    assert {label for _, _, label in MESH_TO_LABEL} == set(LABELS)
    table = mapping_markdown()
    assert table.count("\n") == len(MESH_TO_LABEL) + 1
    assert "| Thickening | pleura | Pleural_Thickening |" in table


def test_label_selection() -> None:
    assert resolve_labels(["cardiomegaly", "Effusion", "NORMAL"]) == (
        "Cardiomegaly",
        "Effusion",
        "normal",
    )
    assert resolve_labels(None) == LABELS
    vec = label_vector(["Pleural Effusion", "Mass"], ("Mass", "Effusion", "Nodule"))
    assert vec.tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(LococoError, match="unknown label name 'Opacity'"):
        resolve_labels(["Cardiomegaly", "Opacity"])
