"""``lococo zfs evaluate`` names the weights it used and refuses unfinished runs by default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from lococo.cli.main import main
from lococo.data.zsl.synth import synth_zsl

FAST = ["--no-progress", "zsl.epochs=3"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("zsl")
    synth_zsl(data, seed=5, classes=8, unseen=3, images_per_class=6, image_size=32, progress=False)
    run = tmp_path_factory.mktemp("runs") / "fc"
    args = ["zfs", "pretrain", "--data", str(data), "--method", "fc", "--out", str(run)]
    quick = ["--profile", "quick", "data.image_size=32", "data.batch_size=16"]
    assert main([*args, *quick, "--no-progress", "trainer.max_epochs=1"]) == 0
    assert (run / "checkpoints" / "last.ckpt").exists()
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def _interrupted(run: Path, tmp_path: Path) -> Path:
    """A copy of ``run`` as if killed between its last checkpoint and the end of pretraining."""
    copy = _copy(run, tmp_path)
    (copy / "encoder.pt").unlink()
    results = _results(copy)
    del results["pretrain"]
    (copy / "results.json").write_text(json.dumps(results))
    return copy


def _results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def test_finished_run_names_encoder_weights(finished_run, tmp_path, capsys):
    run = _copy(finished_run, tmp_path)
    assert main(["zfs", "evaluate", str(run), *FAST]) == 0
    zsl = _results(run)["zsl"]
    assert zsl["checkpoint"] == "encoder.pt" and zsl["epoch"] == 1
    assert zsl["from_unfinished_run"] is False
    assert f"weights: {run}/encoder.pt (epoch 1, finished run)" in capsys.readouterr().out


def test_interrupted_run_is_refused_unless_allowed(finished_run, tmp_path, capsys):
    run = _interrupted(finished_run, tmp_path)
    assert main(["zfs", "evaluate", str(run), *FAST]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pretraining has not finished" in err
    assert "--allow-unfinished" in err and "checkpoints/last.ckpt" in err
    assert "zsl" not in _results(run)

    assert main(["zfs", "evaluate", str(run), "--allow-unfinished", *FAST]) == 0
    zsl = _results(run)["zsl"]
    assert zsl["from_unfinished_run"] is True
    assert zsl["checkpoint"] == "checkpoints/last.ckpt" and isinstance(zsl["epoch"], int)
    assert "UNFINISHED run" in capsys.readouterr().out


def test_run_extended_but_not_trained_longer_is_unfinished(finished_run, tmp_path, capsys):
    """A run whose config asks for more epochs than it trained (resumed, then stopped)."""
    run = _copy(finished_run, tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["trainer"]["max_epochs"] = 3
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["zfs", "evaluate", str(run), *FAST]) == 1
    assert "of 3" in capsys.readouterr().err
    assert main(["zfs", "evaluate", str(run), "--allow-unfinished", *FAST]) == 0
    assert _results(run)["zsl"]["from_unfinished_run"] is True


def test_analyze_follows_the_same_rule_and_names_its_weights(finished_run, tmp_path, capsys):
    analysis = ["analysis.train_images=40", "analysis.test_images=20", "analysis.critic_steps=2",
                "analysis.pairs=4", "zsl.epochs=2", "--no-progress"]  # fmt: skip
    run = _interrupted(finished_run, tmp_path)
    assert main(["zfs", "analyze", str(run), *analysis]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pretraining has not finished" in err
    assert "analysis" not in _results(run)
    assert main(["zfs", "analyze", str(run), "--allow-unfinished", *analysis]) == 0
    result = _results(run)["analysis"]
    assert result["from_unfinished_run"] is True and result["checkpoint"] == "checkpoints/last.ckpt"

    done = _copy(finished_run, tmp_path / "done")
    assert main(["zfs", "analyze", str(done), *analysis]) == 0
    result = _results(done)["analysis"]
    assert result["from_unfinished_run"] is False and result["checkpoint"] == "encoder.pt"
