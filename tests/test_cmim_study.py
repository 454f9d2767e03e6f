"""The CMIM segmentation study: cells, table 8.2, paired tests, findings, figures, reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from lococo.cli.main import main
from lococo.cmim import study
from lococo.cmim.study import SegCell, SegStudySpec, findings, grid, paired_tests, table
from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError
from lococo.io import write_json
from lococo.study.stats import paired_test

CASES = [f"case{i}" for i in range(5)]
#: Mean Dice per method and test-time input of the fake cells (CMIM ahead on FLAIR and T1).
LEVELS = {
    "cmim": {"flair": 0.5, "t1": 0.4, "t1c": 0.7, "t2": 0.55, "all": 0.8},
    "hemis": {"flair": 0.2, "t1": 0.15, "t1c": 0.71, "t2": 0.45, "all": 0.82},
    "mean": {"flair": 0.25, "t1": 0.2, "t1c": 0.6, "t2": 0.4, "all": 0.8},
}


def fake_section(cell: SegCell) -> dict:
    """A ``cmim_seg`` section with seeded per-case Dice around the cell's method level."""
    rng = np.random.default_rng(hash((cell.method, cell.seed)) % 2**32)
    levels = LEVELS.get(cell.method, {m: 0.3 for m in study.TEST_MODALITIES})
    tested = cell.tested_on()
    per_case = {
        m: {c: float(np.clip(levels[m] + rng.normal(0, 0.03), 0, 1)) for c in CASES} for m in tested
    }
    dice = {
        m: (float(np.mean(list(per_case[m].values()))) if m in tested else None)
        for m in study.TEST_MODALITIES
    }
    return {"dice": dice, "dice_per_case": per_case, "empty_dice": 0.0, "test_cases": 5}


def fake_run_cell(spec, cell, run_path, progress=True):
    """Stands in for training + evaluation: a config, both results sections, saved slices."""
    run = RunDir(Path(run_path))
    run.write_config({"seed": cell.seed, "method": {"name": cell.method}})
    run.write_result("cmim_seg_train", {"method": cell.method, "epochs": 1})
    run.write_result("cmim_seg", fake_section(cell))
    rng = np.random.default_rng(cell.seed)
    target = np.zeros((1, 16, 16), np.uint8)
    target[:, 5:10, 5:10] = 1
    arrays = {
        "image": rng.random((1, 4, 16, 16)).astype(np.float32),
        "target": target,
        "case": np.array(CASES[:1]),
        "slice": np.array([3]),
    }
    for m in cell.tested_on():
        arrays[f"pred_{m}"] = np.roll(target, 1, axis=-1)
    np.savez(run.path / "predictions.npz", **arrays)
    return run.read_results()


def test_grid_expands_single_per_modality():
    spec = SegStudySpec(data="x", methods=["cmim", "single", "all"], seeds=[0, 1])
    cells = grid(spec)
    assert len(cells) == 2 * (1 + 4 + 1)
    assert len({c.name for c in cells}) == len(cells)
    single = next(c for c in cells if c.model == "single_t1")
    assert single.tested_on() == ("t1",)
    assert SegCell("all", 0).tested_on() == ("all",)
    cfg = study.cell_config(spec, single)
    assert (cfg.method.name, cfg.method.modality, cfg.seed, cfg.data.path) == (
        "single",
        "t1",
        0,
        "x",
    )
    with pytest.raises(LococoError, match="unknown method 'unet'"):
        grid(SegStudySpec(data="x", methods=["unet"]))


def test_table_and_paired_tests_against_direct_computation():
    spec = SegStudySpec(data="x", methods=["cmim", "hemis", "mean"], seeds=[0, 1, 2])
    sections = {cell: fake_section(cell) for cell in grid(spec)}
    rows = [study.cell_row(c, s) for c, s in sections.items()]
    summary = {e["modality"]: e for e in table(rows, spec.methods)}
    for method in spec.methods:
        values = [s["dice"]["t1"] for c, s in sections.items() if c.method == method]
        assert summary["t1"][f"{method}_mean"] == pytest.approx(np.mean(values))
        assert summary["t1"][f"{method}_std"] == pytest.approx(np.std(values, ddof=1))
        assert summary["t1"][f"{method}_seeds"] == 3
    tests = {(t["modality"], t["versus"]): t for t in paired_tests(sections, spec.methods)}
    assert len(tests) == len(study.TEST_MODALITIES) * 2
    # pairs are (seed, case): 3 seeds × 5 cases, CMIM's and HeMIS's Dice of the same case
    direct_a, direct_b = [], []
    for seed in (0, 1, 2):
        a = sections[SegCell("cmim", seed)]["dice_per_case"]["flair"]
        b = sections[SegCell("hemis", seed)]["dice_per_case"]["flair"]
        direct_a += [a[c] for c in sorted(a)]
        direct_b += [b[c] for c in sorted(b)]
    flair = tests[("flair", "hemis")]
    assert flair["n"] == 15 and flair["wins"] == 15
    assert flair["p"] == pytest.approx(paired_test(direct_a, direct_b)["p"])
    verdicts = {
        f["finding"].split(" (")[0]: f
        for f in findings(
            {
                "study": {"methods": spec.methods},
                "summary": list(summary.values()),
                "tests": list(tests.values()),
                "cells": rows,
            }
        )
    }
    assert verdicts["CMIM ahead of the baselines on FLAIR"]["holds"]
    assert verdicts["CMIM ahead of the baselines on FLAIR"]["significant"]
    assert verdicts["CMIM close to HeMIS on T1c"]["holds"]
    assert verdicts["every method well above an empty prediction"]["holds"]


