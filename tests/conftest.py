"""Shared test setup: quiet, single-threaded-friendly torch."""

from __future__ import annotations

import logging
import warnings

import torch

torch.set_num_threads(2)
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
