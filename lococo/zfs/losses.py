"""Auxiliary local losses on the local feature map (thesis 4.4.1, fig. A.1): pure functions.

``AC`` predicts the class attribute vector at every position, ``LC`` the class label at every
position; both push semantic information into early, local features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attribute_local_loss(predicted: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """AC: mean squared error between per-position attribute predictions ``B×A×H×W`` and the
    class attribute vectors ``B×A`` of the images (broadcast over positions)."""
    target = attributes[:, :, None, None].expand_as(predicted)
    return F.mse_loss(predicted, target)


def label_local_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """LC: cross-entropy of per-position class logits ``B×K×H×W`` against labels ``B``."""
    b, _, h, w = logits.shape
    return F.cross_entropy(logits, targets[:, None, None].expand(b, h, w))
