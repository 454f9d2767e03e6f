"""The stride-cell ground truth of parts F1 (lococo.metrics.parts) against direct loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lococo.metrics.parts import cell_masks, click_boxes, click_points, part_masks
from lococo.nn.encoders import build_encoder

SIZES = np.array([[200, 100], [64, 64]])
CLICKS = np.array(
    [
        [0, 3, 100, 50, 1],  # centre of image 0
        [0, 4, 100, 50, 0],  # hidden: dropped
        [0, 1, 2, 3, 1],  # lands left of the crop: dropped
        [1, 0, 30, 40, 1],  # image 1 is not rescaled: a plain shift by the offset 4
    ],
    dtype=float,
)


def test_click_points_are_the_click_box_centres_inside_the_crop():
    points = click_points(CLICKS, SIZES, image_size=64, crop=56)
    # crop coord = (x + 0.5) * 64 / width - 0.5 - 4
    expected = [[0, 3, 100.5 * 0.32 - 4.5, 50.5 * 0.64 - 4.5], [1, 0, 26.0, 36.0]]
    np.testing.assert_allclose(points, expected, atol=1e-6)
    boxes = click_boxes(CLICKS, SIZES, 64, 56, square=2.0)
    centres = np.column_stack([(boxes[:, 2] + boxes[:, 4]) / 2, (boxes[:, 3] + boxes[:, 5]) / 2])
    np.testing.assert_allclose(points[:, 2:], centres, atol=1e-6)  # boxes inside the crop
    only = click_points(CLICKS, SIZES, 64, 56, images=np.array([1]))
    np.testing.assert_allclose(only, [[0, 0, 26.0, 36.0]], atol=1e-6)


def brute_cells(points, num_images, num_parts, grid, field):
    """Every point against every position's cell [c - jump/2, c + jump/2)."""
    _, jump, start = field
    out = torch.zeros(num_images, num_parts, *grid, dtype=torch.bool)
    for row, part, x, y in points:
        for h, w in itertools.product(range(grid[0]), range(grid[1])):
            cy, cx = start + h * jump, start + w * jump
            if cy - jump / 2 <= y < cy + jump / 2 and cx - jump / 2 <= x < cx + jump / 2:
                out[int(row), int(part), h, w] = True
    return out


@pytest.mark.parametrize("field", [(22, 8, 3.5), (21, 4, 3.0), (5, 3, 1.0)])
def test_cell_masks_match_brute_force(field):
    rng = np.random.default_rng(0)
    n = 200
    points = np.column_stack(
        [
            rng.integers(0, 3, n),
            rng.integers(0, 4, n),
            rng.uniform(-0.5, 55.5, n),
            rng.uniform(-0.5, 55.5, n),
        ]
    )
    points[:5, 2:] = [[-0.5, 7.5], [7.5, 7.4999], [55.4, 0.0], [3.5, 3.5], [11.5, 19.5]]  # edges
    grid = (7, 7) if field[1] == 8 else (13, 13)
    got = cell_masks(points, 3, 4, grid, field)
    assert torch.equal(got, brute_cells(points, 3, 4, grid, field))


def test_a_point_lights_exactly_one_cell_and_cells_tile_the_input():
    """Cells partition the input: every pixel of a 56-px crop falls in exactly one of the
    7×7 cells of the quick basic encoder (stride 8)."""
    encoder = build_encoder("basic", 64, width=0.125)
    field = encoder.receptive_field("local")
    ys, xs = np.mgrid[0:56, 0:56]
    points = np.column_stack([np.zeros(ys.size), np.zeros(ys.size), xs.ravel(), ys.ravel()])
    for i in range(0, len(points), 500):
        masks = cell_masks(points[i : i + 1], 1, 1, (7, 7), field)
        assert int(masks.sum()) == 1
    counts = torch.zeros(7, 7)
    for x, y in points[:, 2:]:
        counts += cell_masks(np.array([[0, 0, x, y]]), 1, 1, (7, 7), field)[0, 0].float()
    assert torch.equal(counts, torch.full((7, 7), 64.0))  # 8×8 pixels per cell


def test_stride_cell_masks_are_far_sparser_than_receptive_field_masks():
    """The point of the second ground truth: at 64 px one click makes ~1/49 of the map
    positive, against the many positions whose receptive field covers its square."""
    encoder = build_encoder("basic", 64, width=0.125)
    field = encoder.receptive_field("local")
    rng = np.random.default_rng(1)
    clicks = np.column_stack(
        [np.arange(50), np.zeros(50), rng.uniform(8, 56, (50, 2)), np.ones(50)]
    )
    sizes = np.full((50, 2), 64)
    cells = cell_masks(click_points(clicks, sizes, 64, 56), 50, 1, (7, 7), field)
    fields = part_masks(click_boxes(clicks, sizes, 64, 56, square=10.0), 50, 1, (7, 7), field)
    assert float(cells.float().mean()) == pytest.approx(1 / 49)
    assert float(fields.float().mean()) > 8 * float(cells.float().mean())
    assert bool((fields | ~cells).all())  # every cell positive is a field positive too


def test_cell_masks_reject_bad_rows():
    with pytest.raises(ValueError, match="point rows"):
        cell_masks(np.array([[3, 0, 1.0, 1.0]]), 2, 1, (4, 4), (5, 2, 0.5))


def test_stacked_ground_truths_fit_like_separate_probes():
    """Fitting two mask sets stacked along the parts dimension (as the analysis does for its
    two ground truths) gives each part the F1 of its own separate fit."""
    from lococo.metrics.parts import parts_f1

    g = torch.Generator().manual_seed(0)
    local = torch.randn(40, 6, 5, 5, generator=g)
    a = local[:, :2] > 0.8  # parts readable from the features
    b = (local[:, 2:4] + 0.5 * torch.randn(40, 2, 5, 5, generator=g)) > 1.0
    train, test = slice(0, 30), slice(30, 40)
    kw = dict(epochs=5, batch_size=128, seed=3)
    joint = parts_f1(
        local[train], torch.cat([a, b], 1)[train], local[test], torch.cat([a, b], 1)[test], **kw
    )
    alone_a = parts_f1(local[train], a[train], local[test], a[test], **kw)
    alone_b = parts_f1(local[train], b[train], local[test], b[test], **kw)
    np.testing.assert_allclose(
        joint["per_part"], alone_a["per_part"] + alone_b["per_part"], atol=0.02
    )
    assert min(joint["per_part"][:2]) > 0.7  # readable parts are found
