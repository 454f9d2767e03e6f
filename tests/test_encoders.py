"""Encoders: layers vs thesis tables A.2/A.3, shapes, receptive fields, torchvision wrapper."""

from __future__ import annotations

import copy
import functools
import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from lococo.nn.encoders import (
    ENCODERS,
    IMAGE_SIZES,
    Encoder,
    EncoderFeatures,
    TorchvisionEncoder,
    build_encoder,
    crop_size,
    receptive_field,
)

SIZES = [(name, size) for name in ENCODERS for size in IMAGE_SIZES]

# Transcribed from the thesis: table A.2 (basic) and table A.3 (alexnet), at 128 px.
TABLE_A2 = [(64, 4, 2, 1, False), (128, 4, 2, 1, False), (256, 4, 2, 1, False)]
TABLE_A2 += [(512, 4, 2, 1, False), (1024, 4, 2, 1, False)]
TABLE_A3 = [(96, 3, 1, 1, True), (192, 3, 1, 1, True), (384, 3, 1, 1, False)]
TABLE_A3 += [(384, 3, 1, 1, False), (192, 3, 1, 1, True), (192, 3, 1, 1, True)]

# Variant table of the module docstring: conv rows, local C×H×W, last conv map C×H×W.
VARIANTS = {
    ("basic", 128): (TABLE_A2, (256, 14, 14), (1024, 3, 3)),
    ("basic", 64): (TABLE_A2[:4], (256, 7, 7), (512, 3, 3)),
    ("basic", 32): (TABLE_A2[:3], (256, 3, 3), (256, 3, 3)),
    ("alexnet", 128): (TABLE_A3, (384, 27, 27), (192, 6, 6)),
    ("alexnet", 64): (TABLE_A3, (384, 13, 13), (192, 2, 2)),
    ("alexnet", 32): ([*TABLE_A3[:5], (192, 3, 1, 1, False)], (384, 6, 6), (192, 2, 2)),
}


@functools.cache
def cached(name: str, size: int) -> Encoder:
    """An encoder in eval mode, shared by read-only tests."""
    torch.manual_seed(0)
    return build_encoder(name, size).eval()


def crop_batch(size: int, batch: int = 2, channels: int = 3) -> torch.Tensor:
    side = crop_size(size)
    return torch.randn(batch, channels, side, side, generator=torch.Generator().manual_seed(1))


def describe(module: nn.Module) -> tuple:
    if isinstance(module, nn.Conv2d):
        return ("conv", module.in_channels, module.out_channels, module.kernel_size[0],
                module.stride[0], module.padding[0])  # fmt: skip
    if isinstance(module, nn.MaxPool2d):
        return ("maxpool", module.kernel_size, module.stride, module.padding)
    if isinstance(module, nn.Linear):
        return ("linear", module.in_features, module.out_features)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return (type(module).__name__, module.num_features)
    return (type(module).__name__,)


def executed_layers(encoder: nn.Module, x: torch.Tensor) -> list[tuple]:
    """Leaf modules in the order the forward pass calls them."""
    calls: list[tuple] = []
    leaves = [m for m in encoder.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append(describe(m))) for m in leaves]
    try:
        with torch.no_grad():
            encoder(x)
    finally:
        for h in hooks:
            h.remove()
    return calls


def expected_layers(rows: list[tuple], in_channels: int, flat: int, linears: list[int]) -> list:
    layers: list[tuple] = []
    for channels, kernel, stride, padding, pool in rows:
        layers += [("conv", in_channels, channels, kernel, stride, padding)]
        layers += [("BatchNorm2d", channels), ("ReLU",)]
        layers += [("maxpool", 3, 2, 0)] if pool else []
        in_channels = channels
    for width in linears:
        layers += [("linear", flat, width), ("BatchNorm1d", width), ("ReLU",)]
        flat = width
    return layers


def test_crop_size_is_seven_eighths() -> None:
    assert [crop_size(s) for s in (128, 64, 32)] == [112, 56, 28]


def test_basic_128_is_table_a2() -> None:
    enc = cached("basic", 128)
    expected = expected_layers(TABLE_A2, 3, 1024 * 3 * 3, [1024])
    assert executed_layers(enc, crop_batch(128)) == expected
    assert enc.input_size == 112


def test_alexnet_128_is_table_a3_plus_1024_projection() -> None:
    enc = cached("alexnet", 128)
    expected = expected_layers(TABLE_A3, 3, 192 * 6 * 6, [4096, 4096, 1024])
    assert executed_layers(enc, crop_batch(128)) == expected


