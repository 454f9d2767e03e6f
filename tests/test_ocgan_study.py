"""``lococo ocgan study`` (table 6.4): one grid of ablation rows × seeds on the shared runner,
finished cells skipped, the ablation table and the thesis-direction findings."""

from __future__ import annotations

import json

import pytest
from test_ocgan_cli import EVAL_FAST, FAST

from lococo.cli.main import main
from lococo.data.layout.synth import synth_layout
from lococo.ocgan.gan_study import ABLATIONS, THESIS_TABLE, findings


def _row(name: str, ca: float, fid: float, ca_std: float = 0.01, fid_std: float = 0.5) -> dict:
    return {
        "ablation": name, "ca_mean": ca, "ca_std": ca_std, "fid_mean": fid, "fid_std": fid_std,
    }  # fmt: skip


def test_findings_compare_each_row_with_full_in_the_thesis_direction():
    # both components removed: CA falls (thesis: 60.3 -> 41.5) and FID rises (29.6 -> 33.2)
    summary = [_row("full", 0.60, 30.0), _row("no_object_d_no_sgsm", 0.45, 29.0)]
    by_metric = {f["metric"]: f for f in findings(summary)}
    ca, fid = by_metric["ca"], by_metric["fid"]
    assert ca["thesis_change"] == pytest.approx(41.50 - 60.27)
    assert ca["our_change"] == pytest.approx(-15.0)  # percentage points, as the thesis
    assert ca["holds"] and ca["beyond_noise"]
    assert fid["our_change"] == pytest.approx(-1.0) and not fid["holds"]  # FID fell: not as thesis
    assert fid["noise"] == pytest.approx(0.5) and fid["beyond_noise"]
    # a change inside the seeds' spread is reported as such
    noisy = findings([_row("full", 0.60, 30.0, ca_std=0.2), _row("no_sgsm", 0.55, 31.0)])
    ca = next(f for f in noisy if f["metric"] == "ca")
    assert ca["holds"] and not ca["beyond_noise"]
    assert findings([_row("no_sgsm", 0.5, 30.0)]) == []  # nothing to compare without full


def test_every_ablation_row_has_the_thesis_numbers():
    assert set(ABLATIONS) == set(THESIS_TABLE)
    assert ABLATIONS["no_object_d_no_sgsm"] == {"model.object_d": False, "model.sgsm": False}


def test_study_runs_each_row_once_then_skips_finished_cells(tmp_path, capsys):
    data = tmp_path / "coco"
    synth_layout(data, seed=4, images=16, image_size=32, progress=False)
    out = tmp_path / "study"
    args = [
        "ocgan", "study", "--data", str(data), "--sgsm", str(tmp_path / "unused"),
        "--out", str(out), "--ablations", "no_sgsm,no_object_d_no_sgsm", "--seeds", "0",
        *FAST, "trainer.max_epochs=1", *EVAL_FAST,
    ]  # fmt: skip
    assert main(args) == 0
    result = json.loads((out / "results.json").read_text())
    assert [c["cell"] for c in result["cells"]] == ["no_sgsm-s0", "no_object_d_no_sgsm-s0"]
    assert [r["ablation"] for r in result["summary"]] == ["no_sgsm", "no_object_d_no_sgsm"]
    assert result["comparable"] is False  # substitute extractor
    assert result["findings"] == []  # no full row in this grid
    for row in result["cells"]:  # the table holds each cell's own evaluation
        cell = json.loads((out / "cells" / row["cell"] / "results.json").read_text())
        assert row["ca"] == cell["ocgan"]["ca"] and row["fid"] == cell["ocgan"]["fid"]
        assert row["iterations"] == cell["ocgan_train"]["iterations"] > 0
    no_obj = (out / "cells" / "no_object_d_no_sgsm-s0" / "config.yaml").read_text()
    assert "object_d: false" in no_obj
    assert "object_d: true" in (out / "cells" / "no_sgsm-s0" / "config.yaml").read_text()
    capsys.readouterr()
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/results.json")}
    assert main(args) == 0  # finished cells are skipped
    assert "[1/" not in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.glob("cells/*/results.json")} == stamps
