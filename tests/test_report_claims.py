"""Study and main-job reports carry the claims table, computed from the study's data."""

from __future__ import annotations

import json
from pathlib import Path

from test_zfs_claims import _cells

from lococo.report import render_report
from lococo.zfs.claims import evaluate_claims
from lococo.zfs.study import summarize


def _study(root: Path, seeds: int) -> dict:
    cells = _cells(seeds)
    study = {"study": {"seeds": list(range(seeds))}, "cells": cells, "summary": summarize(cells)}
    root.mkdir(parents=True, exist_ok=True)
    (root / "results.json").write_text(json.dumps(study))
    return study


def test_study_report_states_each_claim_with_its_test(tmp_path):
    study = _study(tmp_path, seeds=3)
    _, md = render_report(tmp_path)
    text = md.read_text(encoding="utf-8")
    claims = text.split("## Claims")[1].split("## Cells")[0]
    for claim in evaluate_claims(study["cells"], study["summary"]):
        assert claim.verdict in claims
    assert claims.count("| holds |") == 5 and "paired t-test across seeds" in claims


def test_main_job_report_has_the_claims_of_its_study(tmp_path):
    study = _study(tmp_path / "zfs", seeds=1)
    job = {"profile": "quick", "seed": 0, "zfs": study["summary"]}
    (tmp_path / "results.json").write_text(json.dumps(job))
    _, md = render_report(tmp_path)
    text = md.read_text(encoding="utf-8")
    assert "## Claims" in text and "inconclusive (n seeds 1 \\< 3)" in text  # Markdown-escaped