@pytest.mark.parametrize(("name", "size"), SIZES)
def test_variant_layers_and_shapes(name: str, size: int) -> None:
    rows, local, last = VARIANTS[(name, size)]
    enc = cached(name, size)
    linears = [4096, 4096, 1024] if name == "alexnet" else [1024]
    x = crop_batch(size)
    assert executed_layers(enc, x) == expected_layers(rows, 3, math.prod(last), linears)
    with torch.no_grad():
        feats = enc.features(x)
        out = enc(x)
    assert isinstance(out, EncoderFeatures)
    assert out.local.shape == (2, *local) and out.global_.shape == (2, 1024)
    assert enc.local_shape == local and enc.local_channels == local[0]
    assert enc.global_dim == 1024 and enc.input_size == crop_size(size)
    assert feats[f"layer{len(rows) - 1}"].shape == (2, *last)
    assert min(last[1:]) >= 2, "spatial size must not collapse below 2"
    assert torch.equal(feats["local"], feats["layer2"])
    assert torch.equal(out.local, feats["local"]) and torch.equal(out.global_, feats["global"])


def test_prepool_postpool_are_around_the_last_pool() -> None:
    enc = cached("alexnet", 128)
    with torch.no_grad():
        feats = enc.features(crop_batch(128))
    assert feats["prepool"].shape == (2, 192, 13, 13)
    assert torch.equal(feats["postpool"], F.max_pool2d(feats["prepool"], 3, 2))
    assert torch.equal(feats["postpool"], feats["layer5"])
    assert feats["fc0"].shape == feats["fc1"].shape == (2, 4096)
    with torch.no_grad():
        basic = cached("basic", 128).features(crop_batch(128))
    assert "prepool" not in basic and "postpool" not in basic


@pytest.mark.parametrize("name", ENCODERS)
def test_global_dim_and_in_channels(name: str) -> None:
    enc = build_encoder(name, 32, global_dim=64, in_channels=4).eval()
    with torch.no_grad():
        out = enc(crop_batch(32, channels=4))
    assert out.global_.shape == (2, 64) and enc.global_dim == 64
    assert out.local.shape == (2, *VARIANTS[(name, 32)][1])


def test_invalid_choices_name_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="basic, alexnet"):
        build_encoder("vgg", 128)
    with pytest.raises(ValueError, match="32, 64, 128"):
        build_encoder("basic", 100)


def test_receptive_field_arithmetic_known_values() -> None:
    assert receptive_field([]) == (1, 1, 0.0)
    # one conv: size k, jump s, centre of unit 0 at (k - 1) / 2 - p
    assert receptive_field([(5, 3, 2)]) == (5, 3, 0.0)
    # basic: three (4, 2, 1) convs -> 4, 4+3*2=10, 10+3*4=22; start 0.5, 1.5, 3.5; jump 8
    assert cached("basic", 128).local_receptive_fields() == (22, 8, 3.5)
    # alexnet: conv3 (3), pool (5, j2, start 1), conv3 (9), pool (13, j4, start 3), conv3 (21)
    assert cached("alexnet", 128).local_receptive_fields() == (21, 4, 3.0)
    # continued: conv3 29, conv3 37, pool 45 (j8, start 7), conv3 61 | pool 77 (j16, start 15)
    assert cached("alexnet", 128).receptive_field("prepool") == (61, 8, 7.0)
    assert cached("alexnet", 128).receptive_field("postpool") == (77, 16, 15.0)


def linearised(encoder: nn.Module) -> nn.Module:
    """A copy whose local map is linear in the input with positive weights.

    ReLU -> identity, max-pool -> average pool of the same geometry, conv weights positive,
    BN in eval mode (a positive scale). The input-gradient support of a unit is then exactly
    its receptive field clipped to the image.
    """
    net = copy.deepcopy(encoder).eval()
    for module in list(net.modules()):
        for child_name, child in module.named_children():
            if isinstance(child, nn.ReLU):
                setattr(module, child_name, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                pool = nn.AvgPool2d(child.kernel_size, child.stride, child.padding)
                setattr(module, child_name, pool)
            elif isinstance(child, nn.Conv2d):
                nn.init.constant_(child.weight, 1.0 / child.weight[0].numel())
    return net


def footprint(grad: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    """(first, last) nonzero row and column of a ``H×W`` gradient magnitude."""
    rows = torch.nonzero(grad.sum(1) > 0).flatten()
    cols = torch.nonzero(grad.sum(0) > 0).flatten()
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))


def window(k: int, rf: int, jump: int, start: float, side: int) -> tuple[int, int]:
    centre, half = start + k * jump, (rf - 1) / 2
    return max(0, math.ceil(centre - half)), min(side - 1, math.floor(centre + half))


