"""The SGSM's attention, similarities and matching losses (thesis eq. 6.3.1–6.3.6), pure.

Notation: graph-node (object) embeddings ``g_j`` (``…×J×D``, with a ``J`` validity mask),
image region embeddings ``v_i`` (``…×I×D``, the positions of the local map), global
embeddings ``g^G`` and ``v^G`` (``…×D``), all already projected to the common space.

* eq. 6.3.1, :func:`attention`:
  ``s_ij = γ1 · exp(g_j·v_i) / Σ_i' exp(g_j·v_i')`` and
  ``g̃_j = Σ_i exp(s_ij) v_i / Σ_i exp(s_ij)``. ``norm="regions"`` is the equation as
  written (first normalisation over regions ``i'``); ``norm="nodes"`` is AttnGAN's DAMSM
  original, which normalises the first softmax over the words (here graph nodes) instead.
* eq. 6.3.2, :func:`local_similarity`: ``Sim^L = (1/γ2) log Σ_j exp(γ2 cos(g̃_j, g_j))`` over
  the valid nodes; eq. 6.3.3, :func:`global_similarity`: ``Sim^G = cos(v^G, g^G)``.
* eq. 6.3.4–6.3.5, :func:`matching_loss`: ``P(S, I') ∝ exp(γ3 Sim(S, I'))`` normalised over
  the images (or the scene graphs) of the batch, the mismatched pairs being the negatives;
  ``L = −log P(S|I) − log P(I|S)`` averaged over the batch's matching pairs.
* eq. 6.3.6, :func:`sgsm_loss`: ``L_SGSM = L_L + L_G``.

Score matrices are indexed ``[graph, image]``. All functions broadcast over leading dims.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

AttentionNorm = Literal["regions", "nodes"]

#: DAMSM defaults (γ1, γ2, γ3).
GAMMA1, GAMMA2, GAMMA3 = 4.0, 5.0, 10.0


class Attended(NamedTuple):
    """``attended``: ``…×J×D`` visually attended node embeddings ``g̃_j``; ``weights``:
    ``…×J×I`` attention of each node over the regions (rows sum to 1)."""

    attended: Tensor
    weights: Tensor


def attention(
    nodes: Tensor,
    regions: Tensor,
    node_valid: Tensor | None = None,
    *,
    gamma1: float = GAMMA1,
    norm: AttentionNorm = "regions",
) -> Attended:
    """Eq. 6.3.1: region attention of every node (see the module docstring)."""
    logits = nodes @ regions.transpose(-1, -2)  # …×J×I: g_j · v_i
    weights = attention_weights(logits, node_valid, gamma1=gamma1, norm=norm)
    return Attended(weights @ regions, weights)


def attention_weights(
    logits: Tensor,
    node_valid: Tensor | None = None,
    *,
    gamma1: float = GAMMA1,
    norm: AttentionNorm = "regions",
) -> Tensor:
    """Eq. 6.3.1 from the dot products ``logits[…, j, i] = g_j · v_i``: the weights
    ``exp(s_ij) / Σ_i exp(s_ij)`` (``…×J×I``)."""
    if norm == "regions":
        s = gamma1 * logits.softmax(dim=-1)
    elif norm == "nodes":
        if node_valid is not None:
            mask = node_valid.unsqueeze(-1).expand_as(logits)
            logits = logits.masked_fill(~mask, float("-inf"))
        s = gamma1 * torch.nan_to_num(logits.softmax(dim=-2), nan=0.0)
    else:
        raise ValueError(f"unknown attention norm {norm!r}; choose 'regions' or 'nodes'")
    return s.softmax(dim=-1)


def local_similarity(
    nodes: Tensor, attended: Tensor, node_valid: Tensor, *, gamma2: float = GAMMA2
) -> Tensor:
    """Eq. 6.3.2: ``(1/γ2) log Σ_j exp(γ2 cos(g̃_j, g_j))`` over valid nodes → ``…``."""
    cos = F.cosine_similarity(attended, nodes, dim=-1, eps=1e-8)
    cos = cos.masked_fill(~node_valid.bool(), float("-inf"))
    return torch.logsumexp(gamma2 * cos, dim=-1) / gamma2


def global_similarity(image_global: Tensor, graph_global: Tensor) -> Tensor:
    """Eq. 6.3.3: ``cos(v^G, g^G)`` → ``…``."""
    return F.cosine_similarity(image_global, graph_global, dim=-1, eps=1e-8)


def local_scores(
    nodes: Tensor,
    node_valid: Tensor,
    regions: Tensor,
    *,
    gamma1: float = GAMMA1,
    gamma2: float = GAMMA2,
    norm: AttentionNorm = "regions",
    max_elements: int = 1 << 24,
) -> Tensor:
    """``Sim^L`` of every graph (``Bg×J×D``) with every image (``Bi×I×D``) → ``Bg×Bi``.

    Graphs are processed in chunks so that no intermediate holds much more than
    ``max_elements`` numbers (``chunk × Bi × J × max(I, D)``).
    """
    per_graph = regions.shape[0] * nodes.shape[1] * max(regions.shape[1], regions.shape[2])
    chunk = max(1, max_elements // max(1, per_graph))
    rows = []
    for start in range(0, nodes.shape[0], chunk):
        g = nodes[start : start + chunk]  # c×J×D
        m = node_valid[start : start + chunk].unsqueeze(1).expand(-1, regions.shape[0], -1)
        logits = torch.einsum("gjd,bid->gbji", g, regions)  # one GEMM, no broadcast copies
        weights = attention_weights(logits, m, gamma1=gamma1, norm=norm)
        attended = torch.einsum("gbji,bid->gbjd", weights, regions)
        rows.append(local_similarity(g.unsqueeze(1), attended, m, gamma2=gamma2))
    return torch.cat(rows, dim=0)


def global_scores(graph_global: Tensor, image_global: Tensor) -> Tensor:
    """``Sim^G`` of every graph (``Bg×D``) with every image (``Bi×D``) → ``Bg×Bi``."""
    return global_similarity(image_global.unsqueeze(0), graph_global.unsqueeze(1))


def matching_loss(scores: Tensor, *, gamma3: float = GAMMA3) -> Tensor:
    """Eq. 6.3.4–6.3.5 on a square ``[graph, image]`` score matrix whose diagonal pairs match:
    mean over pairs of ``−log P(S|I) − log P(I|S)``."""
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square B×B matrix, got {tuple(scores.shape)}")
    logits = gamma3 * scores
    target = torch.arange(scores.shape[0], device=scores.device)
    graph_given_image = F.cross_entropy(logits.t(), target)  # softmax over graphs per image
    image_given_graph = F.cross_entropy(logits, target)  # softmax over images per graph
    return graph_given_image + image_given_graph


class SGSMLoss(NamedTuple):
    """``total = local + global_`` (eq. 6.3.6) and the two score matrices."""

    total: Tensor
    local: Tensor
    global_: Tensor
    local_scores: Tensor
    global_scores: Tensor


def sgsm_loss(
    nodes: Tensor,
    node_valid: Tensor,
    regions: Tensor,
    graph_global: Tensor,
    image_global: Tensor,
    *,
    gamma1: float = GAMMA1,
    gamma2: float = GAMMA2,
    gamma3: float = GAMMA3,
    norm: AttentionNorm = "regions",
) -> SGSMLoss:
    """Eq. 6.3.6 for a batch of matching (graph ``b``, image ``b``) pairs."""
    loc = local_scores(nodes, node_valid, regions, gamma1=gamma1, gamma2=gamma2, norm=norm)
    glo = global_scores(graph_global, image_global)
    l_local = matching_loss(loc, gamma3=gamma3)
    l_global = matching_loss(glo, gamma3=gamma3)
    return SGSMLoss(l_local + l_global, l_local, l_global, loc, glo)
