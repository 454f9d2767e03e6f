"""CMIM classification loss (thesis eq. 8.3.5) as pure functions on critic scores and logits.

The printed eq. 8.3.5 repeats ``L^{l→l}``; the intended objective (8.3.3: "local-local and
local-global") is

    L^C = λ_lg · L^{l→g} + λ_ll · L^{l→l} + λ_C · L^classif

with, for an image ``I`` and its report ``T`` (``Λ`` local features, ``Γ`` the joint global):

* ``L^{l→l}`` (eq. 8.3.2 for the one cross-modal pair) — :func:`local_local_loss`:
  ``−Î(Λ^I, Λ^T)`` over every (image position, text position) pair; positives are an image
  with its own report, negatives with the other reports of the batch.
* ``L^{l→g}`` (eq. 8.3.3, ``1/N Σ_n Î(Λ^{M_n}, Γ)``) — :func:`local_global_loss`:
  ``−½ (Î(Λ^I, Γ) + Î(Λ^T, Γ))``.
* ``L^classif`` — :func:`classification_loss`: binary cross-entropy on the logits the
  classifier computes from the IMAGE representation only (the thesis says categorical
  cross-entropy; the labels are multi-label, so each label is a sigmoid output).

``Î`` is ``lococo.mi``'s estimator (JSD, eq. 8.3.1, by default). Text positions that are
padding are neither positives nor negatives: :func:`bound` drops them by viewing each
(sample, position) of the padded side as its own column of an ``N×(N·P)`` score matrix
whose masks mark only real positions — for every estimator this equals the estimator on the
position-flattened scores when nothing is padded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from lococo import mi

_BOUNDS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "dv": mi.donsker_varadhan,
    "nwj": mi.nguyen_wainwright_jordan,
    "infonce": mi.info_nce,
    "jsd": mi.jensen_shannon,
}


@dataclass(frozen=True)
class ClsLossWeights:
    """The λ of eq. 8.3.5."""

    local_global: float = 1.0  # λ_lg
    local_local: float = 1.0  # λ_ll
    classif: float = 1.0  # λ_C


def bound(scores: Tensor, estimator: str = "jsd", valid: Tensor | None = None) -> Tensor:
    """The MI bound (to maximise) from ``scores`` ``N×N×*S``: rows index one side's samples,
    columns the other side's, ``S`` the column side's positions; positives ``i == j``.

    ``valid`` (``N×*S`` bool, per COLUMN sample) marks real positions; ``None``: all real.
    """
    if valid is None:
        return mi.estimate(scores, estimator)
    if estimator not in _BOUNDS:
        raise ValueError(f"unknown MI estimator {estimator!r}; valid: {', '.join(mi.ESTIMATORS)}")
    n = scores.shape[0]
    if scores.dim() < 3 or scores.shape[1] != n or valid.shape != (n, *scores.shape[2:]):
        raise ValueError(
            f"scores {tuple(scores.shape)} and valid {tuple(valid.shape)} do not match "
            "(N×N×*S, N×*S)"
        )
    positions = valid[0].numel()
    flat_valid = valid.reshape(1, n, positions).to(scores.device)
    eye = torch.eye(n, dtype=torch.bool, device=scores.device)[:, :, None]
    pos = (eye & flat_valid).reshape(n, n * positions)
    neg = (~eye & flat_valid).reshape(n, n * positions)
    return _BOUNDS[estimator](scores.reshape(n, n * positions, 1), pos, neg)


def local_local_loss(scores: Tensor, text_mask: Tensor, estimator: str = "jsd") -> Tensor:
    """``L^{l→l} = −Î(Λ^I, Λ^T)`` from ``scores[i, j, p, q] = T(Λ^I_i[p], Λ^T_j[q])``.

    ``scores`` is ``N×N×P×Q`` (image rows, text columns; ``P`` image positions, ``Q`` text
    positions), ``text_mask`` ``N×Q`` marks real tokens.
    """
    n, _, p, q = scores.shape
    valid = text_mask[:, None, :].expand(n, p, q)
    return -bound(scores, estimator, valid)


def local_global_loss(
    image_scores: Tensor, text_scores: Tensor, text_mask: Tensor, estimator: str = "jsd"
) -> Tensor:
    """``L^{l→g} = −½ (Î(Λ^I, Γ) + Î(Λ^T, Γ))``.

    ``image_scores[i, j, *s] = T_I(Γ_i, Λ^I_j[s])`` (``N×N×h×w``) and
    ``text_scores[i, j, q] = T_T(Γ_i, Λ^T_j[q])`` (``N×N×Q``): rows index the joint global,
    columns the local side.
    """
    image_term = bound(image_scores, estimator)
    text_term = bound(text_scores, estimator, text_mask)
    return -0.5 * (image_term + text_term)


def classification_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """``L^classif``: mean binary cross-entropy of ``N×K`` logits against 0/1 ``targets``."""
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


def total_loss(terms: Mapping[str, Tensor], weights: ClsLossWeights) -> Tensor:
    """Eq. 8.3.5: ``λ_lg·local_global + λ_ll·local_local + λ_C·classif`` over present terms."""
    lam = {
        "local_global": weights.local_global,
        "local_local": weights.local_local,
        "classif": weights.classif,
    }
    parts = [lam[k] * v for k, v in terms.items() if k in lam and lam[k] != 0.0]
    if not parts:
        raise ValueError("every loss weight is zero")
    return torch.stack(parts).sum()