@pytest.mark.parametrize(("name", "size"), SIZES)
def test_receptive_fields_match_autograd_footprint(name: str, size: int) -> None:
    enc = cached(name, size)
    rf, jump, start = enc.local_receptive_fields()
    side = enc.input_size
    _, height, width = enc.local_shape
    for net, exact in ((linearised(enc), True), (enc, False)):
        x = torch.ones(1, 3, side, side, requires_grad=True)
        local = net(x).local
        for h, w in {(0, 0), (height // 2, width // 3), (height - 1, width - 1), (1, width - 2)}:
            (grad,) = torch.autograd.grad(local[0, :, h, w].sum(), x, retain_graph=True)
            rows, cols = footprint(grad[0].abs().sum(0))
            want_rows = window(h, rf, jump, start, side)
            want_cols = window(w, rf, jump, start, side)
            if exact:
                assert (rows, cols) == (want_rows, want_cols), (h, w)
            else:  # the real net (ReLU, max-pool) can only see a subset of the field
                assert want_rows[0] <= rows[0] <= rows[1] <= want_rows[1], (h, w)
                assert want_cols[0] <= cols[0] <= cols[1] <= want_cols[1], (h, w)


@pytest.mark.parametrize("name", ENCODERS)
def test_gradients_reach_input_and_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    enc = build_encoder(name, 32).train()
    x = crop_batch(32, batch=4).requires_grad_(True)
    out = enc(x)
    weights = torch.randn_like(out.local), torch.randn_like(out.global_)
    loss = (out.local * weights[0]).sum() + (out.global_ * weights[1]).sum()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, param in enc.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), pname
        assert param.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", ENCODERS)
def test_train_and_eval_differ_only_by_batch_norm(name: str) -> None:
    torch.manual_seed(0)
    enc = build_encoder(name, 32)
    assert not any(isinstance(m, nn.modules.dropout._DropoutNd) for m in enc.modules())
    x = crop_batch(32, batch=4)
    norms = [m for m in enc.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        enc.train()
        for m in norms:
            m.eval()
        bn_frozen = enc(x)
        enc.eval()
        evaluated = enc(x)
        enc.train()
        trained = enc(x)
    torch.testing.assert_close(bn_frozen.local, evaluated.local, rtol=0, atol=0)
    torch.testing.assert_close(bn_frozen.global_, evaluated.global_, rtol=0, atol=0)
    assert not torch.allclose(trained.local, evaluated.local, atol=1e-3)


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None)


def test_torchvision_wrapper_on_resnet18(resnet: nn.Module) -> None:
    stats = resnet.bn1.running_mean.clone()
    enc = TorchvisionEncoder(resnet, "layer2", input_size=64)
    assert torch.equal(resnet.bn1.running_mean, stats), "probing must not touch BN statistics"
    assert isinstance(enc, Encoder) and enc.global_layer == "layer4"
    assert enc.local_shape == (128, 8, 8) and enc.local_channels == 128 and enc.global_dim == 512
    assert enc.body.conv1 is resnet.conv1, "backbone modules are shared, not copied"
    x = crop_batch(64, batch=2)[..., :64, :64]
    enc.eval()
    with torch.no_grad():
        feats = enc.features(x)
        out = enc(x)
        h = resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(x))))
        layer2 = resnet.layer2(resnet.layer1(h))
        pooled = resnet.layer4(resnet.layer3(layer2)).mean(dim=(2, 3))
    torch.testing.assert_close(out.local, layer2)
    torch.testing.assert_close(out.global_, pooled)
    assert {"conv1", "layer1", "layer2", "layer3", "layer4", "local", "global"} <= set(feats)
    assert "fc" not in feats and "avgpool" not in feats
    with pytest.raises(NotImplementedError, match="receptive fields"):
        enc.local_receptive_fields()


def test_torchvision_wrapper_projection_and_gradients(resnet: nn.Module) -> None:
    enc = TorchvisionEncoder(resnet, "layer1.1", global_layer="layer3", global_dim=32,
                             input_size=32)  # fmt: skip
    assert enc.local_shape == (64, 8, 8) and enc.global_dim == 32
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    out = enc.train()(x)
    assert out.global_.shape == (2, 32)
    (out.local.sum() + out.global_.pow(2).sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert enc.proj.weight.grad is not None and resnet.layer3[0].conv1.weight.grad is not None
    with pytest.raises(ValueError, match="top-level stages"):
        TorchvisionEncoder(resnet, "layer9", input_size=32)


def test_torchvision_default_global_layer_skips_global_pooling() -> None:
    net = torchvision.models.squeezenet1_1(weights=None)
    enc = TorchvisionEncoder(net, "features.3", input_size=64)
    assert enc.global_layer == "features"
    assert enc.global_dim == 512
