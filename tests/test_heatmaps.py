"""Tests for lococo.zfs.heatmaps: statistics network, heatmaps, pair statistics, correlations."""

from __future__ import annotations

import math

import pytest
import torch

from lococo.errors import DivergenceError
from lococo.metrics.correlation import pearson
from lococo.metrics.locality import attribute_cosine, normalise_scores, ssim
from lococo.nn.critics import LocalGlobalCritic
from lococo.zfs.heatmaps import (
    PAIR_CHUNK,
    correlations,
    fit_statistics_network,
    pair_statistics,
    sample_pairs,
    score_maps,
)

# Enough images that the critic cannot memorise the fixed background noise of each one.
N, C, H, W, D = 1024, 16, 4, 4, 24
NOISE = 0.3  # background scale; codes are standard normal


def _plant(codes: torch.Tensor, positions: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Noise maps ``M×C×H×W`` with ``codes[i]`` written at flat position ``positions[i]``."""
    maps = NOISE * torch.randn(codes.shape[0], C, H * W, generator=gen)
    maps[torch.arange(codes.shape[0]), :, positions] = codes
    return maps.reshape(-1, C, H, W)


@pytest.fixture(scope="module")
def planted() -> dict:
    """Each image's code z_i (its global feature through a fixed linear map) at one position."""
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(N, C, generator=gen)
    mixing = torch.randn(C, D, generator=gen) / math.sqrt(C)
    positions = torch.randint(H * W, (N,), generator=gen)
    local = _plant(codes, positions, gen)
    critic, info = fit_statistics_network(local, codes @ mixing, embed_dim=32, steps=400, seed=0)
    shuffled = codes[torch.randperm(N, generator=gen)] @ mixing  # globals unrelated to the maps
    _, control = fit_statistics_network(local, shuffled, embed_dim=32, steps=400, seed=0)
    return {
        "codes": codes,
        "mixing": mixing,
        "positions": positions,
        "local": local,
        "critic": critic,
        "info": info,
        "control": control,
        "gen": gen,
    }


def test_planted_code_is_found_in_the_joint_pair(planted: dict) -> None:
    critic, info = planted["critic"], planted["info"]
    assert not critic.training
    assert info["steps"] == 400
    assert info["dv_bound"] > 0.15
    assert info["dv_bound"] > 4 * max(planted["control"]["dv_bound"], 0.0) + 0.05
    heat = normalise_scores(
        score_maps(critic, planted["codes"] @ planted["mixing"], planted["local"])
    )
    assert torch.allclose(heat.sum((1, 2)), torch.ones(N), atol=1e-5)
    hits = heat.flatten(1).argmax(1) == planted["positions"]
    assert float(hits.float().mean()) >= 0.8
    assert float(heat.flatten(1).max(1).values.mean()) > 5.0 / (H * W)  # a sharp peak


def test_planted_code_is_found_in_another_image(planted: dict) -> None:
    """Global of A against fresh maps of B that contain A's code at a new position."""
    gen = planted["gen"]
    codes, mixing = planted["codes"], planted["mixing"]
    targets = torch.randint(H * W, (N,), generator=gen)
    other = _plant(codes, targets, gen)  # image B_i shows A_i's code at targets[i]
    heat = normalise_scores(score_maps(planted["critic"], codes @ mixing, other))
    assert float((heat.flatten(1).argmax(1) == targets).float().mean()) >= 0.8
    # without A's code B's maps give no such peak at the target position
    blank = NOISE * torch.randn(N, C, H, W, generator=gen)
    flat = normalise_scores(score_maps(planted["critic"], codes @ mixing, blank)).flatten(1)
    on_target = heat.flatten(1).gather(1, targets[:, None]).mean()
    assert float(on_target) > 3 * float(flat.gather(1, targets[:, None]).mean())


def test_fit_is_seeded_and_leaves_global_rng_alone() -> None:
    gen = torch.Generator().manual_seed(3)
    local, global_ = torch.randn(10, 4, 3, 3, generator=gen), torch.randn(10, 5, generator=gen)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    c1, i1 = fit_statistics_network(local, global_, embed_dim=8, steps=5, batch_size=4, seed=7)
    assert torch.equal(torch.rand(3), before)
    c2, i2 = fit_statistics_network(local, global_, embed_dim=8, steps=5, batch_size=4, seed=7)
    c3, _ = fit_statistics_network(local, global_, embed_dim=8, steps=5, batch_size=4, seed=8)
    assert i1 == i2 and math.isfinite(i1["dv_bound"])
    s1, s2, s3 = (score_maps(c, global_, local) for c in (c1, c2, c3))
    assert torch.equal(s1, s2)
    assert not torch.equal(s1, s3)
    with pytest.raises(ValueError, match="local maps"):
        fit_statistics_network(local, global_[:9])


def test_fit_raises_divergence_on_non_finite_bound() -> None:
    local, global_ = torch.randn(6, 3, 2, 2), torch.randn(6, 4)
    local[2, 0, 1, 1] = math.nan
    with pytest.raises(DivergenceError, match="diverged at step 1"):
        fit_statistics_network(local, global_, embed_dim=4, steps=3, batch_size=6)


def test_fit_shows_progress_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    local, global_ = torch.randn(6, 3, 2, 2), torch.randn(6, 4)
    fit_statistics_network(local, global_, embed_dim=4, steps=3, batch_size=4)
    assert "statistics network" not in capsys.readouterr().err
    fit_statistics_network(local, global_, embed_dim=4, steps=3, batch_size=4, progress=True)
    assert "statistics network" in capsys.readouterr().err


def test_score_maps_is_the_critic_diagonal() -> None:
    torch.manual_seed(0)
    critic = LocalGlobalCritic(6, 5, embed_dim=8, scale=True)
    local, global_ = torch.randn(7, 6, 4, 3), torch.randn(7, 5)
    full = critic(local, global_)  # rows: globals, columns: locals
    diagonal = full[torch.arange(7), torch.arange(7)]
    got = score_maps(critic, global_, local, batch_size=3)
    assert got.shape == (7, 4, 3)
    assert torch.allclose(got, diagonal, atol=1e-5)
    assert score_maps(critic, global_[:0], local[:0]).shape == (0, 4, 3)


def test_sample_pairs() -> None:
    pairs = sample_pairs(5, 2000, seed=1)
    assert pairs.shape == (2000, 2) and pairs.dtype == torch.long
    assert bool((pairs[:, 0] != pairs[:, 1]).all())
    assert int(pairs.min()) == 0 and int(pairs.max()) == 4
    assert torch.equal(pairs, sample_pairs(5, 2000, seed=1))
    assert not torch.equal(pairs, sample_pairs(5, 2000, seed=2))
    # b is uniform over the 4 other images: each ordered pair ~ 2000 / 20
    counts = torch.bincount(pairs[:, 0] * 5 + pairs[:, 1], minlength=25).reshape(5, 5)
    off = counts[~torch.eye(5, dtype=torch.bool)].float()
    assert float(off.min()) > 60 and float(off.max()) < 140
    same = sample_pairs(3, 300, seed=0, distinct=False)
    assert bool((same[:, 0] == same[:, 1]).any())
    with pytest.raises(ValueError):
        sample_pairs(1, 3)


def _spotlight_critic(channels: int, gain: float) -> LocalGlobalCritic:
    """A critic whose score at each position is ``gain * local[0]`` for any global feature."""
    critic = LocalGlobalCritic(channels, 3, embed_dim=4)
    with torch.no_grad():
        for p in critic.parameters():
            p.zero_()
        critic.local_net.shortcut.weight[0, 0, 0] = 1.0
        critic.global_net.shortcut.bias[0] = gain
    return critic.eval()


def _pair_inputs(n: int, size: int = 24) -> dict:
    gen = torch.Generator().manual_seed(5)
    masks = torch.rand(n, H, W, generator=gen) < 0.3
    masks[:, 0, 0] = True  # every image shows some part
    local = torch.randn(n, 4, H, W, generator=gen)
    local[:, 0] = masks.float()  # channel 0 marks B's parts
    return {
        "global_": torch.randn(n, 3, generator=gen),
        "local": local,
        "images": torch.rand(n, 3, size, size, generator=gen) * 2 - 1,
        "class_attributes": torch.rand(n, 7, generator=gen),
        "any_part": masks,
    }


def test_pair_statistics_concentrated_heatmaps_give_ratio_one() -> None:
    inputs = _pair_inputs(12)
    pairs = sample_pairs(12, PAIR_CHUNK + 44, seed=0)  # more than one chunk
    stats = pair_statistics(_spotlight_critic(4, 60.0), pairs=pairs, **inputs)
    assert set(stats) == {"parts_ratio", "attr_sim", "ssim"}
    assert all(v.shape == (len(pairs),) for v in stats.values())
    assert float(stats["parts_ratio"].min()) > 0.99
    a, b = pairs[:, 0], pairs[:, 1]
    attrs, images = inputs["class_attributes"], inputs["images"]
    assert torch.allclose(stats["attr_sim"], attribute_cosine(attrs[a], attrs[b]), atol=1e-6)
    assert torch.allclose(stats["ssim"], ssim(images[a], images[b]), atol=1e-6)


def test_pair_statistics_flat_heatmaps_give_mask_area() -> None:
    inputs = _pair_inputs(12)
    pairs = sample_pairs(12, 40, seed=1)
    stats = pair_statistics(_spotlight_critic(4, 0.0), pairs=pairs, **inputs)
    area = inputs["any_part"][pairs[:, 1]].flatten(1).float().mean(1)  # B's mask, not A's
    assert torch.allclose(stats["parts_ratio"], area, atol=1e-6)


def test_correlations() -> None:
    gen = torch.Generator().manual_seed(2)
    attr = torch.rand(200, generator=gen)
    pix = torch.rand(200, generator=gen)
    ratio = 0.5 + 0.3 * attr - 0.2 * pix + 0.05 * torch.randn(200, generator=gen)
    out = correlations({"parts_ratio": ratio, "attr_sim": attr, "ssim": pix})
    assert set(out) == {
        "parts_ratio_mean",
        "parts_ratio_corr_attr",
        "parts_ratio_corr_attr_p",
        "parts_ratio_corr_ssim",
        "parts_ratio_corr_ssim_p",
        "pairs",
    }
    assert out["pairs"] == 200
    assert out["parts_ratio_mean"] == pytest.approx(float(ratio.double().mean()))
    assert out["parts_ratio_corr_attr"] > 0.5 and out["parts_ratio_corr_ssim"] < -0.3
    assert out["parts_ratio_corr_attr_p"] < 1e-6
    assert (out["parts_ratio_corr_ssim"], out["parts_ratio_corr_ssim_p"]) == pytest.approx(
        pearson(ratio, pix)[:2]
    )
    few = correlations(
        {k: v[:2] for k, v in {"parts_ratio": ratio, "attr_sim": attr, "ssim": pix}.items()}
    )
    assert few["pairs"] == 2 and math.isnan(few["parts_ratio_corr_attr"])
