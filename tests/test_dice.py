"""Dice on binary masks against a direct computation, with the BraTS empty-target rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lococo.metrics import dice


def direct_dice(pred: np.ndarray, true: np.ndarray) -> float:
    p, t = pred.astype(bool), true.astype(bool)
    if not t.any():
        return 1.0 if not p.any() else 0.0
    return 2.0 * np.logical_and(p, t).sum() / (p.sum() + t.sum())


def test_dice_matches_direct_computation():
    rng = np.random.default_rng(0)
    pred = rng.uniform(size=(12, 5, 6, 7)) > 0.7
    true = rng.uniform(size=(12, 5, 6, 7)) > 0.8
    true[3] = False  # empty target, non-empty prediction -> 0
    true[4] = False
    pred[4] = False  # both empty -> 1
    scores = dice(torch.from_numpy(pred), torch.from_numpy(true)).numpy()
    expected = [direct_dice(p, t) for p, t in zip(pred, true, strict=True)]
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert scores[3] == 0.0 and scores[4] == 1.0


def test_empty_prediction_scores_zero_on_tumour_cases():
    true = torch.zeros(2, 4, 4, dtype=torch.bool)
    true[0, 1:3, 1:3] = True
    scores = dice(torch.zeros_like(true), true)
    assert scores.tolist() == [0.0, 1.0]


def test_perfect_and_shape_errors():
    true = torch.rand(3, 8, 8) > 0.5
    assert torch.allclose(dice(true, true), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError):
        dice(true, true[:, :4])
