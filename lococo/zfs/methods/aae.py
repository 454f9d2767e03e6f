"""AAE: the adversarial autoencoder (Makhzani et al. 2015) as a ZFS pretraining method.

A deterministic code ``z = linear(encoder(x).global_)`` of ``method.latent_dim`` is decoded
by the encoder's mirror image; an MLP discriminator tells codes from prior samples
``N(0, I)``, and the encoder also fools it (non-saturating, weight
``method.adversarial_weight``), which matches the aggregate posterior of codes to the prior.

Two Adam optimisers, stepped by hand (``automatic_optimization = False``): one for the
autoencoder (encoder, code head, decoder, optional local head) and one for the discriminator.
Each batch takes ONE backward pass through the sum of both players' losses, then steps both
optimisers: the discriminator's loss sees the codes detached, and the generator term sees the
discriminator's parameters detached (``torch.func.functional_call``), so each parameter only
gets its own player's gradient — both players step from the same point (simultaneous
updates). One backward per batch means DDP reduces every parameter's gradient exactly once,
so the plain ``ddp`` strategy works without ``find_unused_parameters``. Losses are batch
means, so DDP's gradient averaging equals training on the global batch; no gathering is
needed. Prior samples differ across processes (:func:`lococo.zfs.generative.rank_normal`).

Both optimisers' states and (cosine) schedulers are in Lightning checkpoints; the schedulers
are stepped after each epoch's last batch, as Lightning does for automatic optimisation, so a
resumed run continues with the same learning rates. Note that ``trainer.global_step`` counts
optimiser steps: two per batch here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from lococo.nn.decoders import MLPDiscriminator, build_decoder
from lococo.nn.encoders import EncoderFeatures
from lococo.zfs.generative import (
    discriminator_loss,
    generator_loss,
    rank_normal,
    reconstruction_loss,
)
from lococo.zfs.methods.base import Batch, ZFSMethod
from lococo.zfs.methods.vae import log_reconstruction, rank_and_world


class AAEMethod(ZFSMethod):
    """Adversarial autoencoder with a Gaussian prior on the code (see the module docstring)."""

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        self.automatic_optimization = False
        latent_dim = int(config["method"]["latent_dim"])
        self.adversarial_weight = float(config["method"]["adversarial_weight"])
        self.code_head = nn.Linear(self.encoder.global_dim, latent_dim)
        self.decoder = build_decoder(self.encoder, latent_dim)
        self.discriminator = MLPDiscriminator(latent_dim)

    def encode(self, images: Tensor) -> tuple[EncoderFeatures, Tensor]:
        """Encoder features and the code ``z`` of ``images``."""
        features = self.encoder(images)
        return features, self.code_head(features.global_)

    def frozen_discriminator(self, z: Tensor) -> Tensor:
        """Discriminator logits of ``z`` with no gradient into the discriminator's weights."""
        params = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        return functional_call(self.discriminator, params, (z,))

    def losses(
        self, images: Tensor, targets: Tensor
    ) -> tuple[dict[str, Tensor], Tensor, dict[str, Tensor]]:
        """The autoencoder's loss terms (with the local loss, if any), the discriminator's loss
        (built so that their sum gives each player only its own gradient), and diagnostics:
        the codes' mean per-dimension std (1 under the prior) and the discriminator's
        accuracy on prior samples and on codes."""
        features, z = self.encode(images)
        terms = {
            "recon": reconstruction_loss(self.decoder(z), images),
            "adversarial": self.adversarial_weight * generator_loss(self.frozen_discriminator(z)),
        }
        prior = rank_normal(z, *rank_and_world(self))
        real, fake = self.discriminator(prior), self.discriminator(z.detach())
        stats = {
            "code_std": z.detach().std(dim=0).mean(),
            "disc_acc_prior": (real.detach() > 0).float().mean(),
            "disc_acc_code": (fake.detach() < 0).float().mean(),
        }
        return self.add_local_loss(terms, features, targets), discriminator_loss(real, fake), stats

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images, targets, _ = batch
        terms, d_loss, stats = self.losses(images, targets)
        ae_loss = self.finish_step(terms)
        self.log("train/discriminator", d_loss, on_step=False, on_epoch=True)
        for name, value in stats.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True)
        optimizers = self.optimizers()
        for optimizer in optimizers:
            optimizer.zero_grad()
        self.manual_backward(ae_loss + d_loss)
        for optimizer in optimizers:
            optimizer.step()
        if batch_idx + 1 >= self.trainer.num_training_batches:
            for scheduler in self.lr_schedulers() or []:
                scheduler.step()
        return (ae_loss + d_loss).detach()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images = batch[0]
        _, z = self.encode(images)
        log_reconstruction(self, self.decoder(z), images)
        self.log("val/code_std", z.std(dim=0).mean())

    def configure_optimizers(self) -> Any:
        optim = self.config["optim"]
        critic = {id(p) for p in self.discriminator.parameters()}
        groups = [
            [p for p in self.parameters() if id(p) not in critic],
            list(self.discriminator.parameters()),
        ]
        optimizers = [
            torch.optim.Adam(
                params,
                lr=optim["lr"],
                betas=(optim["beta1"], optim["beta2"]),
                weight_decay=optim["weight_decay"],
            )
            for params in groups
        ]
        if optim["scheduler"] == "none":
            return optimizers
        epochs = max(1, int(self.trainer.max_epochs or 1))
        schedulers = [
            torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=epochs) for o in optimizers
        ]
        return optimizers, schedulers
