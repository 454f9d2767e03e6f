"""SIGKILL OC-GAN training at several points, resume it, and compare with an uninterrupted run:
``generator.pt`` bit for bit (CPU, fixed seeds); no file is ever truncated. The machinery is
that of ``test_kill_zfs``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_kill_zfs import (
    _has,
    _section,
    _temp_in,
    assert_nothing_truncated,
    assert_same_weights,
    kill_when,
    lococo,
    temp_files,
)

from lococo.data.layout.synth import synth_layout

pytestmark = pytest.mark.slow

FAST = ["--profile", "quick", "--no-progress", "trainer.max_epochs=3", "data.batch_size=8",
        "model.g_channels=8", "model.d_channels=8", "model.sgsm=false",
        "checkpoint_interval_s=0"]  # fmt: skip

POINTS: dict[str, Callable[[Path], Callable[[], bool]]] = {
    "before-first-checkpoint": lambda run: _has(run / "config.yaml"),
    "during-checkpoint-write": lambda run: _temp_in(run / "checkpoints"),
    "between-epochs": lambda run: _has(run / "checkpoints" / "last.ckpt"),
    "after-generator-file": lambda run: _has(run / "generator.pt"),
    "during-results": lambda run: lambda: _section(run, "ocgan_train"),
}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill_gan_scenes") / "coco"
    synth_layout(root, seed=0, images=24, image_size=32, workers=1, progress=False)
    return root


def train_args(scenes: Path) -> list[str]:
    return ["ocgan", "train", "--data", str(scenes), *FAST]


@pytest.fixture(scope="module")
def reference(scenes, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kill_gan") / "reference"
    lococo(*train_args(scenes), "--out", str(out))
    return out


@pytest.mark.parametrize("point", list(POINTS))
def test_killed_gan_training_resumes_to_the_uninterrupted_result(
    point, scenes, reference, tmp_path
):
    run = tmp_path / point
    kill_when([*train_args(scenes), "--out", str(run)], POINTS[point](run))
    assert_nothing_truncated(run)
    if (run / "config.yaml").exists():
        lococo("ocgan", "train", "--out", str(run), "--resume", "--no-progress")
    else:  # killed before anything was written: the same command starts afresh
        lococo(*train_args(scenes), "--out", str(run))
    assert_nothing_truncated(run)
    assert_same_weights(reference / "generator.pt", run / "generator.pt")
    assert (run / "report.html").is_file()
    assert not temp_files(run), temp_files(run)
