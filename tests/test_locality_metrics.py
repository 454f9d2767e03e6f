"""Tests for lococo.metrics.locality: heatmap normalisation, parts ratio, similarities, Pearson."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import ndimage

from lococo.metrics.correlation import pearson
from lococo.metrics.locality import attribute_cosine, normalise_scores, parts_ratio, ssim


def test_normalise_scores_sums_to_one_and_ignores_constants() -> None:
    scores = torch.randn(3, 4, 5, 6) * 5
    heat = normalise_scores(scores)
    assert heat.shape == scores.shape
    assert torch.allclose(heat.sum((-2, -1)), torch.ones(3, 4), atol=1e-6)
    assert bool((heat > 0).all())
    shift = torch.randn(3, 4, 1, 1) * 100  # a different constant per map
    assert torch.allclose(normalise_scores(scores + shift), heat, atol=1e-6)
    # exp(T) / sum exp(T), written out independently
    e = scores[1, 2].double().exp()
    assert torch.allclose(heat[1, 2].double(), e / e.sum(), atol=1e-6)


def test_normalise_scores_is_stable_for_huge_scores() -> None:
    heat = normalise_scores(torch.tensor([[[1e4, 0.0], [0.0, -1e4]]]))
    assert torch.isfinite(heat).all()
    assert heat[0, 0, 0] == pytest.approx(1.0)


def test_parts_ratio_uniform_heatmap_is_mask_area() -> None:
    gen = torch.Generator().manual_seed(0)
    masks = torch.rand(6, 7, 7, generator=gen) < 0.3
    uniform = torch.full((6, 7, 7), 1.0 / 49)
    expected = masks.flatten(1).float().mean(1)
    assert torch.allclose(parts_ratio(uniform, masks), expected, atol=1e-6)
    assert torch.allclose(parts_ratio(uniform, torch.ones_like(masks)), torch.ones(6))
    assert torch.allclose(parts_ratio(uniform, torch.zeros_like(masks)), torch.zeros(6))


def test_parts_ratio_matches_loop_and_normalises_mass() -> None:
    gen = torch.Generator().manual_seed(1)
    heat = torch.rand(4, 5, 3, generator=gen)
    masks = torch.rand(4, 5, 3, generator=gen) < 0.5
    got = parts_ratio(heat, masks)
    for n in range(4):
        on = sum(float(heat[n, i, j]) for i in range(5) for j in range(3) if masks[n, i, j])
        assert float(got[n]) == pytest.approx(on / float(heat[n].sum()), rel=1e-5)
    assert torch.allclose(parts_ratio(heat * 7.0, masks), got, atol=1e-6)


def test_parts_ratio_rejects_bad_masks() -> None:
    with pytest.raises(ValueError, match="bool"):
        parts_ratio(torch.ones(2, 3, 3), torch.ones(2, 3, 3))
    with pytest.raises(ValueError, match="differ"):
        parts_ratio(torch.ones(2, 3, 3), torch.ones(2, 3, 4, dtype=torch.bool))


def test_attribute_cosine_known_values() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[0.0, 3.0], [2.0, 2.0], [-1.0, 0.0], [1.0, 1.0]])
    expected = torch.tensor([0.0, 1.0, -1.0, 0.0])
    assert torch.allclose(attribute_cosine(a, b), expected, atol=1e-6)
    x, y = torch.randn(5, 9), torch.randn(5, 9)
    manual = (x * y).sum(1) / (x.norm(dim=1) * y.norm(dim=1))
    assert torch.allclose(attribute_cosine(x, y), manual, atol=1e-5)


def _smooth_images(n: int, size: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n, 3, size, size))
    smooth = ndimage.gaussian_filter(noise, sigma=(0, 0, 2.0, 2.0))
    smooth = smooth / np.abs(smooth).max(axis=(1, 2, 3), keepdims=True)  # into [-1, 1]
    return torch.from_numpy(smooth).float()


def test_ssim_agrees_with_skimage() -> None:
    metrics = pytest.importorskip("skimage.metrics")
    a = _smooth_images(4, 40, seed=0)
    b = (0.7 * a + 0.3 * _smooth_images(4, 40, seed=1)).clamp(-1, 1)
    got = ssim(a, b)
    assert got.shape == (4,)
    for i in range(4):
        ref = metrics.structural_similarity(
            a[i].double().numpy(),
            b[i].double().numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=2.0,
            channel_axis=0,
        )
        assert float(got[i]) == pytest.approx(ref, abs=1e-4)
    assert float(got.min()) < 0.95  # the pairs really differ: the comparison is not trivial


def test_ssim_identity_batching_and_range() -> None:
    a = _smooth_images(5, 24, seed=2)
    assert torch.allclose(ssim(a, a), torch.ones(5), atol=1e-5)
    b = _smooth_images(5, 24, seed=3)
    assert torch.allclose(ssim(a, b, batch_size=2), ssim(a, b), atol=1e-6)
    # a wider data range treats the same differences as smaller ones
    assert bool((ssim(a, b, data_range=20.0) > ssim(a, b)).all())
    assert ssim(a[:0], b[:0]).shape == (0,)


def test_pearson_matches_numpy_and_known_case() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = x + 0.5 * rng.normal(size=50)
    r, p, n = pearson(torch.from_numpy(x), y)
    assert n == 50
    assert r == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-10)
    assert 0.0 <= p < 0.01
    # n = 3: t has 1 degree of freedom (Cauchy), r = 0.5 -> t = 1/sqrt(3) -> p = 1 - 2/pi * pi/6
    r, p, _ = pearson([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert r == pytest.approx(0.5)
    assert p == pytest.approx(2.0 / 3.0)
    r, p, _ = pearson(np.arange(10.0), -2.0 * np.arange(10.0) + 1)
    assert r == pytest.approx(-1.0)
    assert p < 1e-10


def test_pearson_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x, y in [
            ([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]),
            ([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]),
            ([1.0, 2.0], [2.0, 1.0]),
            ([], []),
            ([1.0, math.nan, 3.0, 4.0], [1.0, 2.0, math.inf, 5.0]),  # 2 finite pairs left
        ]:
            r, p, _ = pearson(x, y)
            assert math.isnan(r) and math.isnan(p)
    with pytest.raises(ValueError, match="equal lengths"):
        pearson([1.0, 2.0, 3.0], [1.0, 2.0])


def test_pearson_drops_non_finite_pairs_like_the_figures() -> None:
    """One NaN policy: results, reports and figures use the same function (same r, p, n)."""
    from lococo.viz.common import pearson as figure_pearson

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=30), rng.normal(size=30)
    x[[2, 7]], y[[5]] = math.nan, math.inf
    keep = np.isfinite(x) & np.isfinite(y)
    r, _, n = pearson(x, y)
    assert n == 27 == int(keep.sum())
    assert r == pytest.approx(np.corrcoef(x[keep], y[keep])[0, 1], abs=1e-12)
    assert figure_pearson is pearson
    # the stored parts-ratio correlations use it as well: same r on the same NaN-holding pairs
    from lococo.zfs.heatmaps import correlations

    stats = {
        "parts_ratio": torch.from_numpy(x),
        "attr_sim": torch.from_numpy(y),
        "ssim": torch.from_numpy(y),
    }
    assert correlations(stats)["parts_ratio_corr_attr"] == pytest.approx(r)
