"""The ZFS study grid: cells, summaries over seeds, skipping finished cells, submitit jobs."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from lococo.cli.main import main
from lococo.data.zsl.synth import synth_zsl
from lococo.errors import LococoError
from lococo.zfs import study
from lococo.zfs.study import StudySpec, grid, summarize

TINY = {
    "trainer.max_epochs": 1,
    "zsl.epochs": 3,
    "data.batch_size": 16,
    "data.image_size": 32,
    "analysis.critic_steps": 20,
    "analysis.pairs": 100,
    "analysis.probe_epochs": 3,
    "analysis.tre_steps": 20,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("zsl")
    synth_zsl(root, seed=2, classes=10, unseen=3, images_per_class=8, image_size=32, progress=False)
    return root


def test_grid_expands_cmdim_probabilities():
    spec = StudySpec(
        data="x",
        methods=["fc", "cmdim"],
        local_losses=["none", "ac"],
        encoders=["basic"],
        seeds=[0, 1],
        cmdim_p=[1.0, 0.5],
    )
    cells = grid(spec)
    assert len(cells) == 2 * 2 * (1 + 2)
    assert {c.model for c in cells} == {"fc", "cmdim_p1", "cmdim_p0.5"}
    assert len({c.name for c in cells}) == len(cells)
    cmdim = next(c for c in cells if c.model == "cmdim_p0.5")
    assert study.cell_config(spec, cmdim).method.p == 0.5
    with pytest.raises(LococoError, match="unknown method 'resnet'"):
        grid(StudySpec(data="x", methods=["resnet"]))


def test_summary_mean_and_std_over_seeds():
    rows = [
        {
            "model": "fc",
            "local_loss": "none",
            "encoder": "basic",
            "chance": 0.1,
            **{m: v for m in study.METRICS},
        }
        for v in (0.2, 0.4, 0.9)
    ]
    (entry,) = summarize(rows)
    assert entry["seeds"] == 3
    assert entry["top1_mean"] == pytest.approx(0.5)
    assert entry["top1_std"] == pytest.approx(statistics.stdev([0.2, 0.4, 0.9]))


def test_local_study_writes_summary_and_skips_finished_cells(data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "study"
    args = [
        "zfs",
        "study",
        "--data",
        str(data),
        "--out",
        str(out),
        "--methods",
        "fc",
        "--local-losses",
        "none,lc",
        "--seeds",
        "0,1",
        "--profile",
        "quick",
        "--no-progress",
        *[f"{k}={v}" for k, v in TINY.items()],
    ]
    assert main(args) == 0
    with open(out / "summary.csv") as handle:
        summary = list(csv.DictReader(handle))
    assert {(r["model"], r["local_loss"], r["seeds"]) for r in summary} == {
        ("fc", "none", "2"),
        ("fc", "lc", "2"),
    }
    results = json.loads((out / "results.json").read_text())
    assert len(results["cells"]) == 4
    assert all(0.0 <= c["parts_f1"] <= 1.0 and c["tre_ratio"] > 0 for c in results["cells"])
    # fig. 4.3 needs a plain and a local-loss model; figs. 4.4/4.6/A.5 need analysed cells
    for name in ("local_loss_gain", "heatmap_grid", "avg_repr_vs_avg_pred", "receptive_field"):
        assert f"figures/{name}.png" in results["figures"]
        assert (out / "figures" / f"{name}.png").stat().st_size > 0
    assert "zero-shot top-1" in capsys.readouterr().out

    def fail(*a, **k):
        raise AssertionError("a finished cell ran again")

    monkeypatch.setattr(study, "run_cell", fail)
    assert main(args) == 0


def test_submitit_launcher_runs_cells_as_jobs(data, tmp_path):
    pytest.importorskip("submitit")
    spec = StudySpec(data=str(data), methods=["fc"], seeds=[0], overrides=dict(TINY))
    result = study.run_study(spec, tmp_path / "s", launcher="submitit-local", progress=False)
    assert len(result["cells"]) == 1
    assert list((tmp_path / "s" / "jobs").iterdir())  # submitit's job folder with logs


def test_compare_studies_draws_one_tre_panel_per_dataset(tmp_path, capsys):
    from lococo.io import write_json

    def study(name: str, fmt: str, slope: float) -> str:
        rows = [
            {
                "model": f"m{i}",
                "local_loss": "none",
                "encoder": "basic",
                "seeds": 1,
                "top1_mean": 0.5 - slope * i / 10,
                "tre_ratio_mean": 0.7 + i / 20,
                "zsl_avg_repr_mean": 0.3,
                "zsl_avg_pred_mean": 0.2,
            }
            for i in range(4)
        ]
        write_json(
            tmp_path / name / "results.json",
            {"study": {"overrides": {"data.format": fmt}}, "summary": rows},
        )
        return str(tmp_path / name)

    out = tmp_path / "cmp"
    args = ["zfs", "compare", study("a", "cub", 1.0), study("b", "sun", 0.5), "--out", str(out)]
    assert main(args) == 0
    rows = json.loads((out / "summary.json").read_text())
    assert {r["dataset"] for r in rows} == {"cub", "sun"}
    assert (out / "figures" / "tre_ratio_vs_zsl.png").stat().st_size > 0
    assert (out / "figures" / "avg_repr_vs_avg_pred.png").stat().st_size > 0
    assert main(["zfs", "compare", str(tmp_path / "nothing"), "--out", str(out)]) == 1
    assert "results.json: missing" in capsys.readouterr().err
