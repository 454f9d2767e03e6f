"""Config values are validated before anything is written: one line naming key, value and what
is allowed; exit code 2; no run directory left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lococo.cli.main import main
from lococo.config.validation import check_trainer_values, check_value, did_you_mean
from lococo.errors import ConfigError

BAD = [
    ("trainer.max_epochs=abc", "trainer.max_epochs='abc'"),
    ("trainer.max_epochs=-1", "trainer.max_epochs=-1"),
    ("data.batch_size=0", "data.batch_size=0"),
    ("optim.lr=nan", "optim.lr=nan"),
    ("optim.lr=-1e-3", "optim.lr=-0.001"),
    ("trainer.precision=bogus", "trainer.precision='bogus'"),
    ("trainer.devices=x", "trainer.devices='x'"),
    ("zsl.epochs=0", "zsl.epochs=0"),
    ("method.p=1.5", "method.p=1.5"),
    ("data.image_size=48", "data.image_size=48"),
    ("data.num_workers=-2", "data.num_workers=-2"),
    ("data.bach_size=3", "did you mean 'data.batch_size'"),
    ("trainer.max_epoch=3", "did you mean 'trainer.max_epochs'"),
]


@pytest.mark.parametrize(("override", "shown"), BAD)
def test_bad_value_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, override, shown):
    out = tmp_path / "run"
    code = main(
        [
            "zfs",
            "pretrain",
            "--data",
            str(tmp_path / "nodata"),
            "--out",
            str(out),
            "--profile",
            "quick",
            "--no-progress",
            override,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and err.startswith("lococo: error: ")
    assert shown in err
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_accelerator_without_gpu_is_refused(tmp_path, capsys):
    code = main(
        [
            "zfs",
            "pretrain",
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "r"),
            "trainer.accelerator=gpu",
        ]
    )
    assert code == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_config_that_is_a_directory_or_bad_yaml(tmp_path, capsys):
    args = ["zfs", "pretrain", "--data", str(tmp_path), "--out", str(tmp_path / "r")]
    assert main([*args, "--config", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  batch_size: 4\n  image_size: [64\n")
    assert main([*args, "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: not valid YAML (line 4" in err and err.count("\n") == 1
    bad.write_text("data:\n  batch_size: 0\n")
    assert main([*args, "--config", str(bad)]) == 2
    assert f"{bad}: data.batch_size=0" in capsys.readouterr().err


def test_cli_subprocess_exit_code_and_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lococo",
            "zfs",
            "pretrain",
            "--data",
            str(tmp_path),
            "--out",
            str(out),
            "optim.lr=nan",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0
    assert not out.exists()
    verbose = subprocess.run(
        [
            sys.executable,
            "-m",
            "lococo",
            "-v",
            "zfs",
            "pretrain",
            "--data",
            str(tmp_path),
            "--out",
            str(out),
            "optim.lr=nan",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr


@pytest.mark.parametrize(
    ("cfg", "ok"),
    [
        ({"devices": 2, "accelerator": "cpu"}, True),
        ({"devices": "auto"}, True),
        ({"devices": -1}, True),
        ({"devices": [0, 1], "accelerator": "cpu"}, True),
        ({"devices": 0}, False),
        ({"devices": [-1]}, False),
        ({"devices": True}, False),
        ({"max_epochs": 3.0}, True),
        ({"max_epochs": 2.5}, False),
        ({"max_steps": -1}, True),
        ({"max_steps": 0}, False),
        ({"precision": "bf16-mixed"}, True),
        ({"precision": 16}, True),
        ({"accelerator": "quantum"}, False),
    ],
)
def test_trainer_values(cfg, ok):
    if ok:
        check_trainer_values(dict(cfg))
    else:
        with pytest.raises(ConfigError, match="trainer\\."):
            check_trainer_values(dict(cfg))


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("a.batch_size", 1, True),
        ("a.batch_size", 0, False),
        ("a.embed_dim", 0, False),
        ("analysis.probe_epochs", 0, False),
        ("analysis.train_images", 0, True),  # 0 means "every image" there
        ("optim.weight_decay", 0.0, True),
        ("optim.beta2", 1.0, False),
        ("method.local_loss_weight", -0.1, False),
        ("cmdim.p", [0.1, 1.0], True),
        ("cmdim.p", [0.1, 1.1], False),
        ("x.tre_threshold", float("inf"), False),
        ("x.flag", True, True),
    ],
)
def test_range_rules_by_key_name(key, value, ok):
    if ok:
        check_value(key, value)
    else:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            check_value(key, value)


def test_did_you_mean():
    assert did_you_mean("lrr", ["lr", "weight_decay"], "optim.") == " (did you mean 'optim.lr'?)"
    assert did_you_mean("zzzz", ["lr", "weight_decay"]) == ""
