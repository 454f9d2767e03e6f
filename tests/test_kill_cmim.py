"""SIGKILL CMIM training (segmentation and classification) at several points, resume, and compare
with an uninterrupted run: ``model.pt`` bit for bit and the evaluation numbers equal (CPU, fixed
seeds); no file is ever truncated. The machinery is that of ``test_kill_zfs``.

To keep the slow suite short, one run is killed at every point in turn (each ``--resume`` is
itself killed at the next point) and only the last resume runs to the end: every point is hit
once per task with about half the processes of one fresh run per point. A kill point can only
be reached when the previous one was: the first run is fresh (before its first checkpoint); the
checkpoint write is then killed, so the next resume starts over and writes its first checkpoint
(between epochs); finally the resumed run is killed once training is over (during evaluation).
"""

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

pytestmark = pytest.mark.slow

SEG_FAST = ["--task", "seg", "--profile", "quick", "--no-progress", "trainer.max_epochs=3",
            "model.widths=[4,8]", "method.critic_hidden=8", "method.mi_level=1",
            "data.slices_per_epoch=8", "data.batch_size=4", "checkpoint_interval_s=0"]  # fmt: skip
CLS_FAST = ["--task", "cls", "--profile", "quick", "--no-progress", "trainer.max_epochs=3",
            "data.image_size=32", "data.max_len=32", "data.batch_size=16", "model.depth=10",
            "model.text_channels=16", "model.text_global=16", "model.joint_dim=16",
            "model.critic_hidden=16", "model.local_embed=16",
            "checkpoint_interval_s=0"]  # fmt: skip

#: (name, predicate on the run folder) in the order one run meets them
POINTS: list[tuple[str, Callable[[Path, str], Callable[[], bool]]]] = [
    ("before-first-checkpoint", lambda run, section: _has(run / "config.yaml")),
    ("during-checkpoint-write", lambda run, section: _temp_in(run / "checkpoints")),
    ("between-epochs", lambda run, section: _rewritten(run / "checkpoints" / "last.ckpt")),
    ("during-evaluation", lambda run, section: lambda: _section(run, section)),
]


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lococo.data.mri.synth import synth_mri

    root = tmp_path_factory.mktemp("kill_mri") / "mri"
    synth_mri(root, seed=0, cases=8, size=32, progress=False)
    return root


@pytest.fixture(scope="module")
def xrays(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lococo.data.cxr.synth import synth_cxr

    root = tmp_path_factory.mktemp("kill_cxr") / "cxr"
    synth_cxr(root, seed=3, reports=60, image_size=32, progress=False)
    return root


TASKS = {
    "seg": ("phantoms", SEG_FAST, "cmim_seg_train", "cmim_seg"),
    "cls": ("xrays", CLS_FAST, "cmim_cls_train", "cmim_cls"),
}


@pytest.mark.parametrize("task", TASKS)
def test_killed_cmim_training_resumes_to_the_uninterrupted_result(task, request, tmp_path):
    data_fixture, fast, train_section, eval_section = TASKS[task]
    data = request.getfixturevalue(data_fixture)
    args = ["cmim", "train", "--data", str(data), *fast]
    reference, run = tmp_path / "reference", tmp_path / "killed"
    lococo(*args, "--out", str(reference))
    resume = ["cmim", "train", "--task", task, "--out", str(run), "--resume", "--no-progress"]
    points = [lambda p=p: p(run, train_section) for _, p in POINTS]
    kill_chain([*args, "--out", str(run)], resume, points)
    lococo(*resume)
    assert_nothing_truncated(run)
    assert not temp_files(run), temp_files(run)
    assert_same_weights(reference / "model.pt", run / "model.pt")
    expected, got = results_of(reference), results_of(run)
    assert strip_timing(got[eval_section]) == strip_timing(expected[eval_section])
    assert got[train_section]["epochs"] == expected[train_section]["epochs"] == 3
