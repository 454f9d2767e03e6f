"""FC: the fully supervised label classifier on seen classes (thesis 4.4.1)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lococo.nn.encoders import EncoderFeatures
from lococo.zfs.methods.base import Batch, ZFSMethod


class SeenClassMethod(ZFSMethod):
    """Cross-entropy over the seen classes of ``logits(global output)`` (FC, PN)."""

    def logits(self, global_: torch.Tensor) -> torch.Tensor:
        """``B×S`` logits over the seen classes."""
        raise NotImplementedError

    def method_losses(self, features: EncoderFeatures, batch: Batch) -> dict[str, torch.Tensor]:
        logits = self.logits(features.global_)
        targets = batch[1]
        self.log(
            "train/acc", (logits.argmax(1) == targets).float().mean(), on_epoch=True, on_step=False
        )
        return {"ce": F.cross_entropy(logits, targets)}

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images, targets, _ = batch
        logits = self.logits(self.encoder(images).global_)
        self.log("val/seen_acc", (logits.argmax(1) == targets).float().mean(), prog_bar=True)
        self.log("val/ce", F.cross_entropy(logits, targets))


class FCMethod(SeenClassMethod):
    """A linear classifier over the seen classes on top of the encoder's global output."""

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        self.classifier = nn.Linear(self.encoder.global_dim, self.num_seen)

    def logits(self, global_: torch.Tensor) -> torch.Tensor:
        return self.classifier(global_)
