"""Parts masks and parts F1 probes (thesis 4.4.2, app. A.6)."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from lococo.metrics.parts import (
    binary_f1,
    click_boxes,
    fit_parts_probe,
    part_masks,
    parts_f1,
)
from lococo.nn.encoders import build_encoder

# ------------------------------------------------------------------------------ click_boxes

# Image 0 is 200 wide × 100 high, image 1 is 64 × 64; resize to 64, crop 56 (offset 4).
SIZES = np.array([[200, 100], [64, 64]])
CLICKS = np.array(
    [
        [0, 3, 100, 50, 1],  # centre of image 0
        [0, 4, 100, 50, 0],  # hidden: dropped
        [0, 1, 2, 3, 1],  # lands left of the crop: dropped
        [0, 2, 10, 50, 1],  # partly left of the crop: clipped at -0.5
        [1, 0, 30, 40, 1],  # image 1 is not rescaled: a plain shift by the offset
    ],
    dtype=float,
)
# Hand-computed: crop coord = (x + 0.5) * 64 / width - 0.5 - 4 (likewise for y and height).
BOX_CENTRE = [0, 3, 26.06, 24.62, 29.26, 31.02]  # x: 95.5*.32-4.5, 105.5*.32-4.5
BOX_CLIPPED = [0, 2, -0.5, 24.62, 0.46, 31.02]  # y: 45.5*.64-4.5, 55.5*.64-4.5
BOX_SQUARE = [1, 0, 21.0, 31.0, 31.0, 41.0]


def test_click_boxes_resize_and_centre_crop():
    boxes = click_boxes(CLICKS, SIZES, image_size=64, crop=56)
    np.testing.assert_allclose(boxes, [BOX_CENTRE, BOX_CLIPPED, BOX_SQUARE], atol=1e-9)


def test_click_boxes_square_side_scales_with_the_resize():
    boxes = click_boxes(CLICKS[:1], SIZES, image_size=64, crop=56, square=20.0)
    np.testing.assert_allclose(boxes[0, 4] - boxes[0, 2], 20 * 64 / 200)
    np.testing.assert_allclose(boxes[0, 5] - boxes[0, 3], 20 * 64 / 100)


def test_click_boxes_select_and_reorder_images():
    swapped = click_boxes(CLICKS, SIZES, 64, 56, images=np.array([1, 0]))
    expected = [[0, *BOX_SQUARE[1:]], [1, *BOX_CENTRE[1:]], [1, *BOX_CLIPPED[1:]]]
    order = np.lexsort((swapped[:, 1], swapped[:, 0]))
    np.testing.assert_allclose(swapped[order], np.array(expected)[[0, 2, 1]], atol=1e-9)
    only_one = click_boxes(CLICKS, SIZES, 64, 56, images=np.array([1]))
    np.testing.assert_allclose(only_one, [[0, *BOX_SQUARE[1:]]])


def test_click_boxes_rejects_bad_input():
    with pytest.raises(ValueError, match="M×5"):
        click_boxes(CLICKS[:, :4], SIZES, 64, 56)
    with pytest.raises(ValueError, match="image indices"):
        click_boxes(np.array([[5, 0, 1, 1, 1]]), SIZES, 64, 56)
    with pytest.raises(ValueError, match="repeated"):
        click_boxes(CLICKS, SIZES, 64, 56, images=np.array([0, 0]))


# ------------------------------------------------------------------------------- part_masks


def brute_masks(boxes, num_images, num_parts, grid, fields):
    """One box, one position at a time: positive-length overlap of box and field."""
    out = torch.zeros(num_images, num_parts, *grid, dtype=torch.bool)
    (rf_y, jump_y, start_y), (rf_x, jump_x, start_x) = fields
    for row, part, x0, y0, x1, y1 in boxes:
        for h, w in itertools.product(range(grid[0]), range(grid[1])):
            cy, cx = start_y + h * jump_y, start_x + w * jump_x
            overlap_y = y0 < cy + rf_y / 2 and y1 > cy - rf_y / 2
            overlap_x = x0 < cx + rf_x / 2 and x1 > cx - rf_x / 2
            if overlap_y and overlap_x:
                out[int(row), int(part), h, w] = True
    return out


def random_boxes(rng, count, num_images, num_parts, side):
    corner = rng.uniform(-0.5, side - 0.5, size=(count, 2))
    size = rng.uniform(0.2, 6.0, size=(count, 2))
    rows = rng.integers(0, num_images, count)
    parts = rng.integers(0, num_parts, count)
    return np.column_stack([rows, parts, corner, corner + size])


def test_part_masks_match_brute_force():
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 60, num_images=4, num_parts=3, side=20)
    fields = ((7, 3, 1.0), (5, 2, 0.5))
    got = part_masks(boxes, 4, 3, (6, 9), fields)
    assert got.dtype == torch.bool and got.shape == (4, 3, 6, 9)
    assert torch.equal(got, brute_masks(boxes, 4, 3, (6, 9), fields))
    assert 0 < got.float().mean() < 1


def test_part_masks_shared_triple_equals_pair():
    boxes = random_boxes(np.random.default_rng(1), 30, 2, 2, side=30)
    shared = part_masks(boxes, 2, 2, (7, 7), (10, 4, 1.5))
    assert torch.equal(shared, part_masks(boxes, 2, 2, (7, 7), ((10, 4, 1.5), (10, 4, 1.5))))


def pixel_box(row: int, col: int, image: int = 0, part: int = 0) -> np.ndarray:
    return np.array([[image, part, col - 0.5, row - 0.5, col + 0.5, row + 0.5]])


def test_part_masks_single_pixel_hand_computed():
    # rf 4, jump 2, start 0.5: unit k sees pixels 2k-1 .. 2k+2.
    masks = part_masks(pixel_box(row=5, col=2, image=1, part=1), 2, 2, (5, 5), (4, 2, 0.5))
    expected = torch.zeros(2, 2, 5, 5, dtype=torch.bool)
    expected[1, 1, 2:4, 0:2] = True  # rows: 2k-1 <= 5 <= 2k+2 -> k in {2, 3}; cols: {0, 1}
    assert torch.equal(masks, expected)


def test_part_masks_match_what_an_encoder_sees():
    """A pixel lights exactly the local positions whose features depend on it."""
    torch.manual_seed(0)
    encoder = build_encoder("basic", 64, width=0.125).eval()
    side, (row, col) = encoder.input_size, (20, 40)
    x = torch.randn(4, 3, side, side, generator=torch.Generator().manual_seed(0))
    bumped = x.clone()
    bumped[:, :, row, col] += 10.0
    with torch.no_grad():
        change = (encoder(bumped).local - encoder(x).local).abs().amax(dim=(0, 1))
    grid = tuple(encoder.local_shape[1:])
    masks = part_masks(pixel_box(row, col), 1, 1, grid, encoder.receptive_field("local"))
    assert torch.equal(masks[0, 0], change > 1e-4)
    assert 0 < int(masks.sum()) < masks.numel()


def test_part_masks_many_boxes_fast():
    rng = np.random.default_rng(2)
    boxes = random_boxes(rng, 100_000, num_images=2000, num_parts=15, side=112)
    masks = part_masks(boxes, 2000, 15, (27, 27), (21, 4, 3.0))
    assert masks.shape == (2000, 15, 27, 27)
    # images 355..357 straddle a chunk boundary of the implementation (4M-element chunks)
    near = boxes[(boxes[:, 0] >= 355) & (boxes[:, 0] < 358)] - [355, 0, 0, 0, 0, 0]
    expected = brute_masks(near, 3, 15, (27, 27), ((21, 4, 3.0),) * 2)
    assert torch.equal(masks[355:358], expected)


# --------------------------------------------------------------------------------- parts_f1

N, P, C, H, W = 32, 4, 12, 8, 8
PREVALENCE = torch.tensor([0.05, 0.1, 0.2, 0.4]).view(1, P, 1, 1)
FAST = {"epochs": 20, "batch_size": 256}


def random_masks(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(N, P, H, W, generator=g) < PREVALENCE


def mixed_features(masks: torch.Tensor, seed: int) -> torch.Tensor:
    """Features that encode the masks: a random linear mixing plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(C, P, generator=torch.Generator().manual_seed(99))
    noise = 0.1 * torch.randn(len(masks), C, H, W, generator=g)
    return torch.einsum("cp,nphw->nchw", mixing, masks.float()) + 3.0 + noise


