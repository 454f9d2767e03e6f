"""``--resume`` of CMIM (seg, cls) and SGSM runs: changed settings are refused with one line
and nothing written; a finished run keeps its results; training longer is accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from lococo.cli.main import main
from lococo.config.loading import load_config, to_dict
from lococo.engine.resume import resume_config
from lococo.engine.run_dir import RunDir
from lococo.errors import ConfigError

#: system -> (config schema import path, command line, train results section, model file)
SYSTEMS = {
    "cmim_seg": (
        "lococo.cmim.seg_config:SegConfig",
        ["cmim", "train", "--task", "seg"],
        "cmim_seg_train",
        "model.pt",
    ),
    "cmim_cls": (
        "lococo.cmim.cls_config:ClsConfig",
        ["cmim", "train", "--task", "cls"],
        "cmim_cls_train",
        "model.pt",
    ),
    "sgsm": (
        "lococo.ocgan.config:SGSMRunConfig",
        ["ocgan", "pretrain-sgsm"],
        "sgsm",
        "sgsm.pt",
    ),
}


def _schema(system: str):
    module, name = SYSTEMS[system][0].split(":")
    return getattr(__import__(module, fromlist=[name]), name)


def _stored_run(system: str, path: Path, **overrides) -> dict:
    """A run directory holding only the saved config (what --resume reads first)."""
    cfg = load_config(
        _schema(system), system=system, profile="quick", overrides={"data.path": "/x", **overrides}
    )
    saved = {**to_dict(cfg), "meta": {"command": "lococo test"}}
    RunDir(path).write_config(saved)
    return saved


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def _resume(system: str, run: Path, *extra: str) -> list[str]:
    return [*SYSTEMS[system][1], "--out", str(run), "--resume", "--no-progress", *extra]


@pytest.mark.parametrize("system", SYSTEMS)
def test_resume_with_changed_settings_is_refused_and_writes_nothing(system, tmp_path, capsys):
    run = tmp_path / "run"
    saved = _stored_run(system, run)
    before = _snapshot(run)
    lr = saved["optim"]["lr"]
    assert main(_resume(system, run, f"optim.lr={lr * 3}")) == 2
    err = capsys.readouterr().err
    assert err.startswith("lococo: error: ") and err.count("\n") == 1, err
    assert f"optim.lr: {lr!r} -> {lr * 3!r}" in err and "another --out" in err
    # a --config file is compared too, not silently ignored
    other = tmp_path / "other.yaml"
    other.write_text(f"data:\n  batch_size: {saved['data']['batch_size'] + 1}\n")
    assert main(_resume(system, run, "--config", str(other))) == 2
    assert "data.batch_size" in capsys.readouterr().err
    assert main(_resume(system, run, "--data", str(tmp_path / "elsewhere"))) == 2
    assert "data.path: '/x' -> " in capsys.readouterr().err
    assert _snapshot(run) == before


@pytest.mark.parametrize("system", SYSTEMS)
def test_resume_of_a_finished_run_keeps_its_results(system, tmp_path, capsys):
    run = tmp_path / "run"
    saved = _stored_run(system, run)
    _, _, section, model_file = SYSTEMS[system]
    epochs = saved["trainer"]["max_epochs"]
    done = {"method": "x", "epochs": epochs, "fit_seconds": 12.5, "metrics": {"a": 1.0}}
    done.update({"image_encoder": "small_cnn", "chance_r1": 0.1, "candidates": 10})
    done.update({f"{d}_r{k}": 0.5 for d in ("g2i", "i2g") for k in (1, 5)})
    done["eval_split"] = "val"
    (run / "results.json").write_text(json.dumps({section: done}))
    torch.save({}, run / model_file)
    before = _snapshot(run)
    # the same value as saved is no change: accepted
    same = f"data.batch_size={saved['data']['batch_size']}"
    extra = ["--no-evaluate"] if system != "sgsm" else []
    code = main(_resume(system, run, same, *extra))
    out = capsys.readouterr().out
    if system == "sgsm":  # its report is rendered from the stored results
        assert code == 0 and "12" in out
        assert json.loads((run / "results.json").read_text()) == {section: done}
    else:
        assert code == 0 and out.startswith("already finished: ")
        assert _snapshot(run) == before


def test_training_longer_is_the_one_accepted_change(tmp_path):
    from lococo.cmim.seg_config import SegConfig

    run = RunDir(tmp_path / "run")
    saved = _stored_run("cmim_seg", run.path)
    longer = saved["trainer"]["max_epochs"] + 3
    cfg = resume_config(run, SegConfig, {"trainer.max_epochs": longer})
    assert cfg.trainer["max_epochs"] == longer
    stored = yaml.safe_load(run.config.read_text())
    assert stored["trainer"]["max_epochs"] == longer and stored["meta"] == saved["meta"]
    with pytest.raises(ConfigError, match=r"trainer\.max_epochs"):  # shorter: refused
        resume_config(run, SegConfig, {"trainer.max_epochs": 1, "optim.lr": 9.0})
