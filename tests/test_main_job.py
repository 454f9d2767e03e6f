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


@pytest.mark.slow
def test_main_job_ocgan_part_draws_recognisable_objects_and_resumes(tmp_path, capsys):
    """The OC-GAN part (synthetic scenes -> SGSM -> GAN -> evaluation, samples, donut) on a
    shortened GAN budget (2 epochs, 120 iterations; the profile trains 20)."""
    out = tmp_path / "run"
    short = ["ocgan.trainer.max_epochs=2", "ocgan.eval.ca_epochs=2"]
    job = ["run", "--out", str(out), "--systems", "ocgan", "--no-progress", *short]
    assert main(job) == 0
    ocgan = json.loads((out / "results.json").read_text())["ocgan"]
    # generated objects are recognised in their boxes well above chance (1 / 12 classes)
    assert ocgan["ca_chance"] == round(1 / ocgan["classes"], 4)
    assert ocgan["ca"] > 2 * ocgan["ca_chance"], ocgan["ca"]
    assert ocgan["ca_real"] > ocgan["ca"] and ocgan["comparable"] is False
    assert "CA generated crops" in capsys.readouterr().out
    gan = out / "ocgan"
    assert json.loads((gan / "results.json").read_text())["ocgan_train"]["iterations"] == 120
    assert (gan / "samples" / "sample.json").is_file() and (gan / "donut" / "donut.json").is_file()
    assert "OC-GAN" in (out / "report.html").read_text()
    stamp = (gan / "results.json").stat().st_mtime_ns
    assert main(job) == 0  # everything finished: nothing is trained or evaluated again
    assert (gan / "results.json").stat().st_mtime_ns == stamp
    # other OC-GAN settings are refused with one line, before any work
    assert main([*job[:-2], "ocgan.trainer.max_epochs=3", "ocgan.eval.ca_epochs=2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ocgan.trainer.max_epochs: 2 -> 3" in err
