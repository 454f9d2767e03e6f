"""OC-GAN networks: conditioning maps, conditional BatchNorm, generator, discriminators,
ablation switches, perceptual feature nets."""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from lococo.errors import ConfigError, DataError, LococoError
from lococo.ocgan.conditioning import (
    LayoutConditioning,
    boundary_map,
    box_boundaries,
    box_masks,
    layout_maps,
    one_hot_layout,
    place_masks,
)
from lococo.ocgan.gan_losses import d_hinge_loss
from lococo.ocgan.gan_model import (
    GANModelConfig,
    build_discriminator,
    build_generator,
    validate_model_config,
)
from lococo.ocgan.generator import SpatialConditionalBatchNorm
from lococo.ocgan.perceptual import SubstituteFeatures, build_perceptual

CLASSES = 6
TINY = {"g_channels": 8, "d_channels": 8, "z_dim": 16, "obj_z_dim": 8, "embed_dim": 8}


def _layout(batch: int = 3, objects: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(batch, objects, 2, generator=g) * 0.6
    wh = torch.rand(batch, objects, 2, generator=g) * 0.3 + 0.1
    boxes = torch.cat([xy, xy + wh], dim=-1)
    labels = torch.randint(0, CLASSES, (batch, objects), generator=g)
    valid = torch.ones(batch, objects, dtype=torch.bool)
    valid[0, -1] = False
    valid[1, -2:] = False
    boxes = torch.where(valid[..., None], boxes, torch.zeros_like(boxes))
    labels = torch.where(valid, labels, torch.zeros_like(labels))
    return boxes, labels, valid


def _cfg(**over) -> GANModelConfig:
    return GANModelConfig(**{**TINY, **over})


def _count(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- conditioning


def test_box_masks_follow_the_pixel_rule() -> None:
    boxes = torch.tensor([[[0.1, 0.2, 0.55, 0.5], [0.9, 0.0, 0.91, 0.05], [0.0, 0.0, 0.0, 0.0]]])
    valid = torch.tensor([[True, True, False]])
    size = 10
    masks = box_masks(boxes, valid, size)
    # by loops: columns floor(x0*S) .. max(ceil(x1*S), floor(x0*S)+1) - 1
    expected = torch.zeros(1, 3, size, size)
    expected[0, 0, 2:5, 1:6] = 1  # x 1..5 (ceil 5.5 = 6), y 2..4
    expected[0, 1, 0:1, 9:10] = 1  # a sub-pixel box still covers one pixel
    assert torch.equal(masks, expected)


def test_boundaries_are_the_outline_of_the_box_mask() -> None:
    boxes = torch.tensor([[[0.125, 0.25, 0.875, 0.75]]])
    valid = torch.ones(1, 1, dtype=torch.bool)
    outline = box_boundaries(boxes, valid, 16, width=1)[0, 0]
    filled = box_masks(boxes, valid, 16)[0, 0]
    expected = filled.clone()
    expected[5:11, 3:13] = 0  # rows 4..11, columns 2..13 minus a 1-px border
    assert torch.equal(outline, expected)
    assert int(outline.sum()) == 2 * 12 + 2 * 6
    thick = box_boundaries(boxes, valid, 16, width=2)[0, 0]
    assert int(thick.sum()) == int(filled.sum()) - 4 * 8


@pytest.mark.parametrize("overlap", [0.0, 0.125])
def test_instance_boundaries_separate_same_class_boxes_the_one_hot_map_merges(
    overlap: float,
) -> None:
    """Fig. 6.4: two (touching or overlapping) boxes of one class against a single box over
    their union: identical one-hot maps, different boundary maps."""
    size = 32
    two = torch.tensor([[[0.125, 0.25, 0.5 + overlap, 0.75], [0.5 - overlap, 0.25, 0.875, 0.75]]])
    one = torch.tensor([[[0.125, 0.25, 0.875, 0.75], [0.0, 0.0, 0.0, 0.0]]])
    labels = torch.tensor([[2, 2]])
    valid_two = torch.tensor([[True, True]])
    valid_one = torch.tensor([[True, False]])
    hot_two = one_hot_layout(two, labels, valid_two, CLASSES, size)
    hot_one = one_hot_layout(one, labels, valid_one, CLASSES, size)
    assert torch.equal(hot_two, hot_one)
    edge_two = boundary_map(two, valid_two, size)
    edge_one = boundary_map(one, valid_one, size)
    assert not torch.equal(edge_two, edge_one)
    # the inner edges: left edge of the right box and right edge of the left box
    inner_left = int((0.5 - overlap) * size)  # exact pixel edges at these coordinates
    inner_right = int((0.5 + overlap) * size) - 1
    assert edge_two[0, 0, 12, inner_left] == 1 and edge_one[0, 0, 12, inner_left] == 0
    assert edge_two[0, 0, 12, inner_right] == 1
    # with boundaries off the learning-free maps cannot tell the layouts apart
    off = [
        layout_maps(b, labels, v, CLASSES, size, False)
        for b, v in ((two, valid_two), (one, valid_one))
    ]
    on = [
        layout_maps(b, labels, v, CLASSES, size, True)
        for b, v in ((two, valid_two), (one, valid_one))
    ]
    assert torch.equal(off[0], off[1]) and not torch.equal(on[0], on[1])


def test_one_hot_layout_by_loops() -> None:
    boxes, labels, valid = _layout()
    size = 8
    hot = one_hot_layout(boxes, labels, valid, CLASSES, size)
    masks = box_masks(boxes, valid, size)
    expected = torch.zeros_like(hot)
    for b in range(boxes.shape[0]):
        for m in range(boxes.shape[1]):
            if valid[b, m]:
                expected[b, labels[b, m]] = torch.maximum(expected[b, labels[b, m]], masks[b, m])
    assert torch.equal(hot, expected)


def test_place_masks_stretches_shapes_over_boxes_and_is_zero_outside() -> None:
    boxes, _, valid = _layout(seed=1)
    size = 32
    ones = torch.ones(*valid.shape, 8, 8)
    placed = place_masks(ones, boxes, valid, size)
    assert torch.allclose(placed, box_masks(boxes, valid, size), atol=1e-6)
    # a left-to-right ramp keeps its direction inside a box, and gradients reach the shapes
    ramp = torch.linspace(0, 1, 8).expand(*valid.shape, 8, 8).clone().requires_grad_()
    placed = place_masks(ramp, boxes, valid, size)
    box = box_masks(boxes, valid, size)
    assert torch.all(placed * (1 - box) == 0)
    row = placed[0, 0, int(box[0, 0].nonzero()[:, 0].float().mean())]
    inside = row[box[0, 0].amax(0) > 0]
    assert torch.all(inside[1:] >= inside[:-1] - 1e-6) and inside[-1] > inside[0]
    placed.sum().backward()
    assert ramp.grad is not None and ramp.grad[valid].abs().sum() > 0
    assert ramp.grad[~valid].abs().sum() == 0


def test_conditioning_channels_and_padding_rows() -> None:
    torch.manual_seed(0)
    boxes, labels, valid = _layout()
    cond = LayoutConditioning(CLASSES, embed_dim=5, obj_z_dim=3, mask_size=8, boundaries=True)
    assert cond.out_channels == 5 + 3 + CLASSES + 1
    no_edges = LayoutConditioning(CLASSES, 5, 3, 8, boundaries=False)
    assert no_edges.out_channels == cond.out_channels - 1
    obj_z = torch.randn(*labels.shape, 3)
    for size in (4, 16):
        out = cond(boxes, labels, valid, obj_z, size)
        assert out.shape == (3, cond.out_channels, size, size)
    code = cond.encode(boxes, labels, valid, obj_z)
    assert torch.all(code.shapes[~valid] == 0) and torch.all(code.vectors[~valid] == 0)
    assert torch.all((code.shapes[valid] > 0) & (code.shapes[valid] < 1))
    # changing a padding row's label and noise changes nothing
    labels2, obj_z2 = labels.clone(), obj_z.clone()
    labels2[0, -1], obj_z2[0, -1] = 5, 9.0
    cond.eval()
    assert torch.equal(cond(boxes, labels, valid, obj_z, 8), cond(boxes, labels2, valid, obj_z2, 8))


# ------------------------------------------------------------------- conditional BatchNorm


@pytest.mark.parametrize("hidden", [0, 4])
def test_spatial_conditional_batchnorm_equals_direct_computation(hidden: int) -> None:
    torch.manual_seed(0)
    norm = SpatialConditionalBatchNorm(num_features=3, cond_channels=5, hidden=hidden)
    for conv in (
        norm.gamma,
        norm.beta,
        *[m for m in norm.shared.modules() if isinstance(m, nn.Conv2d)],
    ):
        conv.eval()  # freeze the spectral-norm power iteration; the BatchNorm stays in training
    x = torch.randn(4, 3, 6, 6) * 2 + 1
    cond = torch.randn(4, 5, 6, 6)
    out = norm(x, cond)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    x_hat = (x - mean) / torch.sqrt(var + norm.norm.eps)
    h, pad = cond, 0
    if hidden:
        conv = norm.shared[0]
        h, pad = F.relu(F.conv2d(cond, conv.weight, conv.bias, padding=1)), 1
    gamma = 1 + F.conv2d(h, norm.gamma.weight, norm.gamma.bias, padding=pad)
    beta = F.conv2d(h, norm.beta.weight, norm.beta.bias, padding=pad)
    assert torch.allclose(out, gamma * x_hat + beta, atol=1e-5)
    # gamma and beta really vary per pixel
    assert gamma.std(dim=(2, 3)).min() > 0 and beta.std(dim=(2, 3)).min() > 0


def test_generator_batchnorms_convert_to_sync_batchnorm() -> None:
    gen = build_generator(_cfg(), CLASSES)
    plain = sum(isinstance(m, nn.BatchNorm2d) for m in gen.modules())
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(gen)
    assert plain > 0
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in synced.modules()) == plain


# ------------------------------------------------------------------ generator and discriminators


@pytest.mark.parametrize(("size", "blocks", "patch_sides"), [(32, 3, [4, 2]), (64, 4, [8, 4])])
def test_shapes(size: int, blocks: int, patch_sides: list[int]) -> None:
    torch.manual_seed(0)
    cfg = _cfg(image_size=size, obj_crop=16)
    gen, disc = build_generator(cfg, CLASSES), build_discriminator(cfg, CLASSES)
    assert len(gen.blocks) == blocks
    boxes, labels, valid = _layout()
    out = gen(torch.randn(3, cfg.z_dim), boxes, labels, valid)
    assert out.images.shape == (3, 3, size, size)
    assert out.masks.shape == (3, 4, size, size)
    d = disc(out.images, boxes, labels, valid)
    assert [tuple(p.shape) for p in d.patch] == [(3, 1, s, s) for s in patch_sides]
    k = int(valid.sum())
    assert d.obj_score.shape == (k,) and d.obj_logits.shape == (k, CLASSES)
    assert torch.equal(d.obj_labels, labels[valid])


@pytest.mark.parametrize(("size", "blocks"), [(128, 5), (256, 6)])
def test_block_counts_and_lostgan_widths_at_large_sizes(size: int, blocks: int) -> None:
    gen = build_generator(_cfg(image_size=size, g_channels=2), CLASSES)
    assert len(gen.blocks) == blocks
    # 16ch at 4x4 and 8x8 (capped), then halving down to ch at the output side
    assert gen.channels == [2 * min(16, 2 ** (blocks - k)) for k in range(blocks + 1)]
    assert gen.channels[:2] == [32, 32] and gen.channels[-1] == 2


def test_default_config_shapes_and_widths() -> None:
    torch.manual_seed(0)
    cfg = GANModelConfig()
    gen = build_generator(cfg, CLASSES)
    assert gen.channels == [
        8 * cfg.g_channels,
        4 * cfg.g_channels,
        2 * cfg.g_channels,
        cfg.g_channels,
    ]
    boxes, labels, valid = _layout(batch=2)
    assert gen(torch.randn(2, cfg.z_dim), boxes, labels, valid).images.shape == (2, 3, 32, 32)


def test_spectral_norm_on_every_conv_and_linear() -> None:
    cfg = _cfg(norm_hidden=4)
    for net in (build_generator(cfg, CLASSES), build_discriminator(cfg, CLASSES)):
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert len(layers) > 10
        for layer in layers:
            assert parametrize.is_parametrized(layer, "weight")
            kinds = [type(p).__name__ for p in layer.parametrizations.weight]
            assert kinds == ["_SpectralNorm"], kinds
    # after a few training-mode forwards the largest singular value is ~1
    disc = build_discriminator(cfg, CLASSES)
    boxes, labels, valid = _layout()
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    for _ in range(5):
        disc(images, boxes, labels, valid)
    disc.eval()
    weight = disc.patch[0].trunk[1].conv1.weight
    assert torch.linalg.matrix_norm(weight.flatten(1), ord=2).item() == pytest.approx(1, abs=0.05)


def test_generator_output_range_and_masks_inside_boxes() -> None:
    torch.manual_seed(0)
    cfg = _cfg()
    gen = build_generator(cfg, CLASSES)
    boxes, labels, valid = _layout()
    out = gen(torch.randn(3, cfg.z_dim) * 10, boxes, labels, valid)
    assert out.images.min() >= -1 and out.images.max() <= 1
    box = box_masks(boxes, valid, cfg.image_size)
    assert torch.all(out.masks * (1 - box) == 0)
    assert torch.all(out.masks[~valid] == 0)
    assert torch.all(out.masks[box > 0] > 0) and out.masks.max() <= 1


def test_an_objects_class_changes_the_image_where_its_box_is() -> None:
    """Per-pixel conditioning: relabelling one object changes the pixels inside its box far
    more than those in a corner away from it (measured at init: 0.068 vs 0.0024)."""
    torch.manual_seed(0)
    cfg = _cfg(g_channels=16)
    gen = build_generator(cfg, CLASSES)
    boxes = torch.tensor([[[0.1, 0.1, 0.4, 0.4], [0.6, 0.55, 0.95, 0.9]]]).repeat(4, 1, 1)
    labels = torch.tensor([[1, 2]]).repeat(4, 1)
    valid = torch.ones(4, 2, dtype=torch.bool)
    z, obj_z = torch.randn(4, cfg.z_dim), torch.randn(4, 2, cfg.obj_z_dim)
    gen(z, boxes, labels, valid, obj_z)  # BatchNorm running statistics from one batch
    gen.eval()
    relabelled = labels.clone()
    relabelled[:, 0] = 4
    with torch.no_grad():
        diff = (
            gen(z, boxes, labels, valid, obj_z).images
            - gen(z, boxes, relabelled, valid, obj_z).images
        )
    diff = diff.abs().mean(dim=1)
    inside = box_masks(boxes[:, :1], valid[:, :1], 32)[:, 0] > 0
    corner = torch.zeros(32, 32, dtype=torch.bool)
    corner[:13, 19:] = True  # top right, away from both boxes
    assert diff[inside].mean() > 10 * diff[:, corner].mean()


def test_object_noise_comes_from_the_global_rng() -> None:
    cfg = _cfg()
    torch.manual_seed(0)
    gen = build_generator(cfg, CLASSES).eval()
    boxes, labels, valid = _layout()
    z = torch.randn(3, cfg.z_dim)
    torch.manual_seed(7)
    first = gen(z, boxes, labels, valid).images
    torch.manual_seed(7)
    again = gen(z, boxes, labels, valid).images
    torch.manual_seed(8)
    other = gen(z, boxes, labels, valid).images
    assert torch.equal(first, again) and not torch.allclose(first, other)
    fixed = torch.zeros(3, 4, cfg.obj_z_dim)
    assert torch.equal(
        gen(z, boxes, labels, valid, fixed).images, gen(z, boxes, labels, valid, fixed).images
    )


def test_object_crops_are_the_boxes() -> None:
    disc = build_discriminator(_cfg(obj_crop=16), CLASSES)
    image = torch.zeros(2, 3, 32, 32)
    image[0, :, 8:16, 4:20] = 0.5  # box (4, 8, 20, 16) in pixels
    image[1, :, 16:32, 16:32] = -0.25
    boxes = torch.tensor([[[4 / 32, 8 / 32, 20 / 32, 16 / 32]], [[0.5, 0.5, 1.0, 1.0]]])
    valid = torch.ones(2, 1, dtype=torch.bool)
    crops = disc.object.crops(image, boxes, valid)
    assert crops.shape == (2, 3, 16, 16)
    # bilinear samples in the outer quarter-pixel blend with the outside; the rest is the box
    assert torch.allclose(crops[0, :, 1:-1, 1:-1], torch.tensor(0.5))
    assert torch.allclose(crops[1, :, 1:, 1:], torch.tensor(-0.25))  # image border: clamped
    assert crops[0].min() > 0.25 and crops[1].max() < 0


def test_layouts_without_objects() -> None:
    torch.manual_seed(0)
    cfg = _cfg()
    gen, disc = build_generator(cfg, CLASSES), build_discriminator(cfg, CLASSES)
    boxes, labels, valid = (
        torch.zeros(2, 3, 4),
        torch.zeros(2, 3, dtype=torch.long),
        torch.zeros(2, 3, dtype=torch.bool),
    )
    out = gen(torch.randn(2, cfg.z_dim), boxes, labels, valid)
    assert torch.all(out.masks == 0) and torch.isfinite(out.images).all()
    d = disc(out.images, boxes, labels, valid)
    assert (
        d.obj_score.shape == (0,)
        and d.obj_logits.shape == (0, CLASSES)
        and d.obj_labels.numel() == 0
    )
    # every parameter still gets a (zero) gradient: DDP needs no find_unused_parameters
    (sum(p.mean() for p in d.patch) + d.obj_score.sum() + d.obj_logits.sum()).backward()
    for net in (gen, disc):
        assert all(p.grad is not None for p in net.parameters())


# ----------------------------------------------------------------------------- switches


def test_each_switch_removes_exactly_its_component() -> None:
    full = build_discriminator(_cfg(), CLASSES)
    one = build_discriminator(_cfg(patch_d=1), CLASSES)
    none = build_discriminator(_cfg(patch_d=0), CLASSES)
    no_obj = build_discriminator(_cfg(object_d=False), CLASSES)
    assert len(full.patch) == 2 and len(one.patch) == 1 and len(none.patch) == 0
    assert _count(full) - _count(one) == _count(full.patch[1])
    assert _count(one) - _count(none) == _count(one.patch[0])
    assert _count(full) - _count(no_obj) == _count(full.object) > 0
    assert no_obj.object is None
    boxes, labels, valid = _layout()
    images = torch.rand(3, 3, 32, 32)
    assert len(one(images, boxes, labels, valid).patch) == 1
    out = no_obj(images, boxes, labels, valid)
    assert out.obj_score is None and out.obj_logits is None and out.obj_labels is None
    # boundaries off: one conditioning channel less in G and in every patch D's input
    gen_on, gen_off = (
        build_generator(_cfg(), CLASSES),
        build_generator(_cfg(boundaries=False), CLASSES),
    )
    assert gen_on.conditioning.out_channels - gen_off.conditioning.out_channels == 1
    d_off = build_discriminator(_cfg(boundaries=False), CLASSES)
    first_on = full.patch[0].trunk[0].conv1.weight.shape[1]
    assert first_on == 3 + CLASSES + 1
    assert d_off.patch[0].trunk[0].conv1.weight.shape[1] == first_on - 1
    # sgsm / perceptual are loss switches only: identical networks
    plain = _count(build_generator(_cfg(), CLASSES))
    assert _count(build_generator(_cfg(sgsm=False, perceptual=False), CLASSES)) == plain


def test_discriminator_adam_steps_lower_the_hinge_loss() -> None:
    torch.manual_seed(0)
    cfg = _cfg(object_d=True)
    disc = build_discriminator(cfg, CLASSES)
    boxes, labels, valid = _layout(batch=4, objects=3)
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    fake = torch.tanh(torch.randn(4, 3, 32, 32))
    opt = torch.optim.Adam(disc.parameters(), lr=1e-3, betas=(0.5, 0.999))

    def loss() -> torch.Tensor:
        r, f = disc(real, boxes, labels, valid), disc(fake, boxes, labels, valid)
        total = sum(d_hinge_loss(a, b) for a, b in zip(r.patch, f.patch, strict=True))
        return total + d_hinge_loss(r.obj_score, f.obj_score)

    values = []
    for _ in range(10):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
        values.append(value.item())
    final = loss().item()
    assert final < 0.9 * values[0]  # measured: 6.20 -> 5.3
    assert sum(b < a for a, b in pairwise(values)) >= 7


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"image_size": 48}, "model.image_size=48 is not allowed; expected one of 32, 64"),
        ({"patch_d": 3}, "model.patch_d=3"),
        ({"mask_size": 12}, "model.mask_size=12"),
        ({"obj_crop": 24}, "model.obj_crop=24"),
        ({"z_dim": 0}, "model.z_dim=0"),
        ({"boundaries": "yes"}, "model.boundaries='yes' is not allowed; expected true or false"),
        ({"norm_hidden": -1}, "model.norm_hidden=-1"),
        ({"patch_d": 0, "object_d": False}, "leaves no discriminator"),
    ],
)
def test_bad_model_config_is_one_line(over: dict, needle: str) -> None:
    cfg = dataclasses.replace(GANModelConfig(), **over)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")) as err:
        validate_model_config(cfg)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError):
        build_generator(cfg, CLASSES)


