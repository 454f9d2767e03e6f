"""SIGKILL an SGSM pretraining run (OC-GAN) at five points (one run killed at each in turn),
resume it, and compare with an uninterrupted run: ``sgsm.pt`` bit for bit and the retrieval
numbers equal (CPU, fixed seeds); no file is ever truncated. The machinery is that of
``test_kill_zfs``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_kill_zfs import (
    _has,
    _rewritten,
    _section,
    _temp_in,
    assert_nothing_truncated,
    assert_same_weights,
    kill_chain,
    lococo,
    results_of,
    strip_timing,
    temp_files,
)

from lococo.data.layout.synth import synth_layout

pytestmark = pytest.mark.slow

FAST = ["--profile", "quick", "--no-progress", "trainer.max_epochs=3", "data.batch_size=8",
        "eval.candidates=4", "checkpoint_interval_s=0"]  # fmt: skip

# in the order one run meets them (see test_kill_zfs.kill_chain)
POINTS: dict[str, Callable[[Path], Callable[[], bool]]] = {
    "before-first-checkpoint": lambda run: _has(run / "config.yaml"),
    "during-checkpoint-write": lambda run: _temp_in(run / "checkpoints"),
    "between-epochs": lambda run: _rewritten(run / "checkpoints" / "last.ckpt"),
    "during-evaluation": lambda run: _has(run / "sgsm.pt"),
    "during-report-writing": lambda run: lambda: _section(run, "sgsm"),
}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill_scenes") / "coco"
    synth_layout(root, seed=0, images=24, image_size=32, workers=1, progress=False)
    return root


def sgsm_args(scenes: Path) -> list[str]:
    return ["ocgan", "pretrain-sgsm", "--data", str(scenes), *FAST]


@pytest.fixture(scope="module")
def reference(scenes, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kill_sgsm") / "reference"
    lococo(*sgsm_args(scenes), "--out", str(out))
    return out


def test_killed_sgsm_pretraining_resumes_to_the_uninterrupted_result(scenes, reference, tmp_path):
    run = tmp_path / "killed"
    resume = ["ocgan", "pretrain-sgsm", "--out", str(run), "--resume", "--no-progress"]
    points = [lambda p=p: p(run) for p in POINTS.values()]
    kill_chain([*sgsm_args(scenes), "--out", str(run)], resume, points)
    lococo(*resume)
    assert_nothing_truncated(run)
    assert_same_weights(reference / "sgsm.pt", run / "sgsm.pt")
    assert strip_timing(results_of(run)["sgsm"]) == strip_timing(results_of(reference)["sgsm"])
    assert (run / "report.html").is_file()
    assert not temp_files(run), temp_files(run)
