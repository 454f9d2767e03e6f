"""DIM and class-matching DIM (thesis 4.4.1, app. A.7): local–global mutual information.

A :class:`~lococo.nn.critics.LocalGlobalCritic` scores every global vector of the batch against
every local position of every image (``N×N×H×W``); the loss is ``lococo.mi.loss`` with the
configured estimator (``method.estimator``: ``jsd`` default, ``infonce``, ``dv``).

* ``dim``: positives are each image's own local map (the diagonal), negatives all other pairs.
* ``cmdim``: with probability ``method.p`` (per image) the positive local map is another image
  of the same class; negatives are pairs of different classes; other same-class pairs are
  ignored (:mod:`lococo.zfs.infomax`).

Under DDP the local maps, global vectors and labels are gathered from every process (with
gradients), so negatives come from the global batch; every process computes the same full
``N×N`` loss.

CMDIM's partners come from the data pipeline ("two-pass" CMDIM, ``local_twopass_class_matching``
in the thesis' table A.10): with ``pairing = "class_partner"`` every training item is the image
and a uniformly drawn other image of its class (:class:`lococo.zfs.pairing.ClassPartnerDataset`),
so every image has a partner whatever the batch size and the number of classes. (Partners
found only inside a uniformly sampled batch exist for about ``1 - (1 - 1/S)^(B-1)`` of the
images: 0.79 at ``B = 64`` with ``S = 40`` seen classes, 0.34 with CUB's 150.) Both images go
through the encoder in one pass over ``[own images; partners]``, so batch normalisation
normalises them with the same statistics (of ``2B`` images) and positive and negative local
maps are on one footing. Per image, a coin ``match ~ Bernoulli(p)`` (torch's RNG, so resume is
exact; logged as ``train/match_rate``) picks the positive local map: the partner's when it
matches, the image's own otherwise. Global ``i`` is scored against the positive local maps of
all images; positives are the diagonal, negatives the pairs of different classes, and
same-class pairs off the diagonal are ignored. The local loss (AC/LC) and prior matching use
the own images' features only. Validation batches are single images: there CMDIM pairs
images of the same class inside the batch (:func:`lococo.zfs.infomax.choose_partners`), with
per-image draws from a generator seeded by the batch index.

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

    def add_prior(self, terms: dict[str, Tensor], global_: Tensor) -> dict[str, Tensor]:
        """Add the weighted prior-matching term to ``terms`` when it is on."""
        if self.discriminator is not None:
            codes = infomax.grad_reverse(global_)
            prior = torch.rand_like(global_)
            terms["prior"] = self.prior_weight * infomax.prior_matching_loss(
                self.discriminator, codes, prior
            )
        return terms

    def method_losses(self, features: EncoderFeatures, batch: Batch) -> dict[str, Tensor]:
        return self.add_prior(self.mi_terms(features, batch[1]), features.global_)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images, targets, _ = batch
        if images.shape[0] < 2:
            return  # no negative pair in a batch of one
        generator = torch.Generator().manual_seed(batch_idx)  # leaves torch's RNG untouched
        terms = self.mi_terms(self.encoder(images), targets, gather=False, generator=generator)
        for name, value in terms.items():
            self.log(f"val/{name}", value, batch_size=images.shape[0])


def matching_probability(config: dict[str, Any]) -> float:
    """CMDIM's ``method.p``: the probability that an image's partner is of its class."""
    p = float(config["method"]["p"])
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"method.p must lie in [0, 1], got {p}")
    return p


class CMDIMMethod(DIMMethod):
    """Class-matching DIM (thesis app. A.7) with matching probability ``method.p``.

    Training items are ``(stack([image, same-class partner]), target, index)``; see the module
    docstring. :meth:`method_losses` (inherited) pairs single images inside the batch and is
    what validation uses.
    """

    views = 2
    pairing = "class_partner"

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        self.p = matching_probability(config)

    def draw(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        match, u = infomax.draw_matching(n, self.p, generator)
        return torch.stack([match.float(), u], dim=1)  # N×2, gathered with the batch

    def pair_loss(self, scores: Tensor, labels: Tensor, draws: Tensor | None) -> dict[str, Tensor]:
        assert draws is not None
        partners = infomax.choose_partners(labels, draws[:, 0] > 0.5, draws[:, 1])
        return {"mi": infomax.cmdim_loss(scores, labels, partners, self.estimator)}

    def draw_match(self, n: int) -> Tensor:
        """Per-image coins ``match ~ Bernoulli(p)`` (CPU bool) from torch's global RNG."""
        return torch.rand(n) < self.p

    def partner_terms(
        self,
        own: EncoderFeatures,
        partner_local: Tensor,
        labels: Tensor,
        match: Tensor,
        *,
        gather: bool = True,
    ) -> dict[str, Tensor]:
        """The MI term with partners from the data pipeline.

        Image ``i``'s positive local map is ``partner_local[i]`` where ``match[i]``, else
        ``own.local[i]``; global ``i`` is scored against every image's positive local map of the
        (with ``gather``, DDP-gathered) batch, positives on the diagonal, negatives the pairs of
        different classes, other same-class pairs ignored.
        """
        chosen = match.to(own.local.device).view(-1, *([1] * (own.local.dim() - 1)))
        positive = torch.where(chosen, partner_local, own.local)
        global_ = own.global_
        if gather:
            positive, global_, labels = (self.gather(t) for t in (positive, global_, labels))
        scores = self.critic(positive, global_)
        identity = torch.arange(labels.shape[0], device=labels.device)
        return {"mi": infomax.cmdim_loss(scores, labels, identity, self.estimator)}

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images, targets, _ = batch
        b = images.shape[0]
        features = self.encoder(images.transpose(0, 1).flatten(0, 1))  # own images, then partners
        own = EncoderFeatures(features.local[:b], features.global_[:b])
        match = self.draw_match(b)
        terms = self.partner_terms(own, features.local[b:], targets, match)
        self.log(
            "train/match_rate",
            float(match.float().mean()),
            on_step=False,
            on_epoch=True,
            batch_size=b,
        )
        terms = self.add_prior(terms, own.global_)
        return self.finish_step(self.add_local_loss(terms, own, targets))
