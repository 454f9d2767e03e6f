"""MI heatmaps and the parts ratio of image pairs (thesis 4.4.3, 4.5.2, app. A.3, A.4).

A statistics network (:class:`~lococo.nn.critics.LocalGlobalCritic`) is trained with the
MINE / Donsker–Varadhan bound (eq. 4.4.1) on frozen features of an encoder: the global and
local features of the same image are joint samples, those of two images of a minibatch are
samples of the product of marginals. Its scores of a global feature of image A against every
local feature of image B, softmax-normalised over B's positions, give the heatmap drawn over B
(:func:`lococo.metrics.locality.normalise_scores`). The parts ratio of a pair is the heatmap's
mass on B's positions showing any part; :func:`correlations` relates it to the attribute and
pixel (SSIM) similarities of A and B.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from tqdm.auto import tqdm

from lococo import mi
from lococo.errors import DivergenceError
from lococo.metrics.correlation import pearson
from lococo.metrics.locality import attribute_cosine, normalise_scores, parts_ratio, ssim
from lococo.nn.critics import LocalGlobalCritic

PAIR_CHUNK = 256  # pairs gathered at once by pair_statistics (images, locals, masks)


def _check_features(local: Tensor, global_: Tensor) -> None:
    if local.dim() != 4 or global_.dim() != 2:
        raise ValueError(
            f"local must be N×C×H×W and global_ N×D, got {tuple(local.shape)}, "
            f"{tuple(global_.shape)}"
        )
    if local.shape[0] != global_.shape[0]:
        raise ValueError(f"{local.shape[0]} local maps but {global_.shape[0]} global features")


def fit_statistics_network(
    local: Tensor,
    global_: Tensor,
    *,
    embed_dim: int = 256,
    steps: int = 500,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> tuple[LocalGlobalCritic, dict]:
    """Train a local–global statistics network on frozen features with the DV bound.

    ``local`` is ``N×C×H×W`` and ``global_`` ``N×D`` (row ``i`` of both from image ``i``). Each
    step draws ``batch_size`` images without replacement and maximises
    ``mi.estimate(critic(local_b, global_b), "dv")``: the diagonal pairs are joint samples at
    every position, the other pairs of the batch samples of the marginals. Adam at ``lr``;
    ``seed`` fixes the initialisation and the minibatches (the global RNG is left untouched).
    Returns the critic in eval mode and ``{"dv_bound": mean bound over the last 10% of steps,
    "steps": steps}``; raises :class:`~lococo.errors.DivergenceError` on a non-finite bound.

    The critic divides its dot products by ``sqrt(embed_dim)``: on features of a 112 px
    ``basic`` encoder (256×14×14 local, 1024 global) unscaled scores made ``exp`` in the DV
    bound explode (the bound fell to −146 at lr 1e-3). With the scaling, 600 steps at lr 1e-4,
    3e-4 and 1e-3 reached training bounds of 1.2, 1.5 and 1.7 nats and similar held-out bounds
    (0.4–0.5); 1e-3 also learns planted structure fastest, 3e-3 diverged.
    """
    _check_features(local, global_)
    global_ = global_.to(local.device)
    n = local.shape[0]
    if n < 2:
        raise ValueError("the DV bound needs at least 2 images (one joint, one marginal pair)")
    if steps < 1 or batch_size < 2:
        raise ValueError(f"need steps >= 1 and batch_size >= 2, got {steps}, {batch_size}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = LocalGlobalCritic(local.shape[1], global_.shape[1], embed_dim, scale=True)
    critic.to(local.device).train()
    optimiser = torch.optim.Adam(critic.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    batch = min(batch_size, n)
    bounds: list[float] = []
    for _ in tqdm(range(steps), desc="statistics network", disable=not progress, leave=False):
        idx = torch.randperm(n, generator=generator)[:batch].to(local.device)
        bound = mi.estimate(critic(local[idx].float(), global_[idx].float()), "dv")
        optimiser.zero_grad(set_to_none=True)
        (-bound).backward()
        optimiser.step()
        bounds.append(float(bound.detach()))
        if not math.isfinite(bounds[-1]):
            raise DivergenceError(f"statistics network diverged at step {len(bounds)}; lower lr")
    tail = bounds[-max(1, steps // 10) :]
    return critic.eval(), {"dv_bound": sum(tail) / len(tail), "steps": steps}


@torch.no_grad()
def score_maps(
    critic: LocalGlobalCritic, global_a: Tensor, local_b: Tensor, batch_size: int = 256
) -> Tensor:
    """Raw scores of pair ``i``: global ``global_a[i]`` against every position of ``local_b[i]``.

    Pairwise (``M×D``, ``M×C×H×W`` → ``M×H×W``), computed with the critic's two sub-networks
    ``batch_size`` pairs at a time, without gradients, on the critic's device (the features
    may stay elsewhere, e.g. on the CPU).
    """
    _check_features(local_b, global_a)
    device = next(critic.parameters()).device
    maps = [local_b.new_zeros((0, *local_b.shape[2:]), dtype=torch.float32, device=device)]
    for i in range(0, local_b.shape[0], batch_size):
        g = critic.global_net(global_a[i : i + batch_size].to(device, torch.float32))  # B×E
        f = critic.local_net(local_b[i : i + batch_size].to(device, torch.float32))  # B×E×H×W
        maps.append(torch.einsum("be,behw->bhw", g, f) * critic.scale)
    return torch.cat(maps)


def sample_pairs(num_images: int, num_pairs: int, seed: int = 0, distinct: bool = True) -> Tensor:
    """``num_pairs×2`` image indices ``(a, b)``, uniform (``a != b`` when ``distinct``), seeded."""
    if num_pairs < 0:
        raise ValueError(f"num_pairs must be >= 0, got {num_pairs}")
    if num_images < (2 if distinct else 1):
        raise ValueError(
            f"cannot draw {'distinct ' if distinct else ''}pairs of {num_images} images"
        )
    generator = torch.Generator().manual_seed(seed)
    a = torch.randint(num_images, (num_pairs,), generator=generator)
    if distinct:
        b = (a + torch.randint(1, num_images, (num_pairs,), generator=generator)) % num_images
    else:
        b = torch.randint(num_images, (num_pairs,), generator=generator)
    return torch.stack([a, b], dim=1)


def _check_pair_inputs(
    global_: Tensor,
    local: Tensor,
    images: Tensor,
    class_attributes: Tensor,
    any_part: Tensor,
    pairs: Tensor,
) -> None:
    _check_features(local, global_)
    n = local.shape[0]
    if images.dim() != 4 or class_attributes.dim() != 2 or any_part.dim() != 3:
        raise ValueError("images must be N×3×S×S, class_attributes N×K and any_part N×H×W")
    if {images.shape[0], class_attributes.shape[0], any_part.shape[0]} != {n}:
        raise ValueError("features, images, class_attributes and any_part differ in length")
    if any_part.shape[1:] != local.shape[2:]:
        raise ValueError(
            f"any_part maps are {tuple(any_part.shape[1:])}, local maps {tuple(local.shape[2:])}"
        )
    if pairs.dim() != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be M×2, got {tuple(pairs.shape)}")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= n):
        raise ValueError(f"pair indices outside 0..{n - 1}")


@torch.no_grad()
def pair_statistics(
    critic: LocalGlobalCritic,
    global_: Tensor,
    local: Tensor,
    images: Tensor,
    class_attributes: Tensor,
    any_part: Tensor,
    pairs: Tensor,
) -> dict[str, Tensor]:
    """Per pair ``(a, b)``: ``parts_ratio``, ``attr_sim`` and ``ssim`` (float tensors of length M).

    ``parts_ratio`` is the mass of the normalised heatmap of A's global feature over B's local
    features on B's ``any_part`` mask; ``attr_sim`` the cosine of the class-attribute rows of
    A and B (one row per image); ``ssim`` the SSIM of images A and B. Pairs are processed in
    chunks, so the inputs are never gathered for all pairs at once. Results are on the CPU.
    """
    _check_pair_inputs(global_, local, images, class_attributes, any_part, pairs)
    out: dict[str, list[Tensor]] = {"parts_ratio": [], "attr_sim": [], "ssim": []}
    for chunk in pairs.long().split(PAIR_CHUNK):
        a, b = chunk[:, 0], chunk[:, 1]
        heat = normalise_scores(score_maps(critic, _take(global_, a), _take(local, b)))
        out["parts_ratio"].append(parts_ratio(heat, _take(any_part, b).to(heat.device)).cpu())
        attrs = (_take(class_attributes, a), _take(class_attributes, b))
        out["attr_sim"].append(attribute_cosine(*attrs).cpu())
        out["ssim"].append(ssim(_take(images, a), _take(images, b)).cpu())
    return {key: torch.cat(v) if v else torch.zeros(0) for key, v in out.items()}


def _take(x: Tensor, index: Tensor) -> Tensor:
    """Rows ``index`` of ``x``, indexing on ``x``'s device."""
    return x[index.to(x.device)]


def correlations(stats: dict[str, Tensor]) -> dict[str, float]:
    """Mean parts ratio and its Pearson correlations (r, two-sided p) with ``attr_sim``/``ssim``.

    Keys: ``parts_ratio_mean``, ``parts_ratio_corr_attr``, ``parts_ratio_corr_attr_p``,
    ``parts_ratio_corr_ssim``, ``parts_ratio_corr_ssim_p``, ``pairs``. Correlations follow
    :func:`~lococo.metrics.correlation.pearson` (non-finite pairs dropped; NaN for fewer than 3
    finite pairs or a constant input), the same function the figures use.
    """
    ratio = stats["parts_ratio"].double()
    r_attr, p_attr, _ = pearson(ratio, stats["attr_sim"])
    r_ssim, p_ssim, _ = pearson(ratio, stats["ssim"])
    return {
        "parts_ratio_mean": float(ratio.mean()) if ratio.numel() else float("nan"),
        "parts_ratio_corr_attr": r_attr,
        "parts_ratio_corr_attr_p": p_attr,
        "parts_ratio_corr_ssim": r_ssim,
        "parts_ratio_corr_ssim_p": p_ssim,
        "pairs": ratio.numel(),
    }
