"""Mutual-information estimators as pure functions on critic score tensors.

A *score tensor* holds critic values ``scores[i, j, ...] = T(x_i, y_j[...])`` for every pair of
a batch: shape ``N×N`` for vector pairs, or ``N×N×P`` / ``N×N×H×W`` (trailing dims are
flattened into ``P`` positions) for the local–global case of Deep InfoMax, where ``x_i`` is a
global feature and ``y_j[p]`` the local feature of sample ``j`` at position ``p``.

Pairs ``(i, j)`` with ``positive_mask[i, j]`` (default: the diagonal) are samples of the joint
distribution, at every position; pairs with ``negative_mask[i, j]`` (default: every other pair)
are samples of the product of marginals, at every position. Pairs in neither mask are ignored,
which lets class-matching DIM declare same-class pairs positive and different-class pairs
negative.

Every estimator returns a scalar to MAXIMISE; ``loss`` is its negation. ``dv``, ``nwj`` and
``infonce`` are lower bounds on the mutual information in nats; ``jsd`` is the Deep InfoMax
Jensen–Shannon objective (monotone in the JS divergence, not in nats).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

ESTIMATORS: tuple[str, ...] = ("dv", "nwj", "infonce", "jsd")


def _flatten(scores: Tensor) -> Tensor:
    """Return ``scores`` as ``N×N×P`` (``P = 1`` for a plain ``N×N`` matrix)."""
    if scores.dim() < 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must have shape N×N[×...], got {tuple(scores.shape)}")
    return scores.reshape(scores.shape[0], scores.shape[1], -1)


def _masks(
    n: int, positive_mask: Tensor | None, negative_mask: Tensor | None, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Validate or build the ``N×N`` boolean positive and negative masks."""
    pos = torch.eye(n, dtype=torch.bool, device=device) if positive_mask is None else positive_mask
    if pos.shape != (n, n) or pos.dtype != torch.bool:
        raise ValueError(f"positive_mask must be a bool tensor of shape {(n, n)}")
    pos = pos.to(device)
    neg = ~pos if negative_mask is None else negative_mask.to(device)
    if neg.shape != (n, n) or neg.dtype != torch.bool:
        raise ValueError(f"negative_mask must be a bool tensor of shape {(n, n)}")
    if bool((pos & neg).any()):
        raise ValueError("positive_mask and negative_mask overlap")
    if not bool(pos.any()):
        raise ValueError("positive_mask selects no pair")
    return pos, neg


def _select(s: Tensor, mask: Tensor, what: str) -> Tensor:
    """All entries ``s[i, j, p]`` with ``mask[i, j]``, as a flat vector."""
    values = s[mask.unsqueeze(-1).expand_as(s)]
    if values.numel() == 0:
        raise ValueError(f"no {what} pair: the estimator needs at least one")
    return values


def donsker_varadhan(s: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    """MINE / Donsker–Varadhan bound (Belghazi et al. 2018).

    ``E_joint[T] − log E_marginals[exp T]``; the log-mean-exp is a logsumexp minus the log of
    the number of negatives, so it stays finite for huge scores.
    """
    negatives = _select(s, neg, "negative")
    log_mean_exp = torch.logsumexp(negatives, dim=0) - math.log(negatives.numel())
    return _select(s, pos, "positive").mean() - log_mean_exp


def nguyen_wainwright_jordan(s: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    """NWJ / f-divergence bound (Nguyen, Wainwright & Jordan 2010).

    ``E_joint[T] − E_marginals[exp(T − 1)]``; its optimal critic is ``1 + PMI``.
    """
    negatives = _select(s, neg, "negative")
    return _select(s, pos, "positive").mean() - torch.exp(negatives - 1.0).mean()


def info_nce(s: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    """InfoNCE / contrastive predictive coding bound (van den Oord et al. 2018).

    Each positive score ``s[i, j, p]`` is put first in a softmax against every negative of its
    row, ``{s[i, k, q] : negative_mask[i, k], all q}`` (Deep InfoMax's local NCE, Hjelm et al.
    2019). The bound is the mean over positives of ``log(1 + K_i) + log_softmax``, where
    ``K_i`` is the row's number of negatives: for an ``N×N`` matrix this is
    ``log N + mean_i(s_ii − logsumexp_j s_ij)``. It can never exceed ``log(1 + K_i)``
    (``log N`` for vectors, ``log(1 + (N−1)P)`` locally), so it saturates for large MI.
    """
    neg_scores = s.masked_fill(~neg.unsqueeze(-1), float("-inf"))
    row_lse = torch.logsumexp(neg_scores.flatten(1), dim=1)  # -inf for a row without negatives
    row_count = neg.sum(dim=1).to(s.dtype) * s.shape[-1]
    terms = s - torch.logaddexp(s, row_lse[:, None, None]) + torch.log1p(row_count)[:, None, None]
    return _select(terms, pos, "positive").mean()


def jensen_shannon(s: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    """Deep InfoMax Jensen–Shannon objective (Hjelm et al. 2019; thesis eq. 8.3.1).

    ``E_joint[−softplus(−T)] − E_marginals[softplus(T)]``; at the optimum ``T`` is the
    log density ratio, but the value is ``2·JSD − 2 log 2``, not the MI in nats.
    """
    positives = _select(s, pos, "positive")
    negatives = _select(s, neg, "negative")
    return -F.softplus(-positives).mean() - F.softplus(negatives).mean()


_FUNCTIONS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "dv": donsker_varadhan,
    "nwj": nguyen_wainwright_jordan,
    "infonce": info_nce,
    "jsd": jensen_shannon,
}


def estimate(
    scores: Tensor,
    estimator: str,
    positive_mask: Tensor | None = None,
    negative_mask: Tensor | None = None,
) -> Tensor:
    """The ``estimator`` bound (a scalar to maximise) from critic ``scores`` (``N×N[×...]``).

    ``positive_mask`` (``N×N`` bool, default the identity) marks joint pairs;
    ``negative_mask`` (default ``~positive_mask``) marks product-of-marginals pairs.
    """
    if estimator not in _FUNCTIONS:
        raise ValueError(f"unknown MI estimator {estimator!r}; valid: {', '.join(ESTIMATORS)}")
    s = _flatten(scores)
    pos, neg = _masks(s.shape[0], positive_mask, negative_mask, s.device)
    return _FUNCTIONS[estimator](s, pos, neg)


def loss(
    scores: Tensor,
    estimator: str,
    positive_mask: Tensor | None = None,
    negative_mask: Tensor | None = None,
) -> Tensor:
    """``−estimate(...)``: the quantity to minimise."""
    return -estimate(scores, estimator, positive_mask, negative_mask)
