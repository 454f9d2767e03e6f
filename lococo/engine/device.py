"""Where a command computes, and data loader settings that keep a GPU fed.

A run's ``trainer.accelerator`` (``auto``, ``gpu``/``cuda`` or ``cpu``) decides whether CUDA is
used. On CUDA, loaders pin their batches in page-locked memory (Lightning then copies them with
``non_blocking=True``) and, when ``data.num_workers`` is left unset (``None``), decode in
``min(8, CPU count)`` worker processes; on the CPU the default is no workers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

#: loader workers used on CUDA when a config leaves ``data.num_workers`` unset
MAX_DEFAULT_WORKERS = 8


def uses_cuda(trainer: Mapping[str, Any]) -> bool:
    """True when a run with these ``trainer`` settings computes on a CUDA GPU."""
    accelerator = str(trainer.get("accelerator", "auto"))
    return accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def compute_device(trainer: Mapping[str, Any]) -> torch.device:
    """The device evaluation and analysis run on (the training one)."""
    return torch.device("cuda" if uses_cuda(trainer) else "cpu")


def default_workers(cuda: bool) -> int:
    return min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1) if cuda else 0


def loader_options(num_workers: int | None, trainer: Mapping[str, Any]) -> dict[str, Any]:
    """``DataLoader`` keyword arguments: workers (``None``: the default for the device),
    persistent workers, and pinned memory on CUDA."""
    cuda = uses_cuda(trainer)
    workers = default_workers(cuda) if num_workers is None else num_workers
    return {"num_workers": workers, "persistent_workers": workers > 0, "pin_memory": cuda}
