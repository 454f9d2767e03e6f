"""Figures of lococo.viz: structure of each figure, Pearson r read back, atomic PNG saving."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from PIL import Image
from scipy import ndimage, stats

from lococo.viz import (
    correlation_bars,
    heatmap_grid,
    heatmap_pairs,
    paired_bars,
    pearson,
    per_part_bars,
    relative_gain,
    save_figure,
    scatter_with_r,
    similarity_scatter,
)
from lococo.viz.common import as_rgb, new_figure, upsample

MODELS = ["fc", "dim", "cmdim", "vae"]


def _pairs(n: int = 3, size: int = 16, grid: int = 4, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    images_a = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
    images_b = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
    maps = torch.softmax(torch.randn(n, grid * grid, generator=gen), 1).reshape(n, grid, grid)
    return images_a, images_b, maps


def _images(ax) -> list[AxesImage]:
    return [a for a in ax.get_children() if isinstance(a, AxesImage)]


def _bar_containers(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def _bars(ax) -> list:
    return [p for c in _bar_containers(ax) for p in c.patches]


# --------------------------------------------------------------------------- helpers


def test_pearson_matches_numpy_and_t_distribution():
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    y = 0.5 * x + rng.normal(size=40)
    r, p, n = pearson(x, y)
    assert n == 40
    assert r == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    t = r * math.sqrt((n - 2) / (1 - r * r))
    assert p == pytest.approx(2 * stats.t.sf(abs(t), n - 2), rel=1e-9)


def test_pearson_nan_safe():
    x = np.array([0.1, 0.2, np.nan, 0.4, 0.7])
    y = np.array([1.0, 2.5, 3.0, np.inf, 4.0])
    r, _, n = pearson(x, y)
    assert n == 3  # pairs (0.1, 1), (0.2, 2.5), (0.7, 4)
    assert r == pytest.approx(np.corrcoef([0.1, 0.2, 0.7], [1.0, 2.5, 4.0])[0, 1])
    assert all(math.isnan(v) for v in pearson([1.0, 2.0], [3.0, 1.0])[:2])
    assert math.isnan(pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])[0])  # constant side


def test_upsample_is_half_pixel_bilinear():
    maps = np.random.default_rng(0).random((2, 5, 7))
    ours = upsample(maps, (20, 21))
    ref = np.stack([ndimage.zoom(m, (4, 3), order=1, grid_mode=True, mode="nearest") for m in maps])
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_as_rgb_maps_minus_one_one_to_unit_range():
    image = torch.tensor([-1.0, 0.0, 1.0, 3.0]).reshape(1, 1, 2, 2).repeat(1, 3, 1, 1)
    rgb = as_rgb(image)
    assert rgb.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(rgb[0, :, :, 1], [[0.0, 0.5], [1.0, 1.0]])


# --------------------------------------------------------------------------- save_figure


def test_save_figure_writes_png_atomically(tmp_path):
    fig, axes = new_figure(figsize=(4.0, 3.0))
    axes[0, 0].plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "deep" / "dir" / "plot.png")
    assert path == tmp_path / "deep" / "dir" / "plot.png"
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (480, 360)  # 4×3 inches at 120 dpi
    assert [p.name for p in path.parent.iterdir()] == ["plot.png"]  # no temporary file left


def test_save_figure_failure_leaves_nothing(tmp_path):
    fig, _ = new_figure()

    def broken(handle, **_):
        handle.write(b"\x89PNG partial")
        raise RuntimeError("disk full")

    fig.savefig = broken
    with pytest.raises(RuntimeError):
        save_figure(fig, tmp_path / "plot.png")
    assert list(tmp_path.iterdir()) == []


def test_save_figure_closes_pyplot_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    number = fig.number
    save_figure(fig, tmp_path / "p.png")
    assert number not in plt.get_fignums()


# --------------------------------------------------------------------------- heatmaps


def test_heatmap_pairs_layout_and_content():
    a, b, maps = _pairs(n=3)
    fig = heatmap_pairs(a, b, maps, titles=["x", "y", "z"])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 * 3 + 3  # three panels per pair + one colour bar each
    for row in range(3):
        image_a, overlay, absolute = fig.axes[3 * row : 3 * row + 3]
        np.testing.assert_allclose(_images(image_a)[0].get_array(), as_rgb(a)[row])
        layers = _images(overlay)
        assert len(layers) == 2  # image B, then the upsampled heatmap
        np.testing.assert_allclose(layers[0].get_array(), as_rgb(b)[row])
        np.testing.assert_allclose(
            layers[1].get_array(), upsample(maps[row : row + 1].numpy(), (16, 16))[0], atol=1e-6
        )
        assert layers[1].get_cmap().name == "viridis"
        np.testing.assert_allclose(_images(absolute)[0].get_array(), maps[row].numpy(), atol=1e-6)
    assert fig.axes[4].get_title().endswith("y")  # colour bars come after the panels


def test_heatmap_pairs_rejects_mismatched_inputs():
    a, b, maps = _pairs(n=3)
    with pytest.raises(ValueError, match="as many"):
        heatmap_pairs(a, b[:2], maps)


def test_heatmap_grid_rows_per_model():
    a, b, maps = _pairs(n=2)
    by_model = {"fc": maps, "vae": maps.flip(1), "cmdim": maps.flip(2)}
    fig = heatmap_grid(a, b, by_model)
    axes = np.array(fig.axes).reshape(4, 4)  # (1 + models) rows × 2 columns per pair
    texts = [t.get_text() for ax in axes[:, 0] for t in ax.texts]
    assert texts == ["images", "fc", "vae", "cmdim"]
    np.testing.assert_allclose(_images(axes[0, 2])[0].get_array(), as_rgb(b)[1])
    np.testing.assert_allclose(_images(axes[0, 3])[0].get_array(), as_rgb(a)[1])
    for row, heat in enumerate(by_model.values(), start=1):
        assert len(_images(axes[row, 2])) == 2
        np.testing.assert_allclose(_images(axes[row, 3])[0].get_array(), heat[1].numpy(), atol=1e-6)


# --------------------------------------------------------------------------- scatters


def test_scatter_with_r_reports_numpy_r():
    rng = np.random.default_rng(2)
    x = rng.random(12)
    y = 0.4 * x + 0.2 * rng.random(12)
    groups = ["none", "ac", "lc"] * 4
    labels = [f"m{i}" for i in range(12)]
    fig = scatter_with_r(x, y, labels, groups, xlabel="parts F1", ylabel="ZSL top-1", title="t")
    r = np.corrcoef(x, y)[0, 1]
    assert fig.lococo_stats["all"]["r"] == pytest.approx(r, abs=1e-12)
    ax = fig.axes[0]
    assert f"r = {r:.2f}" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["none", "ac", "lc"]
    assert f"r = {r:.2f}" in legend[3]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sorted(len(c.get_offsets()) for c in points) == [4, 4, 4]
    assert len(ax.texts) == 12  # one label per point
    slope, intercept = np.polyfit(x, y, 1)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), slope * line.get_xdata() + intercept)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("parts F1", "ZSL top-1")


def test_scatter_with_r_facets_per_group():
    rng = np.random.default_rng(3)
    x, y = rng.random(9), rng.random(9)
    groups = ["CUB"] * 4 + ["AWA2"] * 3 + ["SUN"] * 2
    fig = scatter_with_r(x, y, groups=groups, facet=True, annotate=False)
    assert len(fig.axes) == 3
    assert list(fig.lococo_stats) == ["CUB", "AWA2", "SUN"]
    assert fig.lococo_stats["CUB"]["r"] == pytest.approx(np.corrcoef(x[:4], y[:4])[0, 1])
    assert fig.lococo_stats["AWA2"]["r"] == pytest.approx(np.corrcoef(x[4:7], y[4:7])[0, 1])
    assert math.isnan(fig.lococo_stats["SUN"]["r"])  # 2 points: undefined, no error
    assert "n/a" in fig.axes[2].get_title()


def test_scatter_with_r_without_fit_or_labels():
    fig = scatter_with_r([0.1, 0.5, 0.3], [1.0, 2.0, 0.5], fit_line=False, annotate=False)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 0 and len(ax.texts) == 0
    with pytest.raises(ValueError, match="facet"):
        scatter_with_r([1, 2, 3], [1, 2, 3], facet=True)
    with pytest.raises(ValueError, match="labels"):
        scatter_with_r([1, 2, 3], [1, 2, 3], labels=["a"])


def test_similarity_scatter_uses_all_points_but_draws_a_subset():
    rng = np.random.default_rng(4)
    n = 6000
    attr, ssim = rng.random(n), rng.random(n)
    ratio = 0.3 * attr - 0.2 * ssim + rng.random(n)
    fig = similarity_scatter(ratio, attr, ssim, model="cmdim")
    assert len(fig.axes) == 2
    assert fig.lococo_stats["attr"]["r"] == pytest.approx(np.corrcoef(attr, ratio)[0, 1])
    assert fig.lococo_stats["ssim"]["r"] == pytest.approx(np.corrcoef(ssim, ratio)[0, 1])
    assert fig.lococo_stats["attr"]["n"] == n
    drawn = fig.axes[0].collections[0].get_offsets()
    assert len(drawn) == 5000
    assert fig.axes[0].get_title().startswith("cmdim")


# --------------------------------------------------------------------------- bars


def test_correlation_bars_heights_and_zero_line():
    r_attr, r_ssim = [0.2, -0.1, 0.3, 0.0], [-0.3, 0.1, -0.2, 0.25]
    fig = correlation_bars(MODELS, r_attr, r_ssim)
    ax = fig.axes[0]
    heights = [p.get_height() for p in _bars(ax)]
    np.testing.assert_allclose(heights, r_attr + r_ssim)
    assert any(line.get_ydata()[0] == 0.0 for line in ax.get_lines())
    assert [t.get_text() for t in ax.get_xticklabels()] == MODELS


def test_relative_gain_percent_axis():
    gains = {"ac": [0.12, -0.05, 0.3, 0.0], "lc": [0.02, 0.1, -0.2, 0.05]}
    fig = relative_gain(MODELS, gains)
    ax = fig.axes[0]
    assert len(_bars(ax)) == 8
    assert ax.yaxis.get_major_formatter()(0.12, 0) == "12%"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ac", "lc"]
    with pytest.raises(ValueError):
        relative_gain(MODELS, {"ac": [0.1, 0.2]})


def test_paired_bars_chance_and_errors():
    values_a, values_b = [0.3, 0.2, 0.5, 0.1], [0.25, 0.3, 0.4, 0.15]
    fig = paired_bars(
        MODELS, values_a, values_b, chance=0.1, errors_a=[0.01] * 4, errors_b=[0.02] * 4
    )
    ax = fig.axes[0]
    assert len(_bars(ax)) == 8
    assert [c.errorbar is not None for c in _bar_containers(ax)] == [True, True]
    chance = [line for line in ax.get_lines() if list(line.get_ydata()) == [0.1, 0.1]]
    assert len(chance) == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "average representations" in labels and "average predictions" in labels
    plain = paired_bars(MODELS[:2], [0.1, 0.2], [0.3, 0.4], labels=("small", "big"))
    assert [c.errorbar is not None for c in _bar_containers(plain.axes[0])] == [False, False]


def test_per_part_bars_marks_missing_parts():
    f1 = [0.5, float("nan"), 0.7, 0.3]
    fig = per_part_bars(["head", "beak", "tail", "wing"], f1)
    ax = fig.axes[0]
    heights = [p.get_height() for p in _bars(ax)]
    assert math.isnan(heights[1]) and heights[0] == 0.5
    assert [t.get_text() for t in ax.texts] == ["n/a"]
    mean_line = ax.get_lines()[0]
    assert mean_line.get_ydata()[0] == pytest.approx(0.5)  # nanmean of 0.5, 0.7, 0.3
