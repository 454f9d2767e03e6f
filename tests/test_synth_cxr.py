"""Synthetic chest X-rays: read back through the Open-I reader; reports agree with labels."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lococo.data.cxr.check import check_dataset
from lococo.data.cxr.glove import read_glove
from lococo.data.cxr.labels import LABELS
from lococo.data.cxr.openi import load_openi
from lococo.data.cxr.synth import FINDINGS, render_frontal, synth_cxr
from lococo.data.cxr.text import tokenize
from lococo.data.cxr.views import read_view_list
from lococo.errors import LococoError


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cxr")
    info = synth_cxr(root, seed=3, reports=60, image_size=32, progress=False)
    return root, info


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_reads_back_and_counts_agree(synth) -> None:
    root, info = synth
    data = load_openi(root)
    assert len(data.reports) == 60 == info.reports
    assert len(data.image_ids) == info.images
    assert sum(not r.image_ids for r in data.reports) == info.reports_without_images
    summary = check_dataset(root, "openi", progress=False)
    assert summary["images_missing"] == 0 and summary["labels"] == info.label_counts
    views = read_view_list(root / "views.csv")
    assert set(views) == set(data.image_ids)
    for r in data.reports:
        if r.image_ids:
            assert views[r.image_ids[0]] == "PA"
    with Image.open(data.image_path(data.image_ids[0])) as img:
        assert img.mode == "L" and img.size == (32, 32)
    assert any("XXXX" in t for r in data.reports for t in r.sections.values())


def _sentences(text: str) -> list[str]:
    return [s.strip().lower() for s in re.split(r"(?<=\.)\s+", text) if s.strip()]


def test_sentences_agree_with_labels_including_negations(synth) -> None:
    root, _ = synth
    checked = 0
    for r in load_openi(root).reports:
        if not r.mesh_terms:  # an empty MeSH carries no labels, whatever the text says
            continue
        y = dict(zip(LABELS, r.labels(), strict=True))
        sentences = _sentences(r.text())
        for f in FINDINGS:
            mentions = [s for s in sentences if set(tokenize(s)) & set(f.keywords)]
            affirmed = [s for s in mentions if not s.startswith("no ")]
            assert bool(affirmed) == bool(y[f.label]), (r.id, f.name, sentences)
            assert all(s.startswith("no ") for s in mentions if not y[f.label])
        assert y["normal"] == (not any(y[f.label] for f in FINDINGS))
        checked += 1
    assert checked >= 50
    negations = [s for r in load_openi(root).reports for s in _sentences(r.text())]
    assert "no pleural effusion." in negations or "no pleural effusions." in negations


def test_glove_covers_vocabulary_with_finding_structure(synth) -> None:
    root, _ = synth
    glove = read_glove(root / "glove.txt")
    assert glove.duplicates == 1 and ". . ." in glove
    words = {t for r in load_openi(root).reports for s in r.sections.values() for t in tokenize(s)}
    assert words - {"<anon>"} <= set(glove.words)

    def cos(a: str, b: str) -> float:
        u, v = glove.vector(a), glove.vector(b)
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    assert cos("effusion", "costophrenic") > 0.6 > 0.3 > cos("effusion", "nodule")
    assert cos("atelectasis", "basilar") > 0.6 > 0.3 > cos("atelectasis", "mass")


def test_weak_findings_are_faint_and_strong_ones_clear() -> None:
    def change(name: str) -> float:
        diffs = []
        for i in range(6):
            base = render_frontal({}, np.random.default_rng(i), 64)
            with_f = render_frontal({name: "right"}, np.random.default_rng(i), 64)
            diffs.append(np.abs(with_f - base).sum())
        return float(np.mean(diffs))

    strong = min(change(f.name) for f in FINDINGS if f.evidence == "strong")
    weak = max(change(f.name) for f in FINDINGS if f.evidence == "weak")
    assert weak * 2 < strong


def test_deterministic_and_refuses_bad_options(tmp_path: Path) -> None:
    a = synth_cxr(tmp_path / "a", seed=1, reports=8, image_size=32, progress=False)
    synth_cxr(tmp_path / "b", seed=1, reports=8, image_size=32, progress=False)
    synth_cxr(tmp_path / "c", seed=2, reports=8, image_size=32, progress=False)
    assert _digest(a.root) == _digest(tmp_path / "b") != _digest(tmp_path / "c")
    with pytest.raises(LococoError, match="not empty"):
        synth_cxr(tmp_path / "a", seed=1, reports=8, image_size=32, progress=False)
    with pytest.raises(LococoError, match="reports"):
        synth_cxr(tmp_path / "d", reports=1, progress=False)
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())
