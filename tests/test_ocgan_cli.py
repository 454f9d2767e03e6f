"""``lococo ocgan train|sample|evaluate|donut|study`` through the command line: results, one-line
errors with nothing written, and (slow) objects recognisable above chance after brief training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_ocgan_train import TINY

from lococo.cli.main import main
from lococo.data.layout.synth import synth_layout

FAST = ["--profile", "quick", "--no-progress"] + [f"{k}={v}" for k, v in TINY.items()]
EVAL_FAST = ["eval.ca_epochs=1", "eval.kid_subsets=5", "eval.kid_subset_size=3", "eval.is_splits=2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ocgan_cli")
    synth_layout(root / "coco", seed=2, images=20, image_size=32, progress=False)
    run = root / "run"
    code = main(
        ["ocgan", "train", "--data", str(root / "coco"), "--out", str(run), *FAST,
         "trainer.max_epochs=1"]
    )  # fmt: skip
    assert code == 0
    return root / "coco", run


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if line.startswith("lococo: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in "\n".join(err)
    return lines[0]


def test_evaluate_writes_every_metric_with_the_substitute(trained, capsys):
    _, run = trained
    assert main(["ocgan", "evaluate", str(run), "--no-progress", *EVAL_FAST]) == 0
    section = json.loads((run / "results.json").read_text())["ocgan"]
    for key in ("fid", "kid", "is_mean", "is_std", "is_splits", "scene_fid", "ca", "ca_real"):
        assert isinstance(section[key], (int, float)), key
    assert section["ca_chance"] == round(1 / section["classes"], 4)
    assert section["comparable"] is False and section["extractor"].startswith("lococo-ca")
    assert "CA generated crops" in capsys.readouterr().out
    assert (run / "report.html").is_file()


def test_evaluate_without_inception_weights_is_one_line_and_writes_nothing(
    trained, capsys, monkeypatch
):
    _, run = trained
    monkeypatch.delenv("LOCOCO_WEIGHTS_DIR", raising=False)
    before = (run / "results.json").read_bytes()
    listing = sorted(p.relative_to(run) for p in run.rglob("*"))
    code = main(["ocgan", "evaluate", str(run), "eval.extractor=inception", "--no-progress"])
    assert code != 0
    line = _one_line(capsys)
    assert "weights-inception-2015-12-05-6726825d.pth" in line and "--substitute" in line
    assert (run / "results.json").read_bytes() == before
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == listing


def test_train_with_a_missing_sgsm_run_is_one_line_and_creates_nothing(trained, tmp_path, capsys):
    data, _ = trained
    out = tmp_path / "gan"
    args = ["ocgan", "train", "--data", str(data), "--sgsm", str(tmp_path / "nosgsm")]
    code = main([*args, "--out", str(out), *FAST, "model.sgsm=true"])
    assert code != 0
    assert "sgsm.pt" in _one_line(capsys)
    assert not out.exists()


def test_train_refuses_missing_vgg_weights_without_the_substitute(trained, tmp_path, capsys):
    data, _ = trained
    out = tmp_path / "gan"
    args = ["ocgan", "train", "--data", str(data), "--out", str(out), *FAST]
    assert main([*args, "loss.perceptual=vgg19", "loss.perceptual_weights=/absent/vgg.pth"]) != 0
    assert "/absent/vgg.pth" in _one_line(capsys)
    assert not out.exists()


def test_sample_and_donut_through_the_cli(trained, tmp_path, capsys):
    _, run = trained
    layouts = tmp_path / "l.json"
    layouts.write_text(json.dumps([[{"label": "ring", "box": [0.2, 0.2, 0.7, 0.7]}]]))
    out = tmp_path / "s"
    assert main(["ocgan", "sample", str(run), "--layouts", str(layouts), "--out", str(out)]) == 0
    assert (out / "images" / "scene0_0.png").is_file() and (out / "editing.png").is_file()
    layouts.write_text(json.dumps([[{"label": "ring", "box": [0.2, 0.2, 0.7, 1.5]}]]))
    assert (
        main(["ocgan", "sample", str(run), "--layouts", str(layouts), "--out", str(tmp_path / "t")])
        != 0
    )
    line = _one_line(capsys)
    assert str(layouts) in line and "scene 0, object 0" in line
    assert not (tmp_path / "t").exists()
    assert main(["ocgan", "donut", str(run), "--out", str(tmp_path / "d"), "--layouts", "2"]) == 0
    assert json.loads((tmp_path / "d" / "donut.json").read_text())["models"]


@pytest.mark.slow
def test_briefly_trained_quick_model_draws_recognisable_objects(tmp_path):
    """Quick profile (batch 8), 6 epochs on 200 scenes (~120 iterations), no SGSM: CA on the
    generated crops must beat chance (1/12) by a wide margin."""
    synth_layout(tmp_path / "coco", seed=0, images=200, image_size=32, progress=False,
                 class_colours=True)  # fmt: skip
    run = tmp_path / "run"
    args = ["ocgan", "train", "--data", str(tmp_path / "coco"), "--out", str(run)]
    assert main([*args, "--profile", "quick", "--no-progress", "model.sgsm=false",
                 "trainer.max_epochs=6", "--evaluate", "eval.ca_epochs=4"]) == 0  # fmt: skip
    section = json.loads((run / "results.json").read_text())["ocgan"]
    assert section["ca"] > 2.5 * section["ca_chance"], section
    assert section["ca_real"] > section["ca"]
