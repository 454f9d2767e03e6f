"""Dice similarity coefficient of binary segmentations (here: the enhancing tumour), per case.

Computed with MONAI's ``compute_dice``. Empty targets follow the BraTS challenge convention
(MONAI ``ignore_empty=False``): a case whose ground truth has no enhancing voxel scores 1
when the prediction is empty too and 0 when the prediction marks any voxel, so every case
counts in the mean (none is skipped as NaN).
"""

from __future__ import annotations

import torch
from monai.metrics import compute_dice
from torch import Tensor


def dice(prediction: Tensor, target: Tensor) -> Tensor:
    """Per-case Dice ``2|P∩T| / (|P| + |T|)`` of binary masks ``N×*S`` (one case per row).

    Returns ``N`` float64 scores; empty target: 1 if the prediction is empty, else 0.
    Counts are exact (MONAI sums float64 masks), the ratio is rounded to float32 by MONAI.
    """
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ"
        )
    if prediction.dim() < 2:
        raise ValueError("dice expects N×*S masks (one case per row)")
    pred = (prediction > 0).to(torch.float64).unsqueeze(1)
    true = (target > 0).to(torch.float64).unsqueeze(1)
    scores = compute_dice(pred, true, include_background=True, ignore_empty=False)[:, 0]
    return scores.to(torch.float64)
