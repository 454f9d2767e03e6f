"""FC: the fully supervised label classifier on seen classes (thesis 4.4.1)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lococo.nn.encoders import EncoderFeatures
from lococo.zfs.methods.base import Batch, ZFSMethod


class FCMethod(ZFSMethod):
    """A linear classifier over the seen classes on top of the encoder's global output."""

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        self.classifier = nn.Linear(self.encoder.global_dim, self.num_seen)

    def method_losses(self, features: EncoderFeatures, batch: Batch) -> dict[str, torch.Tensor]:
        logits = self.classifier(features.global_)
        targets = batch[1]
        self.log(
            "train/acc", (logits.argmax(1) == targets).float().mean(), on_epoch=True, on_step=False
        )
        return {"ce": F.cross_entropy(logits, targets)}

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images, targets, _ = batch
        logits = self.classifier(self.encoder(images).global_)
        self.log("val/seen_acc", (logits.argmax(1) == targets).float().mean(), prog_bar=True)
        self.log("val/ce", F.cross_entropy(logits, targets))
