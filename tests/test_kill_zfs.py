"""SIGKILL at chosen points, then resume: the results equal an uninterrupted run's and no file is
ever truncated.

Each point is hit by watching the run folder from outside (polling every 0.5 ms for a file to
appear), never by hooks in the engine. After every kill, each JSON/YAML file must parse and each
``.pt``/``.ckpt`` must load (``weights_only=True``): atomic writes leave either the old file or
the new one, never half of one. The resumed run must match the uninterrupted reference exactly:
encoder weights bit for bit and the evaluation/analysis numbers equal (CPU, fixed seeds;
timing fields excepted).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from lococo.data.zsl.synth import synth_zsl

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
FAST = ["--profile", "quick", "--no-progress", "trainer.max_epochs=3", "zsl.epochs=3",
        "data.batch_size=8", "checkpoint_interval_s=0"]  # fmt: skip
STUDY_FAST = [*FAST, "analysis.critic_steps=10", "analysis.pairs=40", "analysis.train_images=40",
              "analysis.test_images=20"]  # fmt: skip
TIMING_KEYS = {"fit_seconds", "seconds", "images_per_second", "time", "started", "finished",
               "wall_seconds", "resumed_from", "host", "date", "elapsed_s"}  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill_data")
    synth_zsl(root, seed=0, classes=6, unseen=2, images_per_class=4, image_size=64, workers=1,
              progress=False)  # fmt: skip
    return root


def lococo(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "lococo", *args], capture_output=True,
                          text=True, env=ENV, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def kill_when(args: list[str], ready: Callable[[], bool], timeout: float = 600) -> None:
    """Start ``lococo *args``, SIGKILL it the moment ``ready()`` holds; fail if it ends first."""
    proc = subprocess.Popen([sys.executable, "-m", "lococo", *args], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ready():
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return
            time.sleep(0.0005)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pytest.fail(f"the kill point was not reached (exit code {proc.returncode})")


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.tmp")] if folder.exists() else []


def assert_nothing_truncated(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".yaml":
            yaml.safe_load(path.read_text())
        elif path.suffix in (".pt", ".ckpt"):
            torch.load(path, map_location="cpu", weights_only=True)


def results_of(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def strip_timing(value):
    if isinstance(value, dict):
        return {k: strip_timing(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [strip_timing(v) for v in value]
    return value


def assert_same_state(a, b, where: str = "") -> None:
    """Nested state (tensors, dicts, lists, plain values) equal bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def assert_same_weights(a: Path, b: Path) -> None:
    load = lambda p: torch.load(p, map_location="cpu", weights_only=True)  # noqa: E731
    assert_same_state(load(a), load(b), b.name)


# ---------------------------------------------------------------- pretraining


def _has(path: Path) -> Callable[[], bool]:
    return path.exists


def _temp_in(folder: Path) -> Callable[[], bool]:
    return lambda: bool(temp_files(folder))


def _section(run: Path, name: str) -> bool:
    try:
        return name in results_of(run)
    except (OSError, ValueError):
        return False


def _rewritten(path: Path) -> Callable[[], bool]:
    """True once ``path`` is (re)written after this call."""
    before = path.stat().st_mtime_ns if path.exists() else None
    return lambda: path.exists() and path.stat().st_mtime_ns != before


def kill_chain(
    start: list[str], resume: list[str], points: list[Callable[[], Callable[[], bool]]]
) -> None:
    """Run ``lococo *start`` and SIGKILL it at ``points[0]``, then ``lococo *resume`` killed at
    ``points[1]``, and so on (each point's predicate is made just before its process starts);
    every kill must leave no truncated file. The caller then resumes to the end.

    One run killed at every point in turn hits each point once with about half the processes
    of one fresh run per point; the points must come in the order one run meets them."""
    for i, point in enumerate(points):
        kill_when(start if i == 0 else resume, point())
        assert_nothing_truncated(Path(start[start.index("--out") + 1]))


