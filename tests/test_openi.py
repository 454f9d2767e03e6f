"""NLMCXR XML reader on hand-made reports covering the real files' quirks, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lococo.data.cxr.check import check_dataset
from lococo.data.cxr.labels import LABELS
from lococo.data.cxr.openi import image_samples, load_openi, parse_report
from lococo.data.cxr.text import tokenize
from lococo.errors import DataError

FULL = """<?xml version="1.0" encoding="utf-8"?>
<eCitation>
  <meta type="rr"/>
  <uId id="CXR7"/>
  <pmcId id="7"/>
  <MedlineCitation Owner="Indiana University" Status="supplied">
    <Article PubModel="Electronic">
      <Abstract>
        <AbstractText Label="COMPARISON">Chest radiographs XXXX.</AbstractText>
        <AbstractText Label="INDICATION">XXXX-year-old   female,
          cough.</AbstractText>
        <AbstractText Label="FINDINGS">Mild cardiomegaly. Small right pleural effusion.
          No pneumothorax.</AbstractText>
        <AbstractText Label="IMPRESSION">Cardiomegaly and right effusion.</AbstractText>
      </Abstract>
    </Article>
  </MedlineCitation>
  <MeSH>
    <major>Cardiomegaly/mild</major>
    <major>Pleural Effusion/right/small</major>
    <major>Calcified Granuloma/lung/upper lobe/right</major>
    <automatic>pleural effusion</automatic>
  </MeSH>
  <parentImage id="CXR7_1_IM-2263-1001"><caption>PA</caption></parentImage>
  <parentImage id="CXR7_2_IM-2263-2001"><caption>Lateral</caption></parentImage>
</eCitation>
"""

SPARSE = """<eCitation>
  <uId id="CXR8"/>
  <MedlineCitation><Article><Abstract>
    <AbstractText Label="IMPRESSION">No acute disease.</AbstractText>
    <AbstractText Label="FINDINGS"/>
  </Abstract></Article></MedlineCitation>
  <MeSH/>
</eCitation>
"""

NORMAL = """<eCitation>
  <MedlineCitation><Article><Abstract>
    <AbstractText Label="FINDINGS">The lungs are clear.</AbstractText>
  </Abstract></Article></MedlineCitation>
  <MeSH><major>normal</major></MeSH>
  <parentImage id="CXR9_1_IM-0001-1001"/>
