"""DIM and class-matching DIM (thesis 4.4.1, app. A.7): local–global mutual information.

A :class:`~lococo.nn.critics.LocalGlobalCritic` scores every global vector of the batch against
every local position of every image (``N×N×H×W``); the loss is ``lococo.mi.loss`` with the
configured estimator (``method.estimator``: ``jsd`` default, ``infonce``, ``dv``).

* ``dim``: positives are each image's own local map (the diagonal), negatives all other pairs.
* ``cmdim``: with probability ``method.p`` (per image) the positive local map is another image
  of the same class; negatives are pairs of different classes; other same-class pairs are
  ignored (:mod:`lococo.zfs.infomax`).

Under DDP the local maps, global vectors, labels and CMDIM's per-image random draws are
gathered from every process (with gradients), so negatives and class partners come from the
global batch; every process computes the same full ``N×N`` loss.

Partners come only from the batch: the data pipeline samples uniformly (no class-aware
sampler), so with ``S`` seen classes and batch ``B`` about ``1 - (1 - 1/S)^(B-1)`` of the
images have a partner (~0.86 at ``B = 64, S = 32``; ~0.79 at ``S = 40``); the others fall
back to themselves. The observed rate is logged as ``train/partner_rate``.

Optional prior matching (``method.prior_weight > 0``, off by default): as in DIM, a
discriminator tells global vectors from samples of the uniform prior on ``[0, 1]``; a
gradient-reversal layer makes one optimiser train the discriminator to minimise its loss and
the encoder to maximise it (the logged ``prior`` term is the discriminator's loss).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lococo.nn.critics import LocalGlobalCritic
from lococo.nn.encoders import EncoderFeatures
from lococo.zfs import infomax
from lococo.zfs.methods.base import Batch, ZFSMethod


class DIMMethod(ZFSMethod):
    """Deep InfoMax (Hjelm et al. 2019), local–global objective with optional prior matching."""

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        method = config["method"]
        self.estimator: str = method["estimator"]
        self.prior_weight: float = float(method["prior_weight"])
        enc, width = self.encoder, int(method["critic_dim"])
        self.critic = LocalGlobalCritic(enc.local_channels, enc.global_dim, width)
        self.discriminator = (
            nn.Sequential(
                nn.Linear(enc.global_dim, width),
                nn.ReLU(inplace=True),
                nn.Linear(width, width),
                nn.ReLU(inplace=True),
                nn.Linear(width, 1),
            )
            if self.prior_weight > 0
            else None
        )

    def pair_loss(self, scores: Tensor, labels: Tensor, draws: Tensor | None) -> dict[str, Tensor]:
        """The MI term(s) from ``N×N×H×W`` scores of the (gathered) batch."""
        return {"mi": infomax.dim_loss(scores, self.estimator)}

    def draw(self, n: int, generator: torch.Generator | None = None) -> Tensor | None:
        """Per-image random numbers that travel with the batch (none for DIM)."""
        return None

    def mi_terms(
        self,
        features: EncoderFeatures,
        labels: Tensor,
        *,
        gather: bool = True,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """MI terms of a batch; with ``gather`` the features, labels and per-image draws of
        every DDP process are concatenated first (identity on one process)."""
        draws = self.draw(labels.shape[0], generator)
        local, global_ = features.local, features.global_
        if draws is not None:
            draws = draws.to(local.device)
        if gather:
            local, global_, labels = self.gather(local), self.gather(global_), self.gather(labels)
            draws = self.gather(draws) if draws is not None else None
        return self.pair_loss(self.critic(local, global_), labels, draws)

    def method_losses(self, features: EncoderFeatures, batch: Batch) -> dict[str, Tensor]:
        terms = self.mi_terms(features, batch[1])
        if self.discriminator is not None:
            codes = infomax.grad_reverse(features.global_)
            prior = torch.rand_like(features.global_)
            terms["prior"] = self.prior_weight * infomax.prior_matching_loss(
                self.discriminator, codes, prior
            )
        return terms

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images, targets, _ = batch
        if images.shape[0] < 2:
            return  # no negative pair in a batch of one
        generator = torch.Generator().manual_seed(batch_idx)  # leaves torch's RNG untouched
        terms = self.mi_terms(self.encoder(images), targets, gather=False, generator=generator)
        for name, value in terms.items():
            self.log(f"val/{name}", value, batch_size=images.shape[0])


class CMDIMMethod(DIMMethod):
    """Class-matching DIM (thesis app. A.7) with matching probability ``method.p``."""

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        self.p = float(config["method"]["p"])
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"method.p must lie in [0, 1], got {self.p}")

    def draw(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        match, u = infomax.draw_matching(n, self.p, generator)
        return torch.stack([match.float(), u], dim=1)  # N×2, gathered with the batch

    def pair_loss(self, scores: Tensor, labels: Tensor, draws: Tensor | None) -> dict[str, Tensor]:
        assert draws is not None
        partners = infomax.choose_partners(labels, draws[:, 0] > 0.5, draws[:, 1])
        if self.training and self._trainer is not None:
            rate = infomax.partner_rate(labels)
            self.log(
                "train/partner_rate", rate, on_step=False, on_epoch=True, batch_size=labels.shape[0]
            )
        return {"mi": infomax.cmdim_loss(scores, labels, partners, self.estimator)}
