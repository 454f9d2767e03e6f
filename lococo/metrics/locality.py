"""Locality measures on MI heatmaps (thesis 4.4.3, 4.5.2, app. A.4) as pure functions.

* :func:`normalise_scores` turns statistics-network scores over a local map into a heatmap.
* :func:`parts_ratio` is the share of a heatmap's mass on positions that show any part.
* :func:`attribute_cosine` and :func:`ssim` are the semantic and pixel-wise similarities of an
  image pair; :func:`lococo.metrics.correlation.pearson` correlates the parts ratio with
  them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

ArrayLike = Tensor | np.ndarray | Sequence[float]

SSIM_BATCH = 64  # pairs per SSIM call: ~20 maps of 3×112×112 floats each, a few hundred MiB
SSIM_SIGMA = 1.5  # Gaussian window of Wang et al. (2004): sigma 1.5, truncated to 11×11
SSIM_RADIUS = 5  # int(3.5 * sigma + 0.5), the window radius torchmetrics uses


def normalise_scores(scores: Tensor) -> Tensor:
    """Heatmap over the positions of ``scores`` (``...×H×W``): a softmax over the last two dims.

    At the optimum of the DV bound the statistics network outputs the pointwise mutual
    information up to an additive constant, ``T(g, l) = log p(l|g)/p(l) + c``. So
    ``exp T ∝ p(l|g)/p(l)``, and normalising ``exp T`` over the positions of one image gives the
    relative relatedness of each local feature to the global one; the unknown ``c`` (and the
    unknown marginal normaliser) cancels. Each ``H×W`` map of the result sums to 1.
    """
    if scores.dim() < 2:
        raise ValueError(f"scores must be ...×H×W, got shape {tuple(scores.shape)}")
    flat = scores.flatten(-2)
    return torch.softmax(flat.float(), dim=-1).reshape(scores.shape)


def parts_ratio(heatmaps: Tensor, part_masks: Tensor) -> Tensor:
    """Share of each heatmap's mass on positions containing any part (``N×H×W`` → ``N``).

    ``part_masks`` is a bool ``N×H×W`` map (logical OR of all part maps). The mass on the mask
    is divided by the map's total, so unnormalised non-negative maps work too.
    """
    if heatmaps.shape != part_masks.shape:
        raise ValueError(
            f"heatmaps {tuple(heatmaps.shape)} and part_masks {tuple(part_masks.shape)} differ"
        )
    if part_masks.dtype != torch.bool:
        raise ValueError(f"part_masks must be bool, got {part_masks.dtype}")
    if heatmaps.dim() < 2:
        raise ValueError(f"heatmaps must be ...×H×W, got shape {tuple(heatmaps.shape)}")
    maps = heatmaps.flatten(-2)
    on_parts = (maps * part_masks.flatten(-2)).sum(-1)
    return on_parts / maps.sum(-1)


def attribute_cosine(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarity of paired attribute rows (``N×K``, ``N×K`` → ``N``); 0 for a zero row."""
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"attribute rows must both be N×K, got {tuple(a.shape)}, {tuple(b.shape)}")
    return F.cosine_similarity(a.float(), b.float(), dim=1, eps=1e-8)


def _ssim_batch(a: Tensor, b: Tensor, data_range: float) -> Tensor:
    """Mean SSIM of each pair over the positions whose window lies inside the image."""
    _, full = structural_similarity_index_measure(
        a.float(),
        b.float(),
        gaussian_kernel=True,
        sigma=SSIM_SIGMA,
        data_range=data_range,
        reduction="none",
        return_full_image=True,
    )
    r = SSIM_RADIUS
    return full[..., r:-r, r:-r].flatten(1).mean(1)


def ssim(
    images_a: Tensor, images_b: Tensor, data_range: float = 2.0, batch_size: int = SSIM_BATCH
) -> Tensor:
    """Per-pair SSIM of images ``N×C×H×W`` (Gaussian window, sigma 1.5, 11 px; Wang et al. 2004).

    Images are in ``[-1, 1]`` by default, hence ``data_range`` 2. The SSIM map comes from
    torchmetrics; its mean is taken over the positions whose whole window lies inside the image
    (as Wang et al.'s reference code and ``skimage.metrics.structural_similarity``), not over
    torchmetrics' reflect-padded border. Pairs are processed ``batch_size`` at a time so tens of
    thousands of 112 px pairs fit in memory; returns a float tensor of length ``N``.
    """
    if images_a.shape != images_b.shape or images_a.dim() != 4:
        raise ValueError(
            f"images must both be N×C×H×W, got {tuple(images_a.shape)}, {tuple(images_b.shape)}"
        )
    if min(images_a.shape[-2:]) <= 2 * SSIM_RADIUS:
        raise ValueError(f"SSIM needs images larger than {2 * SSIM_RADIUS} px")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    out = [
        _ssim_batch(images_a[i : i + batch_size], images_b[i : i + batch_size], data_range)
        for i in range(0, images_a.shape[0], batch_size)
    ]
    return torch.cat(out) if out else torch.zeros(0, device=images_a.device)