</eCitation>
"""


def _tree(tmp_path: Path, reports: dict[str, str], images: list[str]) -> Path:
    (tmp_path / "ecgen-radiology").mkdir(parents=True)
    for name, text in reports.items():
        (tmp_path / "ecgen-radiology" / name).write_text(text, encoding="utf-8")
    (tmp_path / "images").mkdir()
    for image_id in images:
        Image.fromarray(np.full((8, 8), 100, np.uint8)).save(
            tmp_path / "images" / f"{image_id}.png"
        )
    return tmp_path


def test_full_report(tmp_path: Path) -> None:
    path = tmp_path / "7.xml"
    path.write_text(FULL)
    r = parse_report(path)
    assert r.id == "CXR7" and r.patient_id == "CXR7"
    assert r.sections["INDICATION"] == "XXXX-year-old female, cough."
    assert r.sections["COMPARISON"] == "Chest radiographs XXXX."
    assert r.text() == (
        "Mild cardiomegaly. Small right pleural effusion. No pneumothorax. "
        "Cardiomegaly and right effusion."
    )
    assert r.mesh_major[1] == "Pleural Effusion/right/small"
    assert r.mesh_automatic == ("pleural effusion",)
    assert r.image_ids == ("CXR7_1_IM-2263-1001", "CXR7_2_IM-2263-2001")
    y = dict(zip(LABELS, r.labels(), strict=True))
    assert y["Cardiomegaly"] == 1 and y["Effusion"] == 1 and sum(y.values()) == 2
    assert tokenize(r.sections["INDICATION"])[:3] == ["<anon>", "year", "old"]


def test_missing_sections_empty_mesh_no_images_no_uid(tmp_path: Path) -> None:
    (tmp_path / "8.xml").write_text(SPARSE)
    sparse = parse_report(tmp_path / "8.xml")
    assert sparse.sections == {"IMPRESSION": "No acute disease."}
    assert sparse.text() == "No acute disease."
    assert sparse.mesh_terms == () and sparse.image_ids == ()
    assert not sparse.labels().any()
    (tmp_path / "9.xml").write_text(NORMAL)
    normal = parse_report(tmp_path / "9.xml")
    assert normal.id == "9"  # no uId: the file name
    assert dict(zip(LABELS, normal.labels(), strict=True))["normal"] == 1


def test_dataset_samples_and_check_counts(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"7.xml": FULL, "8.xml": SPARSE, "9.xml": NORMAL},
        ["CXR7_1_IM-2263-1001", "CXR9_1_IM-0001-1001"],  # CXR7's lateral image is missing
    )
    data = load_openi(root)
    assert [r.id for r in data.reports] == ["CXR7", "CXR8", "9"]
    samples = image_samples(data)
    assert [s.image_id for s in samples] == ["CXR7_1_IM-2263-1001", "CXR9_1_IM-0001-1001"]
    frontal = image_samples(data, views={"CXR9_1_IM-0001-1001": "PA", "CXR7_1_IM-2263-1001": "LL"})
    assert [s.image_id for s in frontal] == ["CXR9_1_IM-0001-1001"]
    summary = check_dataset(root, "openi", progress=False)
    assert summary["reports"] == 3 and summary["images"] == 3
    assert summary["images_missing"] == 1 and summary["missing_examples"] == ["CXR7_2_IM-2263-2001"]
    assert summary["reports_without_images"] == 1 and summary["reports_with_empty_mesh"] == 1
    assert summary["labels"]["Cardiomegaly"] == 1 and summary["labels"]["normal"] == 1
    assert summary["image_labels"]["Effusion"] == 1


def test_every_image_missing_is_fatal(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"7.xml": FULL}, [])
    with pytest.raises(DataError, match="none of the 2 images"):
        check_dataset(root, "openi", progress=False)


@pytest.mark.parametrize(
    "text",
    [
        "<eCitation><uId id='1'/><MeSH><major>normal</major></MeSH>",  # truncated
        "<eCitation><uId id='1'></eCitation>",
        "",
    ],
)
def test_malformed_xml_is_named(tmp_path: Path, text: str) -> None:
    root = _tree(tmp_path, {"1.xml": NORMAL, "2.xml": text}, [])
    with pytest.raises(DataError) as err:
        load_openi(root)
    assert "2.xml" in str(err.value) and "malformed XML" in str(err.value)


def test_other_root_element_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.xml").write_text("<html><body/></html>")
    with pytest.raises(DataError, match="not an NLMCXR report"):
        parse_report(tmp_path / "x.xml")


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',  # expansion
        '<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>',  # external entity (XXE)
    ],
)
def test_entities_are_refused(tmp_path: Path, doctype: str) -> None:
    path = tmp_path / "evil.xml"
    path.write_text(
        f'<?xml version="1.0"?>{doctype}<eCitation><MedlineCitation><Article><Abstract>'
        '<AbstractText Label="FINDINGS">&b;</AbstractText></Abstract></Article>'
        "</MedlineCitation></eCitation>".replace("&b;", "&b;" if "ENTITY b" in doctype else "&x;")
    )
    with pytest.raises(DataError, match="refused"):
        parse_report(path)


def test_cli_check_json_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lococo.cli.main import main

    root = _tree(tmp_path / "ok", {"7.xml": FULL, "9.xml": NORMAL}, ["CXR7_1_IM-2263-1001"])
    assert main(["data", "check", str(root), "--format", "openi", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"format", "reports", "images", "labels"} <= set(summary)
    assert summary["format"] == "openi" and summary["images_missing"] == 2
    assert main(["data", "check", str(root), "--format", "openi"]) == 0
    assert "missing images: CXR7_2_IM-2263-2001" in capsys.readouterr().out
    bad = _tree(tmp_path / "bad", {"1.xml": "<eCitation>"}, [])
    assert main(["data", "check", str(bad), "--format", "openi"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lococo: error:") and "1.xml" in err and len(err.splitlines()) == 1
