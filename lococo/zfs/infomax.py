"""Pure losses and pairings of the mutual-information family: DIM, CMDIM and AMDIM.

No Lightning, no I/O: functions on tensors, used by ``lococo.zfs.methods.dim`` and
``lococo.zfs.methods.amdim``.

* **DIM** (Hjelm et al. 2019): :func:`dim_loss` scores every global vector against every
  local position of every image; positives on the diagonal, through :mod:`lococo.mi`.
* **CMDIM** (thesis app. A.7): with probability ``p`` the positive local map of global ``i``
  comes from another image of the same class. :func:`draw_matching` draws, per image, a coin
  and a uniform; :func:`choose_partners` turns them into the index of each global's positive
  local map; :func:`class_matching_masks` builds the positive mask (one partner per row) and
  the negative mask (pairs of different classes). Same-class pairs that are not the chosen
  positive are in neither mask, so ``lococo.mi`` ignores them. The random numbers are drawn
  per image and travel with the batch (gathered under DDP), so every process builds the same
  masks and a resumed run (torch RNG in checkpoints) draws the same pairs.
* **AMDIM** (Bachman et al. 2019): :func:`amdim_scores` (dot products / ``sqrt(d)``),
  :func:`tanh_clip`, :func:`score_regulariser` and :func:`multi_nce` (each positive first in a
  softmax against every negative of its row at all positions; CMDIM on the two-pass base keeps
  only the pairs of different classes as negatives); :func:`color_jitter` is the cheap batched
  colour augmentation of the AMDIM views.
* :func:`grad_reverse` and :func:`prior_matching_loss`: DIM's optional prior matching as a
  gradient-reversal adversarial game.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lococo import mi

__all__ = [
    "amdim_scores",
    "choose_partners",
    "class_matching_masks",
    "cmdim_loss",
    "color_jitter",
    "dim_loss",
    "draw_matching",
    "grad_reverse",
    "multi_nce",
    "partner_rate",
    "prior_matching_loss",
    "sample_positions",
    "score_regulariser",
    "tanh_clip",
]


# --- DIM -------------------------------------------------------------------------------------


def dim_loss(scores: Tensor, estimator: str) -> Tensor:
    """DIM local–global loss on ``scores`` (``N×N×H×W``, rows = globals): positives on the
    diagonal, every other pair negative, at every position (``-mi.estimate``)."""
    return mi.loss(scores, estimator)


# --- CMDIM -----------------------------------------------------------------------------------


def draw_matching(
    n: int, p: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Per-image random numbers of CMDIM: ``(match, u)`` on the CPU.

    ``match[i]`` (bool) is True with probability ``p``: global ``i`` takes its positive from
    another image of its class; ``u[i]`` in ``[0, 1)`` picks which one. ``generator=None``
    uses torch's default CPU generator (stored in checkpoints, so resume is exact).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"CMDIM matching probability p must lie in [0, 1], got {p}")
    draws = torch.rand(2, n, generator=generator)
    return draws[0] < p, draws[1]


def choose_partners(labels: Tensor, match: Tensor, u: Tensor) -> Tensor:
    """Index of the local map paired with each global as its positive (``N`` int64).

    Where ``match[i]`` and image ``i`` has same-class partners ``j != i`` in the batch, the
    partner is the ``floor(u[i] * count)``-th of them in batch order; otherwise ``i`` itself.
    """
    labels, match, u = labels.cpu(), match.cpu().bool(), u.cpu()
    n = labels.shape[0]
    candidates = (labels[:, None] == labels[None, :]) & ~torch.eye(n, dtype=torch.bool)
    count = candidates.sum(1)
    rank = torch.clamp((u * count).long(), max=torch.clamp(count - 1, min=0))
    # the rank-th True of each row: first column whose running count exceeds rank
    running = candidates.long().cumsum(1)
    chosen = (running > rank[:, None]).long().argmax(1)
    use = match & (count > 0)
    return torch.where(use, chosen, torch.arange(n))


def class_matching_masks(labels: Tensor, partners: Tensor) -> tuple[Tensor, Tensor]:
    """``(positive, negative)`` ``N×N`` bool masks of CMDIM (on ``labels``' device).

    ``positive[i, partners[i]]`` is the only positive of row ``i``; ``negative[i, j]`` holds
    for images of different classes. Other same-class pairs are in neither mask.
    """
    n = labels.shape[0]
    rows = torch.arange(n, device=labels.device)
    positive = torch.zeros(n, n, dtype=torch.bool, device=labels.device)
    positive[rows, partners.to(labels.device)] = True
    negative = labels[:, None] != labels[None, :]
    return positive, negative


def cmdim_loss(scores: Tensor, labels: Tensor, partners: Tensor, estimator: str) -> Tensor:
    """CMDIM loss on DIM ``scores`` (``N×N×H×W``) with the class-matching masks.

    A batch of a single class has no negative pair and carries no contrast: the loss is then
    ``0`` (still attached to the graph, so every parameter gets a zero gradient).
    """
    positive, negative = class_matching_masks(labels, partners)
    if not bool(negative.any()):
        return scores.sum() * 0.0
    return mi.loss(scores, estimator, positive_mask=positive, negative_mask=negative)


def partner_rate(labels: Tensor) -> float:
    """Share of a batch's images that have another image of the same class in the batch."""
    same = labels[:, None] == labels[None, :]
    return float(((same.sum(1) - 1) > 0).float().mean())


# --- AMDIM -----------------------------------------------------------------------------------


def amdim_scores(source: Tensor, target: Tensor) -> Tensor:
    """Raw AMDIM scores ``<source_i, target_j[:, p]> / sqrt(d)``: ``N×N×P``.

    ``source`` is ``N×d`` (embedded global vectors or sampled local vectors of one view),
    ``target`` is ``N×d×P`` (embedded local map of the other view, positions flattened).
    """
    if source.shape[1] != target.shape[1]:
        raise ValueError(f"embedding sizes differ: {source.shape[1]} vs {target.shape[1]}")
    return torch.einsum("id,jdp->ijp", source, target) / math.sqrt(source.shape[1])


def tanh_clip(x: Tensor, clip: float) -> Tensor:
    """Soft clipping ``clip * tanh(x / clip)`` into ``(-clip, clip)``; ``clip <= 0``: none."""
    return clip * torch.tanh(x / clip) if clip > 0 else x


def score_regulariser(raw: Tensor, weight: float) -> Tensor:
    """AMDIM's penalty on large raw scores: ``weight * mean(raw²)``."""
    return weight * raw.pow(2).mean()


def multi_nce(scores: Tensor, negative_mask: Tensor | None = None) -> Tensor:
    """AMDIM's NCE loss on ``N×N×P`` scores (``N×N`` is ``P = 1``), positives on the diagonal.

    Every positive ``scores[i, i, p]`` is placed first in a softmax against all negatives of
    row ``i`` (``scores[i, j, q]`` for every ``q`` and every ``j`` with ``negative_mask[i, j]``,
    default ``j != i``); the loss is the mean over positives of ``-log_softmax``. With the
    default mask it equals ``log(1 + (N-1)P) - mi.estimate(s, "infonce")``. A row without
    negatives contributes 0 (and no gradient). Class-matching (CMDIM) passes the pairs of
    different classes, so other same-class pairs are ignored.
    """
    s = scores.reshape(scores.shape[0], scores.shape[1], -1)
    n = s.shape[0]
    if n < 2:
        raise ValueError("multi_nce needs at least two samples (one for negatives)")
    eye = torch.eye(n, dtype=torch.bool, device=s.device)
    negative = ~eye if negative_mask is None else negative_mask.to(s.device) & ~eye
    has_negative = negative.any(1)
    # rows without negatives get finite scores here (an all -inf logsumexp has NaN gradients)
    # and -inf afterwards
    keep = negative | ~has_negative[:, None]
    negatives = s.masked_fill(~keep[:, :, None], float("-inf")).flatten(1)  # N×(N·P)
    neg_lse = torch.logsumexp(negatives, dim=1)
    neg_lse = torch.where(has_negative, neg_lse, torch.full_like(neg_lse, float("-inf")))
    positives = s[eye]  # N×P
    return (torch.logaddexp(positives, neg_lse[:, None]) - positives).mean()


def sample_positions(n: int, positions: int, generator: torch.Generator | None = None) -> Tensor:
    """One random position index per image in ``[0, positions)`` (CPU int64), for the
    local→local (AMDIM's 5→5) source vectors."""
    return torch.randint(positions, (n,), generator=generator)


def color_jitter(
    images: Tensor,
    generator: torch.Generator | None = None,
    *,
    strength: float = 0.4,
    p_jitter: float = 0.8,
    p_grey: float = 0.25,
) -> Tensor:
    """Cheap batched colour augmentation of images ``B×3×H×W`` in ``[-1, 1]``.

    With probability ``p_jitter`` per image: brightness (scale), contrast (blend with the
    image's mean grey) and saturation (blend with its greyscale), each by a factor uniform in
    ``[1 - strength, 1 + strength]``, applied in that order in ``[0, 1]`` space and clipped.
    Then, with probability ``p_grey``, the image becomes greyscale. No hue shift (it needs a
    colour-space round trip). Random numbers come from the CPU ``generator`` (default torch's).
    """
    b = images.shape[0]
    draws = torch.rand(5, b, generator=generator).to(images.device, images.dtype)
    factors = 1.0 + strength * (2.0 * draws[:3] - 1.0)  # 3×B
    on = draws[3] < p_jitter
    factors = torch.where(on[None], factors, torch.ones_like(factors))[..., None, None, None]
    x = (images + 1.0) / 2.0
    x = (x * factors[0]).clamp(0, 1)
    mean = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
    x = (mean + factors[1] * (x - mean)).clamp(0, 1)
    grey = _grey(x)
    x = (grey + factors[2] * (x - grey)).clamp(0, 1)
    x = torch.where((draws[4] < p_grey)[:, None, None, None], _grey(x).expand_as(x), x)
    return x * 2.0 - 1.0


def _grey(x: Tensor) -> Tensor:
    """Luma ``B×1×H×W`` of RGB images ``B×3×H×W`` (ITU-R 601 weights)."""
    weights = x.new_tensor([0.299, 0.587, 0.114])[None, :, None, None]
    return (x * weights).sum(1, keepdim=True)


# --- prior matching --------------------------------------------------------------------------


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.scale * grad, None


def grad_reverse(x: Tensor, scale: float = 1.0) -> Tensor:
    """Identity forward; gradient multiplied by ``-scale`` backward."""
    return _GradReverse.apply(x, scale)


def prior_matching_loss(discriminator: torch.nn.Module, codes: Tensor, prior: Tensor) -> Tensor:
    """The discriminator's GAN loss (prior samples real, ``codes`` fake), binary
    cross-entropy with logits. Pass ``grad_reverse(codes)`` so that minimising it trains the
    discriminator and pushes the encoder's codes towards the prior."""
    real = discriminator(prior)
    fake = discriminator(codes)
    return F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
