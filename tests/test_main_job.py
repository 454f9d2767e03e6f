"""``lococo run``: the main job end to end on the embedded synthetic data (slow)."""

from __future__ import annotations

import json

import pytest

from lococo.cli.main import main


@pytest.mark.slow
def test_main_job_fc_transfers_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    # the ZFS part, what this test checks (CMIM classification has its own main-job test,
    # test_cmim_cls_study; the CMIM segmentation study is tested in test_cmim_study)
    job = ["run", "--out", str(out), "--systems", "zfs", "--methods", "fc", "--no-progress"]
    assert main(job) == 0
    summary = json.loads((out / "results.json").read_text())
    (row,) = summary["zfs"]
    assert row["model"] == "fc" and row["top1_mean"] > 2 * row["chance"]
    assert "zero-shot top-1" in capsys.readouterr().out
    assert row["parts_f1_mean"] is not None and row["tre_ratio_mean"] > 0
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "tre_ratio" in html
    assert (out / "zfs" / "cells" / "fc-none-basic-s0" / "report.html").exists()
    # a second invocation finds everything finished and only re-prints the table
    assert main(job) == 0
    assert json.loads((out / "results.json").read_text())["zfs"] == summary["zfs"]