# in the order one run meets them: killed while writing its first checkpoint, the next resume
# starts over and is killed once that checkpoint exists (between epochs)
PRETRAIN_POINTS: dict[str, Callable[[Path], Callable[[], bool]]] = {
    "before-first-checkpoint": lambda run: _has(run / "config.yaml"),
    "during-checkpoint-write": lambda run: _temp_in(run / "checkpoints"),
    "between-epochs": lambda run: _rewritten(run / "checkpoints" / "last.ckpt"),
    "during-final-weights-write": lambda run: (
        lambda: any(p.name.startswith(".encoder.pt") for p in temp_files(run))
    ),
    "during-evaluation": lambda run: lambda: _section(run, "pretrain"),
}


@pytest.fixture(scope="module")
def pretrain_reference(data, tmp_path_factory) -> Path:
    reference = tmp_path_factory.mktemp("kill_pretrain") / "reference"
    lococo(*pretrain_args(data), "--out", str(reference))
    return reference


def pretrain_args(data: Path) -> list[str]:
    return ["zfs", "pretrain", "--data", str(data), "--evaluate", *FAST]


def test_killed_pretraining_resumes_to_the_uninterrupted_result(data, pretrain_reference, tmp_path):
    reference, run = pretrain_reference, tmp_path / "killed"
    resume = ["zfs", "pretrain", "--out", str(run), "--resume", "--evaluate", "--no-progress"]
    points = [lambda p=p: p(run) for p in PRETRAIN_POINTS.values()]
    kill_chain([*pretrain_args(data), "--out", str(run)], resume, points)
    lococo(*resume)
    assert_nothing_truncated(run)
    assert not temp_files(run), temp_files(run)
    assert_same_weights(reference / "encoder.pt", run / "encoder.pt")
    assert strip_timing(results_of(run)["zsl"]) == strip_timing(results_of(reference)["zsl"])


# ---------------------------------------------------------------- study


def _cells(study: Path) -> list[Path]:
    return sorted(p.parent for p in study.glob("cells/*/config.yaml"))


def _any_cell(study: Path, test: Callable[[Path], bool]) -> Callable[[], bool]:
    return lambda: any(test(cell) for cell in _cells(study))


# in the order one study meets them (see kill_chain)
STUDY_POINTS: dict[str, Callable[[Path], Callable[[], bool]]] = {
    "before-first-checkpoint": lambda s: _any_cell(s, lambda c: True),
    "during-checkpoint-write": lambda s: _any_cell(
        s, lambda c: bool(temp_files(c / "checkpoints"))
    ),
    "during-evaluation": lambda s: _any_cell(
        s, lambda c: _section(c, "pretrain") and not _section(c, "zsl")
    ),
    "between-cells": lambda s: _any_cell(s, lambda c: _section(c, "analysis")),
    "during-report-writing": lambda s: _has(s / "summary.csv"),
}


def study_args(data: Path) -> list[str]:
    return ["zfs", "study", "--data", str(data), "--methods", "fc", "--seeds", "0,1", *STUDY_FAST]


@pytest.fixture(scope="module")
def study_reference(data, tmp_path_factory) -> Path:
    reference = tmp_path_factory.mktemp("kill_study") / "reference"
    lococo(*study_args(data), "--out", str(reference))
    return reference


def test_killed_study_resumes_to_the_uninterrupted_result(data, study_reference, tmp_path):
    reference, study = study_reference, tmp_path / "killed"
    command = [*study_args(data), "--out", str(study)]  # the same line continues a killed study
    points = [lambda p=p: p(study) for p in STUDY_POINTS.values()]
    kill_chain(command, command, points)
    lococo(*command)
    assert_nothing_truncated(study)
    expected = strip_timing(results_of(reference))
    got = strip_timing(results_of(study))
    assert got["summary"] == expected["summary"]
    assert (study / "summary.csv").read_text() == (reference / "summary.csv").read_text()
    assert (study / "report.html").is_file()
    for cell in _cells(reference):
        mine = study / "cells" / cell.name
        assert_same_weights(cell / "encoder.pt", mine / "encoder.pt")
        assert strip_timing(results_of(mine)) == strip_timing(results_of(cell))
    assert not temp_files(study), temp_files(study)
