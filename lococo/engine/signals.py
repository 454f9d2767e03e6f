"""SIGINT (Ctrl-C) and SIGTERM (what SLURM sends before killing a job) stop a command cleanly.

:func:`install` (called by the ``lococo`` entry point) makes both signals raise
:class:`~lococo.errors.Interrupted`. While a trainer built by
:func:`lococo.engine.trainer.build_trainer` is fitting, the signal is only noted: the
:class:`StopOnSignal` callback saves a final checkpoint at the end of the current batch, then
raises it. A second signal during that wait stops at once. The CLI prints one line saying how
to resume and exits ``128 + signal`` (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import lightning as L

from lococo.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state: dict[str, Any] = {"pid": None, "training": False, "pending": None}


def _handler(signum: int, frame: Any) -> None:
    if os.getpid() != _state["pid"]:  # a forked worker: the main process decides
        return
    if _state["training"] and _state["pending"] is None:
        _state["pending"] = signum  # StopOnSignal saves a checkpoint, then raises
        return
    raise Interrupted(signum)


def install() -> None:
    """Route SIGINT and SIGTERM of this (main-thread) process to :class:`Interrupted`."""
    _state["pid"] = os.getpid()
    _state["pending"] = None
    for sig in SIGNALS:
        signal.signal(sig, _handler)


def uninstall() -> None:
    _state["pid"] = None
    _state["training"] = False
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class StopOnSignal(L.Callback):
    """Save the training state to ``path`` and raise :class:`Interrupted` at the end of the
    batch during which SIGINT/SIGTERM arrived (only when :func:`install` is active)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _state["training"] = _state["pid"] == os.getpid()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self._stop_if_signalled(trainer)

    def on_validation_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.state.fn == "fit":
            self._stop_if_signalled(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _state["training"] = False
        self._stop_if_signalled(trainer, save=False)  # the last epoch's checkpoint is written

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, err: Any) -> None:
        _state["training"] = False

    def _stop_if_signalled(self, trainer: L.Trainer, save: bool = True) -> None:
        # decided together by all processes of a distributed run, so that all of them save
        # the checkpoint (a collective operation) at the same step
        local = _state["pending"] is not None
        if not trainer.strategy.reduce_boolean_decision(local, all=False):
            return
        signum = _state["pending"] or signal.SIGTERM
        _state["pending"] = None
        _state["training"] = False
        if save:
            trainer.save_checkpoint(self.path, weights_only=False)
        raise Interrupted(
            signum,
            self.path if self.path.exists() else None,
            f"epoch {trainer.current_epoch}, step {trainer.global_step}",
        )
