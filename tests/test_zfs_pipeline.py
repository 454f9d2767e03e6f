"""ZFS end to end through the CLI: synthetic data -> FC pretraining -> zero-shot evaluation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lococo.cli.main import main
from lococo.data.zsl.synth import synth_zsl

FAST = ["--profile", "quick", "--no-progress", "data.batch_size=32", "zsl.epochs=30"]


@pytest.fixture(scope="module")
def zsl_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zsl")
    synth_zsl(
        root, seed=3, classes=40, unseen=8, images_per_class=16, image_size=64, progress=False
    )
    return root


def _lococo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "lococo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr[-3000:])
    return proc


def _pretrain_and_evaluate(data: Path, run: Path, epochs: int) -> dict:
    assert (
        main(
            [
                "zfs",
                "pretrain",
                "--data",
                str(data),
                "--method",
                "fc",
                "--out",
                str(run),
                "--evaluate",
                *FAST,
                f"trainer.max_epochs={epochs}",
            ]
        )
        == 0
    )
    return json.loads((run / "results.json").read_text())


def test_fc_encoder_transfers_to_unseen_classes(zsl_data, tmp_path, capsys):
    """FC beats chance on unseen classes by a wide margin, and beats the untrained encoder."""
    results = _pretrain_and_evaluate(zsl_data, tmp_path / "fc", epochs=10)
    zsl = results["zsl"]
    assert zsl["chance"] == pytest.approx(1 / 8)
    assert zsl["top1"] > 2 * zsl["chance"], zsl
    assert 0 <= zsl["harmonic"] <= 1 and 0 <= zsl["top1_sample"] <= 1
    assert results["pretrain"]["epochs"] == 10 and results["pretrain"]["seen_classes"] == 32
    assert (tmp_path / "fc" / "config.yaml").exists() and (tmp_path / "fc" / "encoder.pt").exists()
    assert "top1" in capsys.readouterr().out
    untrained = _pretrain_and_evaluate(zsl_data, tmp_path / "untrained", epochs=0)["zsl"]
    assert untrained["top1"] < zsl["top1"] - 0.1, (untrained, zsl)


def test_bad_dataset_gives_one_line_and_no_output(zsl_data, tmp_path):
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(zsl_data, broken)
    labels = broken / "CUB_200_2011" / "image_class_labels.txt"
    lines = labels.read_text().splitlines()
    lines[6] = "7 banana"
    labels.write_text("\n".join(lines) + "\n")
    proc = _lococo(
        "zfs",
        "pretrain",
        "--data",
        str(broken),
        "--out",
        str(tmp_path / "run"),
        "--profile",
        "quick",
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "image_class_labels.txt:7" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_cli_errors_are_single_lines(tmp_path):
    proc = _lococo(
        "zfs",
        "pretrain",
        "--data",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "r"),
        check=False,
    )
    assert proc.returncode == 1 and "dataset directory not found" in proc.stderr
    proc = _lococo(
        "zfs",
        "pretrain",
        "--data",
        str(tmp_path),
        "--out",
        str(tmp_path / "r"),
        "optim.lrr=1",
        check=False,
    )
    assert proc.returncode == 2 and "unknown config key 'optim.lrr'" in proc.stderr
    assert proc.stderr.count("\n") == 1
    proc = _lococo("data", "check", str(tmp_path), "--format", "cub", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert _lococo("--version").stdout.startswith("lococo ")


def test_killed_pretraining_resumes_to_the_same_weights(zsl_data, tmp_path):
    args = [
        "zfs",
        "pretrain",
        "--data",
        str(zsl_data),
        *FAST,
        "trainer.max_epochs=5",
        "optim.scheduler=cosine",
        "checkpoint_interval_s=0",
    ]
    _lococo(*args, "--out", str(tmp_path / "full"))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lococo", *args, "--out", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt = killed / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "results.json").exists()  # it really died before finishing
    _lococo("zfs", "pretrain", "--out", str(killed), "--resume", "--no-progress")

    full = torch.load(tmp_path / "full" / "encoder.pt", weights_only=True)
    resumed = torch.load(killed / "encoder.pt", weights_only=True)
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    assert json.loads((killed / "results.json").read_text())["pretrain"]["resumed_from"]
