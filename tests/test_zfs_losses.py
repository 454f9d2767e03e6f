"""AC and LC local losses: known values, broadcasting over positions, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lococo.zfs.losses import attribute_local_loss, attribute_targets, label_local_loss


def test_attribute_targets_scale_each_attribute_to_unit_range():
    raw = np.array([[0.0, 50.0, 7.0], [100.0, 25.0, 7.0], [50.0, 0.0, 7.0]])
    targets = attribute_targets(raw)
    expected = torch.tensor([[0.0, 1.0, 0.5], [1.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    torch.testing.assert_close(targets, expected)


def test_attribute_loss_is_positionwise_bce():
    logits = torch.zeros(2, 3, 4, 5)
    targets = torch.tensor([[0.0, 1.0, 0.5], [1.0, 1.0, 0.0]])
    assert attribute_local_loss(logits, targets).item() == pytest.approx(math.log(2))
    # a logit map equal to the target's logit everywhere is optimal: zero gradient
    soft = torch.tensor([[0.2, 0.7, 0.5]])
    opt = torch.logit(soft)[:, :, None, None].expand(1, 3, 2, 2).clone().requires_grad_()
    attribute_local_loss(opt, soft).backward()
    assert opt.grad.abs().max() < 1e-6
    # positions are averaged: one wrong position out of four raises the loss by a quarter
    one_off = opt.detach().clone()
    one_off[0, :, 0, 0] = -opt.detach()[0, :, 0, 0]
    base = attribute_local_loss(opt.detach(), soft)
    manual = torch.nn.functional.binary_cross_entropy_with_logits(one_off[0, :, 0, 0], soft[0])
    expected = (3 * base + manual) / 4
    assert attribute_local_loss(one_off, soft).item() == pytest.approx(expected.item(), rel=1e-5)


def test_label_loss_matches_cross_entropy_at_every_position():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 2, 3, generator=g, requires_grad=True)
    labels = torch.tensor([4, 0, 2])
    loss = label_local_loss(logits, labels)
    per_position = [
        torch.nn.functional.cross_entropy(logits[:, :, h, w], labels)
        for h in range(2)
        for w in range(3)
    ]
    assert loss.item() == pytest.approx(torch.stack(per_position).mean().item(), rel=1e-6)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
