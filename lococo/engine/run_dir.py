"""Run directories: resolved config, checkpoints, logs, figures and ``results.json``."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lococo import __version__
from lococo.errors import LococoError
from lococo.io import atomic_open, read_json, update_json


@dataclass(frozen=True)
class RunDir:
    """The files of one run, all under ``path``."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def read_results(self) -> dict[str, Any]:
        return read_json(self.results) if self.results.exists() else {}

    def write_result(self, section: str, value: Any) -> None:
        """Set one section of ``results.json`` (atomic, rank 0 only)."""
        if is_rank_zero():
            update_json(self.results, section, value)

    def read_config(self) -> dict[str, Any]:
        if not self.config.exists():
            raise LococoError(f"{self.path}: not a lococo run directory (no config.yaml)")
        return yaml.safe_load(self.config.read_text()) or {}

    def write_config(self, config: dict[str, Any]) -> None:
        if not is_rank_zero():
            return
        with atomic_open(self.config, "w") as handle:
            yaml.safe_dump(config, handle, sort_keys=False)


_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def is_rank_zero() -> bool:
    """False in every process but the global rank 0 of a distributed launch (Lightning's DDP
    children, SLURM tasks); True for ordinary single-process commands."""
    return all(int(os.environ.get(name, 0) or 0) == 0 for name in _RANK_VARIABLES)


def is_ddp_child() -> bool:
    """True in a process re-launched by Lightning's DDP launcher (not the original command)."""
    return not is_rank_zero()


def open_run(path: str | Path, *, resume: bool) -> RunDir:
    """Name a fresh run directory (created when its config is written), or open one to resume.

    A fresh run refuses a non-empty directory so that no earlier results are mixed in;
    ``resume`` requires the run's ``config.yaml``.
    """
    run = RunDir(Path(path))
    if is_ddp_child():
        return run
    if resume:
        if not run.config.exists():
            raise LococoError(f"{run.path}: cannot resume: no config.yaml (start without --resume)")
        return run
    if run.path.exists() and any(run.path.iterdir()):
        raise LococoError(
            f"{run.path}: directory exists and is not empty; pass --resume to continue that run "
            "or choose a new --out"
        )
    return run


def run_metadata() -> dict[str, Any]:
    """Provenance stored with every run."""
    import torch

    return {
        "lococo_version": __version__,
        "torch_version": str(torch.__version__),
        "python": platform.python_version(),
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
