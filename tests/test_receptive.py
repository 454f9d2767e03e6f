"""Empirical receptive fields (autograd) vs the analytic arithmetic of the encoders."""

from __future__ import annotations

import pytest
import torch
import torchvision

from lococo.nn.encoders import TorchvisionEncoder, build_encoder
from lococo.nn.receptive import empirical_receptive_field, encoder_receptive_field


def small_encoder(name: str, size: int):
    torch.manual_seed(0)
    return build_encoder(name, size, width=0.5)


@pytest.mark.parametrize(
    ("name", "size", "stage"),
    [
        ("basic", 32, "local"),
        ("basic", 64, "local"),
        ("basic", 64, "layer3"),
        ("alexnet", 64, "local"),
        ("alexnet", 64, "layer1"),
    ],
)
def test_empirical_matches_analytic(name, size, stage):
    encoder = small_encoder(name, size)
    assert empirical_receptive_field(encoder, stage) == encoder.receptive_field(stage)


def test_resnet18_layer2():
    # conv1 7/2, maxpool 3/2, then 3×3 convs: rf 99, jump 8, unit 0 centred on pixel 0
    encoder = TorchvisionEncoder(
        torchvision.models.resnet18(weights=None), "layer2", input_size=128
    )
    rf, jump, start = encoder_receptive_field(encoder)
    assert jump == 8
    assert (rf, start) == (99, 0.0)
    assert empirical_receptive_field(encoder, "layer1", input_size=96) == (43, 4, 0.0)


def test_measuring_leaves_the_encoder_untouched():
    encoder = small_encoder("basic", 32).train()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    empirical_receptive_field(encoder)
    assert encoder.training and all(m.training for m in encoder.modules())
    assert all(p.grad is None for p in encoder.parameters())
    after = encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics too


def test_analytic_preferred_when_available():
    encoder = small_encoder("alexnet", 32)
    # layer5's fields span the whole 28-pixel input: only the arithmetic can give them
    with pytest.raises(ValueError, match="border"):
        empirical_receptive_field(encoder, "layer5")
    assert encoder_receptive_field(encoder, "layer5") == encoder.receptive_field("layer5")


def test_bad_stage():
    encoder = small_encoder("basic", 32)
    with pytest.raises(ValueError, match="no stage"):
        empirical_receptive_field(encoder, "nope")
    with pytest.raises(ValueError, match="map"):
        empirical_receptive_field(encoder, "global")
