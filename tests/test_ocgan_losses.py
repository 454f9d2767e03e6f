"""OC-GAN losses (eq. 6.3.7–6.3.10 and the perceptual loss) against their formulas."""

from __future__ import annotations

import math

import pytest
import torch

from lococo.ocgan.gan_losses import (
    ac_loss,
    d_hinge_loss,
    g_hinge_loss,
    layer_dims,
    perceptual_l1,
)


def test_d_hinge_loss_hand_values() -> None:
    real = torch.tensor([2.0, 0.5, -1.0])  # relu(1 - r) = 0, 0.5, 2
    fake = torch.tensor([-2.0, 0.0, 0.5])  # relu(1 + f) = 0, 1, 1.5
    assert d_hinge_loss(real, fake).item() == pytest.approx(2.5 / 3 + 2.5 / 3)


def test_d_hinge_loss_is_eq_6_3_8_on_patch_maps() -> None:
    torch.manual_seed(0)
    real, fake = torch.randn(4, 1, 3, 3) * 2, torch.randn(4, 1, 3, 3) * 2
    # -E[min(0, -1 + D(x))] - E[min(0, -1 - D(G(z)))]
    expected = -torch.clamp(-1 + real, max=0).mean() - torch.clamp(-1 - fake, max=0).mean()
    assert d_hinge_loss(real, fake).item() == pytest.approx(expected.item(), rel=1e-6)


def test_g_hinge_loss_hand_values() -> None:
    assert g_hinge_loss(torch.tensor([1.0, 2.0, 3.0])).item() == pytest.approx(-2.0)
    assert g_hinge_loss(torch.tensor([[-4.0, 0.0]])).item() == pytest.approx(2.0)


def test_ac_loss_is_mean_cross_entropy() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 2])
    first = -(2.0 - math.log(math.exp(2.0) + 1.0 + math.exp(-1.0)))
    second = -(0.0 - math.log(2.0 + math.e))
    assert ac_loss(logits, labels).item() == pytest.approx((first + second) / 2, rel=1e-6)


def test_ac_loss_without_objects_is_zero_and_differentiable() -> None:
    logits = torch.zeros(0, 5, requires_grad=True)
    loss = ac_loss(logits, torch.zeros(0, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


def _features(seed: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 4, 8, 8), (3, 8, 4, 4), (3, 16, 2, 2)]
    fake = [torch.randn(s, generator=g) for s in shapes]
    real = [torch.randn(s, generator=g) for s in shapes]
    return fake, real


def test_perceptual_default_weights_are_one_over_layer_size() -> None:
    fake, real = _features(0)
    assert layer_dims(fake) == [256, 128, 64]
    # the thesis' sum_i (1/D_i) ||F_i(x) - F_i(G)||_1, averaged over the batch, by loops
    expected = 0.0
    for f, r in zip(fake, real, strict=True):
        d = f[0].numel()
        expected += sum(float((f[b] - r[b]).abs().sum()) / d for b in range(f.shape[0])) / 3
    assert perceptual_l1(fake, real).item() == pytest.approx(expected, rel=1e-5)
    # ... which is the sum over layers of the mean absolute difference
    means = sum(float((f - r).abs().mean()) for f, r in zip(fake, real, strict=True))
    assert perceptual_l1(fake, real).item() == pytest.approx(means, rel=1e-5)


def test_perceptual_explicit_weights_multiply_per_sample_l1_sums() -> None:
    fake, real = _features(1)
    weights = [0.5, 0.0, 2.0]
    expected = sum(
        w * float((f - r).abs().flatten(1).sum(1).mean())
        for w, f, r in zip(weights, fake, real, strict=True)
    )
    assert perceptual_l1(fake, real, weights).item() == pytest.approx(expected, rel=1e-5)


def test_perceptual_is_zero_for_equal_features_and_checks_lengths() -> None:
    fake, _ = _features(2)
    assert perceptual_l1(fake, [f.clone() for f in fake]).item() == 0.0
    with pytest.raises(ValueError, match="feature maps"):
        perceptual_l1(fake, fake[:2])
    with pytest.raises(ValueError, match="weights"):
        perceptual_l1(fake, fake, [1.0])


def test_perceptual_gradient_pulls_fake_towards_real() -> None:
    fake, real = _features(3)
    fake = [f.requires_grad_() for f in fake]
    perceptual_l1(fake, real).backward()
    for f, r in zip(fake, real, strict=True):
        assert f.grad is not None
        assert torch.equal(torch.sign(f.grad), torch.sign(f.detach() - r))
