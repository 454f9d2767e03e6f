"""SIGINT/SIGTERM during training: a final checkpoint, one line saying how to resume, 130/143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lococo.engine import signals
from lococo.engine.callbacks import load_checkpoint
from lococo.engine.run_dir import RunDir
from lococo.engine.trainer import build_trainer
from lococo.errors import Interrupted


class _Signalling(L.LightningModule):
    """A linear model that sends ``signum`` to its own process at step ``at``."""

    def __init__(self, signum: int, at: int) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.signum, self.at = signum, at

    def training_step(self, batch, idx):
        if self.global_step == self.at:
            os.kill(os.getpid(), self.signum)
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_at_the_batch_end_and_raises(tmp_path, signum):
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
    run = RunDir(tmp_path / "run")
    trainer = build_trainer(run, {"max_epochs": 5, "accelerator": "cpu"}, progress=False)
    signals.install()
    try:
        with pytest.raises(Interrupted) as caught:
            trainer.fit(_Signalling(signum, at=6), DataLoader(data, batch_size=8))
    finally:
        signals.uninstall()
    err = caught.value
    assert err.signum == signum and err.exit_code == 128 + signum
    assert err.checkpoint == run.last_checkpoint
    saved = load_checkpoint(run.last_checkpoint)
    assert saved["global_step"] == 7  # the batch during which the signal came was finished
    assert err.where == "epoch 0, step 7"


def test_signal_outside_training_stops_at_once(tmp_path):
    signals.install()
    try:
        with pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    finally:
        signals.uninstall()
    assert caught.value.checkpoint is None and caught.value.exit_code == 143


def test_ctrl_c_during_cli_training_exits_130_with_resume_line(tmp_path):
    from lococo.data.zsl.synth import synth_zsl

    data = tmp_path / "data"
    synth_zsl(data, seed=1, classes=8, unseen=2, images_per_class=8, image_size=32, progress=False)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    command = [sys.executable, "-m", "lococo", "zfs", "pretrain", "--data", str(data)]
    command += ["--out", str(run), "--profile", "quick", "--no-progress", "data.batch_size=4"]
    command += ["trainer.max_epochs=1000"]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (run / "logs" / "csv" / "metrics.csv").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "training never started"
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr
    assert lines[0].startswith("lococo: interrupted by SIGINT at epoch ")
    assert f"checkpoint saved to {run / 'checkpoints' / 'last.ckpt'}" in lines[0]
    assert lines[0].endswith("trainer.max_epochs=1000 --resume")
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert not (run / "results.json").exists()  # not mislabelled as finished