def test_study_command_writes_table_report_figures_and_skips(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(study, "run_cell", fake_run_cell)
    out = tmp_path / "study"
    args = [
        "cmim",
        "study",
        "--data",
        str(tmp_path),
        "--out",
        str(out),
        "--methods",
        "cmim,hemis,mean,single",
        "--seeds",
        "0,1",
        "--profile",
        "quick",
        "--no-progress",
    ]
    assert main(args) == 0
    with open(out / "summary.csv") as handle:
        summary = list(csv.DictReader(handle))
    assert [r["modality"] for r in summary] == list(study.TEST_MODALITIES)
    assert summary[0]["single_seeds"] == "2" and summary[-1]["single_mean"] == ""
    results = json.loads((out / "results.json").read_text())
    assert results["study"]["system"] == "cmim_seg" and len(results["cells"]) == 2 * (3 + 4)
    assert "Wilcoxon" in results["test"]
    assert results["figures"] == ["figures/overlay_0.png"]
    assert (out / "figures" / "overlay_0.png").stat().st_size > 0
    html = (out / "report.html").read_text()
    assert "Table 8.2" in html and "CMIM vs HeMIS" in html and "data:image/png;base64," in html
    assert (out / "cells" / "cmim-s0" / "report.html").is_file()
    assert "Dice" in (out / "cells" / "single_t2-s1" / "report.md").read_text()
    assert "CMIM ahead of the baselines on FLAIR: holds" in capsys.readouterr().out

    def fail(*a, **k):
        raise AssertionError("a finished cell ran again")

    monkeypatch.setattr(study, "run_cell", fail)
    assert main(args) == 0


def test_bad_study_arguments_fail_before_any_work(tmp_path, capsys):
    out = tmp_path / "study"
    base = ["cmim", "study", "--data", str(tmp_path), "--out", str(out), "--no-progress"]
    assert main([*base, "--methods", "cmim,unet"]) == 1
    assert "unknown method 'unet'" in capsys.readouterr().err
    assert main([*base, "--seeds", "0,x"]) == 1
    assert "seed 'x' is not an integer" in capsys.readouterr().err
    assert main([*base, "model.depth=3"]) == 2  # a config error
    assert "unknown config key 'model.depth'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_short_study_trains_evaluates_and_resumes(tmp_path):
    from lococo.data.mri.synth import synth_mri

    synth_mri(tmp_path / "mri", seed=0, cases=8, size=32, progress=False)
    spec = SegStudySpec(
        data=str(tmp_path / "mri"),
        methods=["cmim", "mean"],
        seeds=[0, 1],
        overrides={"trainer.max_epochs": 1, "data.slices_per_epoch": 32},
    )
    result = study.run_study(spec, tmp_path / "s", progress=False)
    assert len(result["cells"]) == 4 and {t["versus"] for t in result["tests"]} == {"mean"}
    t1c = next(e for e in result["summary"] if e["modality"] == "t1c")
    cells = [c for c in result["cells"] if c["method"] == "cmim"]
    assert t1c["cmim_mean"] == pytest.approx(np.mean([c["dice_t1c"] for c in cells]))
    # a cell whose evaluation was lost is evaluated again without retraining
    run = tmp_path / "s" / "cells" / "cmim-s1"
    train = RunDir(run).read_results()["cmim_seg_train"]
    write_json(run / "results.json", {"cmim_seg_train": train})
    again = study.run_study(spec, tmp_path / "s", progress=False)
    assert again["summary"] == result["summary"]
    assert RunDir(run).read_results()["cmim_seg_train"] == train


def test_main_job_runs_the_cmim_study_and_reports_it(tmp_path, monkeypatch):
    from lococo import main_job

    monkeypatch.setattr(study, "run_cell", fake_run_cell)
    monkeypatch.setitem(main_job.MRI_DATA, "quick", main_job.PhantomSize(cases=4, size=32))
    out = tmp_path / "job"
    summary = main_job.run_all(out, systems=("cmim",), progress=False)
    assert [e["modality"] for e in summary["cmim"]] == list(study.TEST_MODALITIES)
    assert set(summary["cmim"][0]) >= {f"{m}_mean" for m in main_job.CMIM_METHODS}
    assert summary["data"]["mri"] == str(out / "data" / "mri") and "zfs" not in summary
    assert (out / "data" / "mri" / "synth_mri.json").is_file()
    html = (out / "report.html").read_text()
    assert "CMIM: segmentation with one MRI modality" in html and "cmim/report.html" in html
    assert "seconds (cmim)" in html and (out / "cmim" / "report.html").is_file()
    assert "No report renderer" not in html
