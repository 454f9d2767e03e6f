"""VAE and β-VAE (thesis 4.4.1): a Gaussian posterior on top of the encoder's global output.

``mu`` and ``logvar`` are linear maps of ``encoder(x).global_`` to ``method.latent_dim``; a
sample ``z`` is decoded by the encoder's mirror image (:func:`lococo.nn.decoders.build_decoder`)
and the loss is summed squared error + KL (:mod:`lococo.zfs.generative`). ``vae`` weighs the KL
by 1 (the ELBO); ``beta_vae`` by ``method.beta``. Zero-shot evaluation reads ``global_``, the
input of the posterior heads, as for every method.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from lococo.nn.decoders import build_decoder
from lococo.nn.encoders import EncoderFeatures
from lococo.zfs.generative import (
    explained_variance,
    gaussian_kl,
    rank_normal,
    reconstruction_loss,
    reparameterize,
    vae_loss,
)
from lococo.zfs.methods.base import Batch, ZFSMethod


def rank_and_world(module: L.LightningModule) -> tuple[int, int]:
    """``(global rank, world size)`` of a module's trainer; ``(0, 1)`` without one."""
    trainer = module._trainer
    if trainer is None:
        return 0, 1
    return trainer.global_rank, trainer.world_size


def log_reconstruction(module: L.LightningModule, recon: Tensor, images: Tensor) -> None:
    """Validation metrics of a reconstruction: ``val/recon`` (summed squared error per image,
    the training term) and ``val/recon_r2`` (explained variance; ~0 means collapse)."""
    module.log("val/recon", reconstruction_loss(recon, images), prog_bar=True)
    module.log("val/recon_r2", explained_variance(recon, images))


class VAEMethod(ZFSMethod):
    """Variational autoencoder (Kingma & Welling 2013) with KL weight 1."""

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        latent_dim = int(config["method"]["latent_dim"])
        self.mu_head = nn.Linear(self.encoder.global_dim, latent_dim)
        self.logvar_head = nn.Linear(self.encoder.global_dim, latent_dim)
        self.decoder = build_decoder(self.encoder, latent_dim)

    @property
    def kl_weight(self) -> float:
        return 1.0

    def posterior(self, global_: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of ``q(z | x)`` from the encoder's global output."""
        return self.mu_head(global_), self.logvar_head(global_)

    def method_losses(self, features: EncoderFeatures, batch: Batch) -> dict[str, Tensor]:
        images = batch[0]
        mu, logvar = self.posterior(features.global_)
        z = reparameterize(mu, logvar, rank_normal(mu, *rank_and_world(self)))
        terms = vae_loss(self.decoder(z), images, mu, logvar, self.kl_weight)
        kl = gaussian_kl(mu.detach(), logvar.detach())
        self.log("train/kl_nats", kl, on_step=False, on_epoch=True)
        return terms

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images = batch[0]
        mu, logvar = self.posterior(self.encoder(images).global_)
        log_reconstruction(self, self.decoder(mu), images)
        self.log("val/kl_nats", gaussian_kl(mu, logvar))


class BetaVAEMethod(VAEMethod):
    """β-VAE (Higgins et al. 2017): the KL term weighted by ``method.beta``."""

    @property
    def kl_weight(self) -> float:
        return float(self.config["method"]["beta"])
