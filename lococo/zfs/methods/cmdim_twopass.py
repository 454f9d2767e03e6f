"""Class-matching DIM on the two-pass base (table A.10: ``local_twopass_class_matching``).

The thesis' self-supervised models are ``local_dim`` (DIM), ``local_twopass`` (AMDIM: two
inputs, NCE) and ``local_twopass_class_matching`` (CMDIM). Here CMDIM is AMDIM's objective
(:class:`~lococo.zfs.methods.amdim.AMDIMMethod`: multiscale NCE, tanh clipping, score
regulariser, colour jitter) whose second input is, with probability ``method.p``, another
image of the same class, and otherwise a second random crop/flip of the same image
(:class:`lococo.zfs.pairing.ClassPartnerDataset` with ``p``). As app. A.7 states for CMDIM,
negatives are pairs of different classes: other same-class images of the batch are neither
positive nor negative. ``p = 0`` is AMDIM with class-aware negatives.

The estimator is AMDIM's NCE (what "two-pass" names); ``method.estimator`` applies to the
single-view base only (``method.base=dim``, :class:`lococo.zfs.methods.dim.CMDIMMethod`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lococo.nn.encoders import EncoderFeatures
from lococo.zfs import infomax
from lococo.zfs.methods.amdim import AMDIMMethod
from lococo.zfs.methods.base import Batch
from lococo.zfs.methods.dim import matching_probability


class CMDIMTwoPassMethod(AMDIMMethod):
    """AMDIM whose second input is a same-class partner with probability ``method.p``."""

    pairing = "class_partner"

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        self.p = matching_probability(config)
        self.partner_probability = self.p  # the data pipeline's partner probability

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images, targets, _ = batch
        b = images.shape[0]
        x = images.transpose(0, 1).flatten(0, 1)  # the images, then their second inputs
        if self.color_jitter:
            x = infomax.color_jitter(x)
        feats = self.encoder.features(x)
        terms = self.nce_terms(feats, targets)
        first = EncoderFeatures(feats["local"][:b], feats["global"][:b])
        return self.finish_step(self.add_local_loss(terms, first, targets))

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """NCE between two identical centre crops with class-aware negatives (no jitter)."""
        images, targets, _ = batch
        if images.shape[0] < 2:
            return
        feats = self.encoder.features(images)
        feats = {k: torch.cat([v, v]) for k, v in feats.items()}
        generator = torch.Generator().manual_seed(batch_idx)  # leaves torch's RNG untouched
        terms = self.nce_terms(feats, targets, gather=False, generator=generator)
        nce = torch.stack([v for k, v in terms.items() if k.startswith("nce_")]).sum()
        self.log("val/nce", nce, batch_size=images.shape[0])
        for name, value in terms.items():
            self.log(f"val/{name}", value, batch_size=images.shape[0])
