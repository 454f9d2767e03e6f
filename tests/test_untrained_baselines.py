"""The untrained-encoder baselines: the encoder pretraining starts from, caching, study rows."""

from __future__ import annotations

import math

import pytest
import torch

from lococo.config.loading import load_config
from lococo.data.zsl.synth import synth_zsl
from lococo.engine.run_dir import RunDir
from lococo.zfs import untrained as u
from lococo.zfs.config import METHODS, ZFSConfig
from lococo.zfs.pretrain import pretrain


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("zsl")
    synth_zsl(root, seed=2, classes=8, unseen=2, images_per_class=4, image_size=32, progress=False)
    return root


def _cfg(data, **extra) -> ZFSConfig:
    overrides = {
        "data.path": str(data),
        "data.image_size": 32,
        "data.batch_size": 8,
        "encoder.width": 0.125,
        "encoder.global_dim": 32,
        "trainer.max_epochs": 0,
        "seed": 5,
        **extra,
    }
    return load_config(ZFSConfig, system="zfs", profile="quick", overrides=overrides)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("method", ["fc", "cmdim"])
def test_initial_encoder_is_the_encoder_pretraining_starts_from(tiny, tmp_path, method):
    """A run of zero epochs saves its initial encoder: initial_encoder rebuilds it exactly."""
    cfg = _cfg(tiny, **{"method.name": method})
    run = RunDir(tmp_path / "run")
    pretrain(cfg, run, progress=False)
    from lococo.zfs.evaluate import trained_encoder

    saved, _ = trained_encoder(run, cfg)
    assert _same(saved, u.initial_encoder(cfg))
    assert not _same(saved, u.initial_encoder(_cfg(tiny, seed=6, **{"method.name": method})))


def test_every_method_builds_its_encoder_first(tiny):
    """What pretraining does after seeding torch: the method's encoder equals initial_encoder
    for every method family (no module is drawn before the encoder)."""
    import lightning as L

    from lococo.zfs.data import load_zsl_for
    from lococo.zfs.pretrain import build_method

    data = load_zsl_for(_cfg(tiny).data)
    for method in METHODS:
        cfg = _cfg(tiny, **{"method.name": method})
        L.seed_everything(cfg.seed, verbose=False)
        module = build_method(cfg, data)
        assert _same(module.encoder.eval(), u.initial_encoder(cfg)), method


def test_initial_encoder_leaves_the_global_rng_alone(tiny):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    u.initial_encoder(_cfg(tiny))
    assert torch.equal(torch.rand(3), expected)


def test_cache_computes_once_per_key_and_keys_tell_settings_apart(tiny):
    u.clear_cache()
    calls = []

    def compute() -> float:
        calls.append(1)
        return 0.5

    key = u.baseline_key(_cfg(tiny), "zsl")
    assert u.cached(key, compute) == u.cached(key, compute) == 0.5
    assert len(calls) == 1
    assert key != u.baseline_key(_cfg(tiny, seed=6), "zsl")
    assert key != u.baseline_key(_cfg(tiny, **{"zsl.epochs": 3}), "zsl")
    assert key != u.baseline_key(_cfg(tiny), "analysis")
    # the pretraining method does not change the encoder at initialisation
    assert key == u.baseline_key(_cfg(tiny, **{"method.name": "vae"}), "zsl")
    u.clear_cache()


def test_untrained_summary_counts_each_seed_once():
    cells = [
        {
            "encoder": "basic",
            "seed": s,
            "chance": 0.25,
            "top1_untrained": t,
            "parts_f1_untrained": p,
        }
        for s, t, p in ((0, 0.3, 0.1), (1, 0.5, 0.3))
        for _ in range(3)  # three methods share a seed's initial encoder
    ]
    cells.append({"encoder": "basic", "seed": 2, "chance": 0.25})  # no baseline stored
    (row,) = u.untrained_summary(cells)
    assert row["model"] == u.UNTRAINED_MODEL and row["seeds"] == 2
    assert row["top1_mean"] == pytest.approx(0.4)
    assert row["parts_f1_mean"] == pytest.approx(0.2)
    assert row["top1_std"] == pytest.approx(math.sqrt(0.02))
    assert "tre_ratio_mean" not in row and row["chance"] == 0.25
