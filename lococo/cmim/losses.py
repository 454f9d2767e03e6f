"""Cross-modal mutual-information losses (thesis eq. 8.3.1–8.3.4) as pure functions.

A *critic* scores every pair of a batch: ``critic(a, b)[i, j, *s] = T(a_i[s], b_j[s])``
(:class:`lococo.nn.critics.ConcatConvCritic`, concat-and-convolve; a vector input is tiled
over the positions of the other, which gives the local–global case). Scores go to
:func:`lococo.mi.estimate`: for local maps the positive pairs are the same case at the same
position (``i == j``), the negatives the other cases of the batch at that position.

* :func:`pair_mi` — ``Î(A, B)`` (eq. 8.3.1 with the JSD estimator) for one pair of
  representations: local–local (two maps) or local–global (a map and a vector).
* :func:`cross_modal_mi` — the mean of :func:`pair_mi` over pairs of modalities (eq. 8.3.2
  for local maps; eq. 8.3.3 when every pair is (local map of ``n``, the global vector)).
* :func:`cross_modal_loss` — its negation, the quantity minimised (``L^{l→l}`` of eq. 8.3.6).

Slices of one patient must not act as each other's negatives: ``groups`` (one id per sample,
e.g. the case index) removes pairs of the same group from the negatives.

Eq. 8.3.2 writes ``1/N² Σ_{n,m}`` over all ordered pairs; its diagonal ``n = m`` measures a
map against itself (no cross-modal information) and ``(n, m)`` / ``(m, n)`` are the same
quantity up to the critic's argument order, so :func:`all_pairs` defaults to the
``N(N−1)/2`` unordered pairs of distinct modalities, one critic each, and the loss averages
over them (``include_self=True`` and ``ordered=True`` give the literal sum).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from lococo import mi
from lococo.nn.critics import ConcatConvCritic

Critic = Callable[[Tensor, Tensor], Tensor]
Pair = tuple[int, int]


def all_pairs(n: int, *, ordered: bool = False, include_self: bool = False) -> list[Pair]:
    """Index pairs of ``n`` modalities: unordered distinct pairs by default."""
    if ordered:
        return [(i, j) for i in range(n) for j in range(n) if include_self or i != j]
    pairs = list(itertools.combinations(range(n), 2))
    return sorted(pairs + [(i, i) for i in range(n)]) if include_self else pairs


def pair_key(pair: Pair) -> str:
    """The ``nn.ModuleDict`` key of a pair's critic."""
    return f"{pair[0]}_{pair[1]}"


def pair_critics(
    channels: Sequence[int], pairs: Sequence[Pair], hidden: int = 64, layers: int = 2
) -> nn.ModuleDict:
    """One concat-and-convolve critic per pair; ``channels[n]`` is modality ``n``'s width."""
    return nn.ModuleDict(
        {
            pair_key((i, j)): ConcatConvCritic(channels[i], channels[j], hidden, layers)
            for i, j in pairs
        }
    )


def negatives_excluding_groups(groups: Tensor) -> Tensor:
    """``N×N`` mask of pairs from different groups (e.g. slices of different cases)."""
    groups = groups.reshape(-1)
    return groups[:, None] != groups[None, :]


def pair_mi(
    a: Tensor,
    b: Tensor,
    critic: Critic,
    estimator: str = "jsd",
    groups: Tensor | None = None,
) -> Tensor:
    """``Î(A, B)`` from ``critic`` scores (eq. 8.3.1 for ``jsd``): a scalar to maximise.

    ``a``/``b``: ``B×C×*S`` maps (or one ``B×D`` vector); positives are ``(i, i)`` at each
    position, negatives ``(i, j)`` with ``groups[i] != groups[j]`` (default ``i != j``). A batch
    whose samples all share one group has no negative pair and nothing to contrast: its
    estimate is 0 (kept in the graph, so the step still runs).
    """
    scores = critic(a, b)
    negatives = None if groups is None else negatives_excluding_groups(groups).to(scores.device)
    if negatives is not None and not bool(negatives.any()):
        return scores.sum() * 0.0
    return mi.estimate(scores, estimator, negative_mask=negatives)


def cross_modal_mi(
    features: Sequence[Tensor],
    critics: Mapping[str, Critic] | nn.ModuleDict,
    pairs: Sequence[Pair] | None = None,
    estimator: str = "jsd",
    groups: Tensor | None = None,
    partner: Tensor | None = None,
) -> Tensor:
    """Mean of ``Î(features[n], features[m])`` over ``pairs`` (default :func:`all_pairs`).

    ``critics[pair_key((n, m))]`` scores the pair. With ``partner`` (e.g. a global vector
    ``Γ^M``) every ``features[n]`` is paired with it instead and ``critics[str(n)]`` is used:
    eq. 8.3.3's ``1/N Σ_n Î(Λ^{M_n}, Γ^M)``.
    """
    if partner is not None:
        terms = [
            pair_mi(f, partner, critics[str(n)], estimator, groups) for n, f in enumerate(features)
        ]
    else:
        pairs = all_pairs(len(features)) if pairs is None else pairs
        if not pairs:
            raise ValueError("cross-modal MI needs at least one pair of modalities")
        terms = [
            pair_mi(features[i], features[j], critics[pair_key((i, j))], estimator, groups)
            for i, j in pairs
        ]
    return torch.stack(terms).mean()


def cross_modal_loss(
    features: Sequence[Tensor],
    critics: Mapping[str, Critic] | nn.ModuleDict,
    pairs: Sequence[Pair] | None = None,
    estimator: str = "jsd",
    groups: Tensor | None = None,
    partner: Tensor | None = None,
) -> Tensor:
    """``−cross_modal_mi(...)``: ``L^{l→l}`` (or ``L^{l→g}``) to minimise."""
    return -cross_modal_mi(features, critics, pairs, estimator, groups, partner)