def noise_features(seed: int) -> torch.Tensor:
    return torch.randn(N, C, H, W, generator=torch.Generator().manual_seed(seed))


@functools.cache
def mixed_setup():
    train_masks, test_masks = random_masks(1), random_masks(2)
    return mixed_features(train_masks, 3), train_masks, mixed_features(test_masks, 4), test_masks


@functools.cache
def mixed_result():
    return parts_f1(*mixed_setup(), **FAST)


def test_parts_f1_high_when_features_encode_the_parts():
    result = mixed_result()
    assert result["f1"] > 0.9
    assert min(result["per_part"]) > 0.8
    assert result["precision"] > 0.9 and result["recall"] > 0.9
    assert result["parts"] == [f"part{p}" for p in range(P)]
    np.testing.assert_allclose(
        result["positive_rate"], mixed_setup()[3].float().mean((0, 2, 3)).numpy()
    )


def test_parts_f1_near_chance_on_noise():
    train_masks, test_masks = random_masks(1), random_masks(2)
    result = parts_f1(noise_features(5), train_masks, noise_features(6), test_masks, **FAST)
    rate = test_masks.float().mean((0, 2, 3))
    all_positive_f1 = (2 * rate / (1 + rate)).mean().item()
    assert result["f1"] < all_positive_f1 + 0.05
    assert result["f1"] < 0.5 * mixed_result()["f1"]


