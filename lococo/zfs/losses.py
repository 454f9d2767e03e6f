"""Auxiliary local losses on the local feature map (thesis 4.4.1, fig. A.1): pure functions.

``AC`` classifies the class's attributes at every position, ``LC`` the class label at every
position; both push semantic information into early, local features.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def attribute_targets(raw_attributes: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Per-attribute min–max scaling of class attributes (``K×A``, e.g. CUB's percentages) to
    soft labels in ``[0, 1]``; an attribute constant over the classes gets 0.5."""
    raw = torch.as_tensor(np.asarray(raw_attributes), dtype=torch.float32)
    low, high = raw.min(0).values, raw.max(0).values
    span = high - low
    scaled = (raw - low) / span.clamp_min(1e-12)
    return torch.where(span > 0, scaled, torch.full_like(scaled, 0.5))


def attribute_local_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """AC: binary cross-entropy of per-position attribute logits ``B×A×H×W`` against the soft
    attribute labels ``B×A`` of the images' classes (broadcast over positions)."""
    return F.binary_cross_entropy_with_logits(logits, targets[:, :, None, None].expand_as(logits))


def label_local_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """LC: cross-entropy of per-position class logits ``B×K×H×W`` against labels ``B``."""
    b, _, h, w = logits.shape
    return F.cross_entropy(logits, targets[:, None, None].expand(b, h, w))