# ----------------------------------------------------------------------------- perceptual


def test_missing_vgg_file_names_the_file_and_the_substitute(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LOCOCO_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(LococoError) as err:
        build_perceptual("vgg19", "", key="loss.perceptual_net")
    message = str(err.value)
    assert str(tmp_path / "vgg19-dcbb9e9d.pth") in message
    assert "loss.perceptual_net=substitute" in message and "\n" not in message
    bad = tmp_path / "vgg19-dcbb9e9d.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match=r"vgg19-dcbb9e9d\.pth"):
        build_perceptual("vgg19", "")
    with pytest.raises(LococoError, match="choose one of vgg19, substitute"):
        build_perceptual("alexnet", "")  # type: ignore[arg-type]


def test_substitute_features_are_fixed_frozen_and_differentiable() -> None:
    torch.manual_seed(0)
    a, b = build_perceptual("substitute"), SubstituteFeatures()
    assert a.name == "substitute" and not a.training
    assert all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert not any(p.requires_grad for p in a.parameters())
    a.train()
    assert not a.training
    x = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()
    feats = a(x)
    assert [f.shape[1:] for f in feats] == [
        (16, 32, 32),
        (32, 16, 16),
        (64, 8, 8),
        (64, 4, 4),
        (64, 2, 2),
    ]
    sum(f.sum() for f in feats).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.slow
def test_vgg19_features_load_a_local_state_dict(tmp_path) -> None:
    import torchvision

    torch.manual_seed(0)
    vgg = torchvision.models.vgg19(weights=None)
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(vgg.state_dict(), path)
    net = build_perceptual("vgg19", str(path))
    assert net.name == "vgg19" and net.layers == (
        "relu1_1",
        "relu2_1",
        "relu3_1",
        "relu4_1",
        "relu5_1",
    )
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    feats = net(x)
    # relu1_1 by hand from the ImageNet-normalised input
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    conv = vgg.features[0]
    expected = F.relu(F.conv2d(((x + 1) / 2 - mean) / std, conv.weight, conv.bias, padding=1))
    assert torch.allclose(feats[0], expected, atol=1e-5)
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
