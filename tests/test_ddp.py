"""Two-process DDP on CPU (gloo) gives a valid run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from lococo.data.zsl.synth import synth_zsl


def test_two_process_ddp_on_cpu(tmp_path):
    data = tmp_path / "zsl"
    synth_zsl(
        data, seed=1, classes=10, unseen=3, images_per_class=12, image_size=32, progress=False
    )
    run = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lococo",
            "zfs",
            "pretrain",
            "--data",
            str(data),
            "--out",
            str(run),
            "--profile",
            "quick",
            "--no-progress",
            "--evaluate",
            "data.image_size=32",
            "trainer.max_epochs=2",
            "trainer.devices=2",
            "trainer.strategy=ddp",
            "zsl.epochs=5",
            "data.batch_size=8",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((run / "results.json").read_text())
    # 7 seen classes x 9-10 trainval images, batch 8 per process, 2 processes -> half the steps
    per_process = -(-results["pretrain"]["train_images"] // 2)
    assert results["pretrain"]["steps"] == 2 * (per_process // 8)
    assert 0.0 <= results["zsl"]["top1"] <= 1.0
    assert proc.stdout.count("pretrained fc encoder") == 1  # only rank 0 reports
    weights = torch.load(run / "encoder.pt", weights_only=True)
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())
