"""OC-GAN losses on tensors (thesis eq. 6.3.7–6.3.10 and the perceptual loss of 6.3.4).

The trainer combines them: ``L_G = L_G^GAN + λ_P L_P + λ_SGSM L_SGSM + λ_AC L_G^AC`` and
``L_D = L_{D^p} + λ_o L_{D_obj}^AC`` (eq. 6.3.9–6.3.10), each hinge term summed over the
patch discriminators and the object discriminator's real/fake score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor
from torch.nn import functional as F


def d_hinge_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``mean(relu(1 − D(x))) + mean(relu(1 + D(G(z))))`` (eq. 6.3.8, one discriminator;
    scores of any shape, e.g. patch maps, averaged over all their elements)."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def g_hinge_loss(fake_scores: Tensor) -> Tensor:
    """``−mean(D(G(z)))`` (eq. 6.3.7, one discriminator)."""
    return -fake_scores.mean()


def ac_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Auxiliary-classifier loss: cross-entropy of ``K×C`` logits against ``K`` labels (mean
    over objects; 0 when there is no object)."""
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels)


def layer_dims(features: Sequence[Tensor]) -> list[int]:
    """``D_i``: the number of elements of one sample's ``i``-th feature map (``C·H·W``)."""
    return [math.prod(f.shape[1:]) for f in features]


def perceptual_l1(
    feats_fake: Sequence[Tensor],
    feats_real: Sequence[Tensor],
    weights: Sequence[float] | None = None,
) -> Tensor:
    """``Σ_i w_i · (1/B) Σ_b ‖F_i(fake_b) − F_i(real_b)‖_1`` (sum over the ``C·H·W`` elements
    of one sample's map, then the mean over the batch).

    ``weights`` default to ``w_i = 1/D_i`` with ``D_i = C_i·H_i·W_i`` (:func:`layer_dims`):
    the thesis' ``Σ_i (1/D_i) ‖F_i(x) − F_i(G(l, z))‖_1``. With that default each term equals
    the mean absolute difference over all elements of layer ``i`` (the ``1/D_i`` *is* the
    mean's division), so the default is ``Σ_i mean|Δ_i|``. Explicit weights multiply the
    per-sample L1 sums, not means.
    """
    if len(feats_fake) != len(feats_real):
        raise ValueError(f"{len(feats_fake)} fake feature maps but {len(feats_real)} real ones")
    dims = layer_dims(feats_fake)
    w = [1.0 / d for d in dims] if weights is None else list(weights)
    if len(w) != len(dims):
        raise ValueError(f"{len(w)} weights for {len(dims)} feature maps")
    total = feats_fake[0].new_zeros(())
    for weight, fake, real in zip(w, feats_fake, feats_real, strict=True):
        per_sample = (fake - real).abs().flatten(1).sum(dim=1)
        total = total + weight * per_sample.mean()
    return total
