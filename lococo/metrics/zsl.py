"""Zero-shot accuracy (Xian et al. 2017): per-class mean top-1 and the GZSL harmonic mean."""

from __future__ import annotations

import numpy as np
import torch


def _numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def per_class_accuracy(
    predictions: torch.Tensor | np.ndarray,
    targets: torch.Tensor | np.ndarray,
) -> float:
    """Top-1 accuracy averaged over the classes present in ``targets`` (classes weigh equally)."""
    pred, target = _numpy(predictions), _numpy(targets)
    if pred.shape != target.shape or target.size == 0:
        raise ValueError("predictions and targets must be non-empty and of the same shape")
    classes = np.unique(target)
    correct = pred == target
    return float(np.mean([correct[target == c].mean() for c in classes]))


def sample_accuracy(
    predictions: torch.Tensor | np.ndarray, targets: torch.Tensor | np.ndarray
) -> float:
    """Top-1 accuracy over samples."""
    pred, target = _numpy(predictions), _numpy(targets)
    return float((pred == target).mean())


def harmonic_mean(seen: float, unseen: float) -> float:
    """GZSL harmonic mean ``2·s·u / (s + u)`` (0 when both are 0)."""
    return 0.0 if seen + unseen == 0 else 2.0 * seen * unseen / (seen + unseen)
