"""The CMIM classification study: table 8.1, paired tests and per-class gaps against direct
computations, findings, the command with its report and figures."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lococo.cli.main import main
from lococo.cmim import cls_study
from lococo.cmim.cls_study import ClsCell, ClsStudySpec, findings, grid
from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError

CLASSES = ("Cardiomegaly", "Effusion", "Nodule")
#: Per-class AUC level per method of the fake cells (CMIM ahead on Nodule only).
LEVELS = {
    "cmim": {"Cardiomegaly": 0.90, "Effusion": 0.85, "Nodule": 0.70},
    "image_only": {"Cardiomegaly": 0.90, "Effusion": 0.85, "Nodule": 0.60},
}


def fake_auc(cell: ClsCell) -> dict[str, float]:
    rng = np.random.default_rng([cell.seed, len(cell.method)])
    return {c: float(LEVELS[cell.method][c] + rng.normal(0, 0.02)) for c in CLASSES}


def fake_run_cell(spec: ClsStudySpec, cell: ClsCell, run_path: str, progress: bool = True):
    """Stands in for training + evaluation: sections and test predictions of the cell."""
    run = RunDir(Path(run_path))
    run.write_config({"seed": cell.seed, "task": "cls", "method": {"name": cell.method}})
    run.write_result("cmim_cls_train", {"method": cell.method, "epochs": 1})
    auc = fake_auc(cell)
    run.write_result(
        "cmim_cls",
        {"method": cell.method, "auc": auc, "auc_macro": float(np.mean(list(auc.values())))},
    )
    rng = np.random.default_rng(cell.seed)
    labels = (rng.random((40, len(CLASSES))) < 0.4).astype(np.uint8)
    np.savez(
        run.path / "predictions.npz",
        scores=(labels + rng.normal(0, 0.7, labels.shape)).astype(np.float32),
        labels=labels,
        image_ids=np.array([f"im{i}" for i in range(40)]),
        classes=np.array(CLASSES),
    )
    return run.read_results()


@pytest.fixture
def fake_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cls_study, "run_cell", fake_run_cell)
    monkeypatch.setattr(cls_study, "agreement_figure", lambda run, path: False)


def test_grid_and_bad_methods() -> None:
    spec = ClsStudySpec(data="d", methods=("cmim", "image_only"), seeds=(0, 1))
    assert [c.name for c in grid(spec)] == ["cmim-s0", "cmim-s1", "image_only-s0", "image_only-s1"]
    with pytest.raises(LococoError, match="unknown method 'hemis'"):
        grid(ClsStudySpec(data="d", methods=("hemis",)))


def test_table_and_tests_match_direct_computation(fake_cells: None, tmp_path: Path) -> None:
    seeds = (0, 1, 2, 3)
    spec = ClsStudySpec(data=str(tmp_path), seeds=seeds)
    cells = grid(spec)
    for cell in cells:
        fake_run_cell(spec, cell, str(tmp_path / "cells" / cell.name))
    result = cls_study.write_summary(spec, cells, tmp_path)
    macro = {m: [np.mean(list(fake_auc(ClsCell(m, s)).values())) for s in seeds] for m in LEVELS}
    for entry in result["summary"]:
        values = macro[entry["method"]]
        assert entry["auc_mean"] == pytest.approx(np.mean(values))
        assert entry["auc_std"] == pytest.approx(np.std(values, ddof=1))
        assert entry["seeds"] == len(seeds)
    test = result["test"]
    diffs = np.subtract(macro["cmim"], macro["image_only"])
    assert test["mean_diff"] == pytest.approx(diffs.mean())
    assert test["p"] == pytest.approx(stats.wilcoxon(diffs).pvalue)
    assert test["t_p"] == pytest.approx(stats.ttest_rel(macro["cmim"], macro["image_only"]).pvalue)
    by_class = {r["class"]: r for r in result["per_class"]}
    for c in CLASSES:
        d = [fake_auc(ClsCell("cmim", s))[c] - fake_auc(ClsCell("image_only", s))[c] for s in seeds]
        assert by_class[c]["diff_mean"] == pytest.approx(np.mean(d))
        assert by_class[c]["diff_std"] == pytest.approx(np.std(d, ddof=1))
        assert by_class[c]["wins"] == sum(x > 0 for x in d)
        assert by_class[c]["losses"] == sum(x < 0 for x in d)
    pooled = [
        fake_auc(ClsCell("cmim", s))[c] - fake_auc(ClsCell("image_only", s))[c]
        for c in sorted(CLASSES)
        for s in seeds
    ]
    assert result["test_pooled"]["n"] == len(pooled)
    assert result["test_pooled"]["p"] == pytest.approx(stats.wilcoxon(pooled).pvalue)
    with open(tmp_path / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["method"] for r in rows] == ["cmim", "image_only"]
    found = {f["finding"].split(" (")[0]: f for f in findings(result)}
    assert found["both models well above chance"]["holds"]
    ahead = found["CMIM ahead of the image-only ResNet"]
    assert ahead["holds"] and "Nodule" in ahead["evidence"].split("behind")[0]


def test_study_command_report_and_figures(
    fake_cells: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "study"
    data = tmp_path / "data"
    data.mkdir()
    code = main(["cmim", "study", "--task", "cls", "--data", str(data), "--out", str(out),
                 "--seeds", "0,1,2", "--profile", "quick", "--no-progress"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "Table 8.1" in text and "CMIM − image_only" in text
    results = json.loads((out / "results.json").read_text())
    assert results["study"]["methods"] == ["cmim", "image_only"]
    assert (out / "figures" / "roc.png").is_file()
    md = (out / "report.md").read_text()
    assert "Table 8.1" in md and "0.793" in md
    assert (out / "cells" / "cmim-s0" / "report.md").is_file()
    # re-running skips finished cells and keeps the table
    code = main(["cmim", "study", "--task", "cls", "--data", str(data), "--out", str(out),
                 "--seeds", "0,1,2", "--profile", "quick", "--no-progress"])  # fmt: skip
    assert code == 0 and "[1/" not in capsys.readouterr().out


def test_study_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["cmim", "study", "--task", "cls", "--data", str(tmp_path), "--out",
                 str(tmp_path / "s"), "data.labels=[Nope]", "--no-progress"])  # fmt: skip
    assert code != 0 and "unknown label name" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_auc_text() -> None:
    assert cls_study.auc_text(0.79312, 0.0041, 3) == "0.793 ± 0.004"
    assert cls_study.auc_text(0.79312, 0.0041, 1) == "0.793"
    assert cls_study.auc_text(math.nan) == "–"


@pytest.mark.slow
def test_main_job_classification(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``lococo run --systems cmim_cls``: synthetic X-rays, both methods, table 8.1 in the
    main report; both models well above chance."""
    out = tmp_path / "job"
    assert main(["run", "--out", str(out), "--systems", "cmim_cls", "--no-progress"]) == 0
    assert "table 8.1" in capsys.readouterr().out
    summary = json.loads((out / "results.json").read_text())
    assert [e["method"] for e in summary["cmim_cls"]] == ["cmim", "image_only"]
    assert all(e["auc_mean"] >= 0.6 for e in summary["cmim_cls"])
    assert "Table 8.1" in (out / "report.md").read_text()
    assert (out / "cmim_cls" / "figures" / "agreement.png").is_file()
