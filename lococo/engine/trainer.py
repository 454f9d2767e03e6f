"""The Lightning trainer factory shared by every system."""

from __future__ import annotations

import csv
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from lococo.config.validation import check_trainer_values, did_you_mean
from lococo.engine.callbacks import (
    AtomicCheckpointIO,
    EpochCheckpoint,
    NanGuard,
    RNGStateCallback,
)
from lococo.engine.run_dir import RunDir
from lococo.engine.signals import StopOnSignal
from lococo.errors import ConfigError

#: Keys that lococo sets itself and that a user cannot override through ``trainer.*``.
RESERVED = ("logger", "callbacks", "plugins", "default_root_dir", "enable_checkpointing")

DEFAULTS: dict[str, Any] = {
    "accelerator": "auto",
    "devices": 1,
    "max_epochs": 10,
    "num_sanity_val_steps": 0,
    "log_every_n_steps": 5,
    "enable_model_summary": False,
}


def trainer_keys() -> list[str]:
    return [k for k in inspect.signature(L.Trainer.__init__).parameters if k != "self"]


def validate_trainer_config(cfg: dict[str, Any]) -> None:
    """Every ``trainer.*`` key must be a ``lightning.Trainer`` argument that lococo does not own,
    with a value Lightning accepts on this machine (see :func:`check_trainer_values`)."""
    valid = [k for k in trainer_keys() if k not in RESERVED]
    for key in cfg:
        if key in RESERVED:
            raise ConfigError(f"trainer.{key} is managed by lococo and cannot be overridden")
        if key not in valid:
            raise ConfigError(
                f"unknown config key 'trainer.{key}'{did_you_mean(key, valid, 'trainer.')}; "
                f"valid keys: trainer.{', trainer.'.join(valid)}"
            )
    check_trainer_values(cfg)


def build_trainer(
    run: RunDir,
    cfg: dict[str, Any],
    *,
    checkpoint_interval_s: float = 0.0,
    callbacks: Sequence[L.Callback] = (),
    progress: bool = True,
) -> L.Trainer:
    """A trainer that logs to TensorBoard and CSV, checkpoints atomically into
    ``run/checkpoints/last.ckpt`` at epoch ends (every epoch, or at most every
    ``checkpoint_interval_s`` seconds, always after the last), stores RNG states in its
    checkpoints, and stops on NaN/Inf losses."""
    validate_trainer_config(cfg)
    kwargs = {**DEFAULTS, **cfg}
    all_callbacks: list[L.Callback] = [
        EpochCheckpoint(run.last_checkpoint, checkpoint_interval_s),
        RNGStateCallback(),
        NanGuard(run.last_checkpoint),
        StopOnSignal(run.last_checkpoint),
    ]
    if progress:
        all_callbacks.append(TQDMProgressBar())
    all_callbacks.extend(callbacks)
    loggers = [
        TensorBoardLogger(save_dir=str(run.logs), name="", version="tensorboard"),
        AppendingCSVLogger(save_dir=str(run.logs), name="", version="csv"),
    ]
    return L.Trainer(
        default_root_dir=str(run.path),
        logger=loggers,
        callbacks=all_callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_checkpointing=False,
        enable_progress_bar=progress,
        **kwargs,
    )


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes ``metrics.csv`` when it starts; this one keeps the rows
    of the run so far (a resumed run appends; rows logged after the last checkpoint of a
    killed run appear again, with the same epoch and step, when they are redone)."""

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if path.is_file():
            with path.open(newline="") as handle:
                header = next(csv.reader(handle), [])
            self.metrics_keys = sorted(set(header))
            if header != self.metrics_keys:  # same columns, Lightning's (sorted) order
                self._rewrite_with_new_header(self.metrics_keys)


class AppendingCSVLogger(CSVLogger):
    """:class:`CSVLogger` whose ``metrics.csv`` survives a resume."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:  # type: ignore[override]
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
