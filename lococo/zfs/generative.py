"""Losses of the reconstruction / generative ZFS family (VAE, β-VAE, AAE): pure functions.

Conventions (images scaled to ``[-1, 1]``):

- :func:`reconstruction_loss` is the squared error *summed* over an image's pixels and
  channels, averaged over the batch. Up to a constant it is the negative log-likelihood of a
  Gaussian decoder with fixed variance 1/2 per pixel, so together with :func:`gaussian_kl`
  (KL weight 1) it is the usual per-image negative ELBO of Kingma & Welling (2013). Summing
  (rather than averaging) over pixels keeps that meaning, so the KL weight ``beta`` is the β
  of Higgins et al. (2017). The balance between the terms then depends on the pixel count: a
  56×56 crop has 9,408 squared errors against a few hundred nats of KL.
- :func:`gaussian_kl` is ``KL(N(mu, exp(logvar)) || N(0, I))`` summed over latent dimensions,
  averaged over the batch (in nats per image).
- AAE (Makhzani et al. 2015): the discriminator tells prior samples (label 1) from encoder
  codes (label 0); the encoder plays the non-saturating generator, labelling its codes 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "discriminator_loss",
    "explained_variance",
    "gaussian_kl",
    "generator_loss",
    "rank_normal",
    "reconstruction_loss",
    "reparameterize",
    "vae_loss",
]


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))``: summed over dims ``B×D``, mean over batch."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()


def rank_normal(like: Tensor, rank: int = 0, world_size: int = 1) -> Tensor:
    """``N(0, I)`` noise shaped like ``like`` (``B×...``), distinct on every DDP process.

    Processes seeded alike draw the same numbers; so every process draws ``world_size × B``
    rows and keeps the slice of its ``rank``: the global batch gets independent noise and the
    RNG streams stay in step (and resumable from the checkpointed RNG state).
    """
    if world_size == 1:
        return torch.randn_like(like)
    n = like.shape[0]
    draw = torch.randn((world_size * n, *like.shape[1:]), device=like.device, dtype=like.dtype)
    return draw[rank * n : (rank + 1) * n]


def reparameterize(mu: Tensor, logvar: Tensor, noise: Tensor | None = None) -> Tensor:
    """A sample ``mu + exp(logvar / 2) * noise`` (``noise ~ N(0, I)`` drawn when not given)."""
    if noise is None:
        noise = torch.randn_like(mu)
    return mu + (0.5 * logvar).exp() * noise


def reconstruction_loss(recon: Tensor, x: Tensor) -> Tensor:
    """Squared error summed over each image's elements, averaged over the batch (module doc)."""
    if recon.shape != x.shape:
        raise ValueError(f"reconstruction shape {tuple(recon.shape)} != input {tuple(x.shape)}")
    return (recon - x).pow(2).flatten(1).sum(dim=1).mean()


def vae_loss(
    recon: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, beta: float
) -> dict[str, Tensor]:
    """Terms of the (β-)VAE loss: ``recon`` and ``kl`` (already multiplied by ``beta``).

    Their sum is the negative ELBO for ``beta = 1`` and the β-VAE objective otherwise.
    """
    return {"recon": reconstruction_loss(recon, x), "kl": beta * gaussian_kl(mu, logvar)}


def explained_variance(recon: Tensor, x: Tensor) -> Tensor:
    """``1 - SE(recon, x) / SE(mean image, x)`` over a batch: 0 when every reconstruction is the
    batch's mean image (collapse), 1 for perfect reconstructions, negative when worse than it."""
    residual = (recon - x).pow(2).sum()
    total = (x - x.mean(dim=0, keepdim=True)).pow(2).sum()
    return 1.0 - residual / total.clamp_min(torch.finfo(x.dtype).tiny)


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Binary cross-entropy of a discriminator: ``real`` labelled 1, ``fake`` labelled 0.

    The two means are summed: ``mean softplus(-real) + mean softplus(fake)`` (2 log 2 when
    every logit is 0).
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss: ``mean softplus(-fake)`` (fakes labelled real)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
