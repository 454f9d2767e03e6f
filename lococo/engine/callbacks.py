"""Callbacks and plugins: atomic weights-only checkpoints, RNG state in checkpoints, NaN guard."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from lococo.engine.weights import load_weights, save_weights
from lococo.errors import DataError, DivergenceError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write checkpoints to a temporary file and rename; load them weights-only."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        save_weights(checkpoint, Path(path))

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a lococo checkpoint without unpickling arbitrary objects (one-line errors)."""
    checkpoint = load_weights(path, "checkpoint")
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise DataError(path, "not a lococo training checkpoint (no state_dict)")
    return checkpoint


def _get_rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": _python_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state_to_plain(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


class EpochCheckpoint(L.Callback):
    """Save the full training state to ``path`` at the end of an epoch (after its validation).

    Saves happen at most every ``min_interval_s`` seconds (0: every epoch) and always after the
    final epoch, so short epochs do not pay for a checkpoint each; a killed run loses at most
    the epochs since the last save. Writes go through the trainer's (atomic) checkpoint IO.
    """

    def __init__(self, path: Path, min_interval_s: float = 0.0) -> None:
        self.path = Path(path)
        self.min_interval_s = min_interval_s
        self._last = -math.inf

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        final = trainer.should_stop or trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
        if final or time.monotonic() - self._last >= self.min_interval_s:
            trainer.save_checkpoint(self.path, weights_only=False)
            self._last = time.monotonic()


class RNGStateCallback(L.Callback):
    """Store every RNG's state in checkpoints so a resumed run continues the same streams."""

    def state_dict(self) -> dict[str, Any]:
        return _get_rng_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _set_rng_state(state_dict)


class NanGuard(L.Callback):
    """Stop training when the loss is NaN/Inf; the last good checkpoint stays on disk."""

    def __init__(self, checkpoint: Path | None = None) -> None:
        self.checkpoint = checkpoint

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        bad = loss is not None and not bool(torch.isfinite(loss.detach()).all())
        if trainer.strategy.reduce_boolean_decision(bad, all=False):
            kept = (
                f"the last good checkpoint is {self.checkpoint}"
                if self.checkpoint is not None and self.checkpoint.exists()
                else "no checkpoint had been written yet"
            )
            value = float(loss.detach().float().mean()) if bad else float("nan")
            raise DivergenceError(
                f"loss became {value} at epoch {trainer.current_epoch}, "
                f"step {trainer.global_step}; "
                f"training stopped ({kept}). Lower optim.lr or check the data."
            )