def test_parts_f1_per_part_matches_sklearn():
    train_local, train_masks, test_local, test_masks = mixed_setup()
    probe = fit_parts_probe(train_local, train_masks, **FAST)
    pred = probe.predict(test_local)
    assert pred.shape == test_masks.shape and pred.dtype == torch.bool
    expected = [
        f1_score(test_masks[:, p].flatten().numpy(), pred[:, p].flatten().numpy()) for p in range(P)
    ]
    np.testing.assert_allclose(mixed_result()["per_part"], expected, rtol=1e-12)


def test_parts_f1_noise_predictions_match_sklearn():
    """Same check where the probe makes many mistakes (F1 far from 1)."""
    train_masks, test_masks = random_masks(1), random_masks(2)
    test_local = noise_features(6)
    result = parts_f1(noise_features(5), train_masks, test_local, test_masks, **FAST)
    pred = fit_parts_probe(noise_features(5), train_masks, **FAST).predict(test_local)
    expected = [
        f1_score(test_masks[:, p].flatten().numpy(), pred[:, p].flatten().numpy()) for p in range(P)
    ]
    np.testing.assert_allclose(result["per_part"], expected, rtol=1e-12)
    assert result["f1"] == pytest.approx(np.mean(expected))


def test_parts_f1_features_get_no_gradient():
    train_local, train_masks, test_local, test_masks = mixed_setup()
    train_local = train_local.clone().requires_grad_(True)
    test_local = test_local.clone().requires_grad_(True)
    parts_f1(train_local, train_masks, test_local, test_masks, epochs=2, batch_size=256)
    assert train_local.grad is None and test_local.grad is None


def test_parts_f1_deterministic_for_a_seed():
    first = parts_f1(*mixed_setup(), **FAST, seed=3, part_names=list("abcd"))
    second = parts_f1(*mixed_setup(), **FAST, seed=3, part_names=list("abcd"))
    assert first == second and first["parts"] == list("abcd")
    probe_a = fit_parts_probe(*mixed_setup()[:2], epochs=2, batch_size=64, seed=0)
    probe_b = fit_parts_probe(*mixed_setup()[:2], epochs=2, batch_size=64, seed=0)
    probe_c = fit_parts_probe(*mixed_setup()[:2], epochs=2, batch_size=64, seed=1)
    assert torch.equal(probe_a.weight, probe_b.weight)
    assert not torch.equal(probe_a.weight, probe_c.weight)


def test_parts_absent_from_test_or_train_are_nan_and_excluded():
    train_local, train_masks, test_local, test_masks = mixed_setup()
    train_masks, test_masks = train_masks.clone(), test_masks.clone()
    test_masks[:, 0] = False
    train_masks[:, 1] = False
    result = parts_f1(train_local, train_masks, test_local, test_masks, **FAST)
    per_part = result["per_part"]
    assert math.isnan(per_part[0]) and math.isnan(per_part[1])
    assert result["f1"] == pytest.approx(np.mean(per_part[2:]))
    assert result["positive_rate"][0] == 0.0


def test_balanced_probe_finds_a_rare_part():
    """With a weak signal, the unweighted probe predicts the rare part nowhere."""
    g = torch.Generator().manual_seed(7)
    masks = torch.rand(N, 1, H, W, generator=g) < 0.03
    local = masks.float() * 0.8 + torch.randn(N, 1, H, W, generator=g)
    plain = parts_f1(local, masks, local, masks, balanced=False, **FAST)
    balanced = parts_f1(local, masks, local, masks, balanced=True, **FAST)
    assert balanced["recall"] > 0.3
    assert balanced["recall"] > plain["recall"] + 0.2


def test_parts_f1_rejects_mismatched_inputs():
    train_local, train_masks, test_local, test_masks = mixed_setup()
    with pytest.raises(ValueError, match="disagree"):
        parts_f1(train_local, train_masks[:, :, :4], test_local, test_masks)
    with pytest.raises(ValueError, match="part names"):
        parts_f1(train_local, train_masks, test_local, test_masks, part_names=["a"])


def test_binary_f1_matches_sklearn_and_flags_empty():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(6, 3, 5, 5, generator=g) < 0.3, torch.rand(6, 3, 5, 5) < 0.4
    got = binary_f1(pred, target, dim=(0, 2, 3))
    expected = [f1_score(target[:, p].flatten(), pred[:, p].flatten()) for p in range(3)]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert binary_f1(pred, target).item() == pytest.approx(
        f1_score(target.flatten(), pred.flatten())
    )
    empty = torch.zeros(4, dtype=torch.bool)
    assert math.isnan(binary_f1(empty, empty).item())
