"""CMIM segmentation models: HeMIS fusion, one code path for training and test inputs,
imputation baselines, a short training run against an empty prediction, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lococo.cmim.losses import cross_modal_mi
from lococo.cmim.seg_config import SegConfig
from lococo.cmim.seg_models import (
    CMIMSegModel,
    HeMISModel,
    MeanImputationModel,
    MLPImputationModel,
    SingleModalityModel,
    build_seg_model,
    hemis_fuse,
    presence,
)
from lococo.config.loading import load_config
from lococo.engine.run_dir import RunDir, open_run

SUBSETS = [[0], [2], [0, 3], [1, 2, 3], [0, 1, 2, 3]]


def tiny_config(**overrides) -> SegConfig:
    base = {"model.widths": [4, 8], "method.critic_hidden": 8, "method.mi_level": 1}
    return load_config(
        SegConfig, profile="quick", system="cmim_seg", overrides={**base, **overrides}
    )


@pytest.mark.parametrize("subset", SUBSETS)
def test_hemis_fusion_is_mean_and_population_variance(subset):
    torch.manual_seed(0)
    maps = torch.randn(4, 3, 5, 6, 6)  # M×B×C×H×W
    present = torch.zeros(3, 4, dtype=torch.bool)
    present[:, subset] = True
    fused = hemis_fuse(maps, present)
    chosen = maps[subset]
    assert torch.allclose(fused[:, :5], chosen.mean(dim=0), atol=1e-6)
    assert torch.allclose(fused[:, 5:], chosen.var(dim=0, correction=0), atol=1e-6)
    assert torch.isfinite(fused).all()
    if len(subset) == 1:
        assert torch.count_nonzero(fused[:, 5:]) == 0


def test_hemis_fusion_per_sample_subsets_and_no_modality():
    maps = torch.randn(4, 2, 3, 2, 2)
    present = torch.tensor([[True, False, False, False], [False, True, True, True]])
    fused = hemis_fuse(maps, present)
    assert torch.allclose(fused[0, :3], maps[0, 0])
    assert torch.allclose(fused[1, 3:], maps[1:, 1].var(dim=0, correction=0), atol=1e-6)
    with pytest.raises(ValueError):
        hemis_fuse(maps, torch.zeros(2, 4, dtype=torch.bool))


@pytest.mark.parametrize("name", ["cmim", "hemis", "mean", "mlp"])
def test_absent_modalities_are_never_looked_at(name):
    torch.manual_seed(0)
    model = build_seg_model(tiny_config(**{"method.name": name})).eval()
    image = torch.randn(2, 4, 8, 8)
    for condition in ("flair", "t2"):
        present = presence(condition, 2)
        changed = torch.where(present[:, :, None, None], image, torch.randn_like(image))
        with torch.no_grad():
            assert torch.allclose(model(image, present), model(changed, present), atol=1e-6)


def test_cmim_training_inputs_are_the_test_time_inputs():
    """The single-modality logits and maps of a training step are exactly ``forward`` with one
    modality present: the test-time path is the training path."""
    torch.manual_seed(0)
    model = build_seg_model(tiny_config()).eval()
    assert isinstance(model, CMIMSegModel)
    image = torch.randn(3, 4, 8, 8)
    with torch.no_grad():
        logits, local = model.local_features(image)
        for k, condition in enumerate(("flair", "t1", "t1c", "t2", "all")):
            block = logits[3 * k : 3 * (k + 1)]
            assert torch.allclose(block, model(image, presence(condition, 3)), atol=1e-5)
    assert len(local) == 4 and local[0].shape == (3, 8, 4, 4)


def test_cmim_loss_terms_are_the_weighted_equation_8_3_6():
    torch.manual_seed(0)
    cfg = tiny_config(**{"method.lambda_ll": 0.7, "method.modalities_per_step": 4})
    model = build_seg_model(cfg)
    image, target = torch.randn(3, 4, 8, 8), (torch.rand(3, 1, 8, 8) > 0.8).float()
    groups = torch.tensor([0, 1, 2])
    torch.manual_seed(5)
    terms = model.training_losses(image, target, groups)
    torch.manual_seed(5)
    _, local = model.local_features(image)
    mi = cross_modal_mi(model.sample_positions(local), model.critics, model.pairs, "jsd", groups)
    assert terms["local_local"].item() == pytest.approx(-0.7 * mi.item(), abs=1e-5)
    assert set(terms) == {"seg", "local_local"}


def test_imputation_baselines_and_references():
    cfg = tiny_config(**{"method.name": "mean"})
    mean_model = build_seg_model(cfg)
    assert isinstance(mean_model, MeanImputationModel)
    mean_model.set_means(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    image = torch.zeros(1, 4, 4, 4)
    filled = mean_model.complete(image, presence("t1", 1))
    assert filled[0, :, 0, 0].tolist() == [1.0, 0.0, 3.0, 4.0]
    mlp = build_seg_model(tiny_config(**{"method.name": "mlp"}))
    assert isinstance(mlp, MLPImputationModel)
    terms = mlp.training_losses(torch.randn(2, 4, 8, 8), torch.zeros(2, 1, 8, 8))
    assert set(terms) == {"seg", "imputation"}
    single = build_seg_model(tiny_config(**{"method.name": "single", "method.modality": "t2"}))
    assert isinstance(single, SingleModalityModel) and single.test_inputs == ("t2",)
    assert build_seg_model(tiny_config(**{"method.name": "all"})).test_inputs == ("all",)
    hemis = build_seg_model(tiny_config(**{"method.name": "hemis", "method.drop_prob": 0.9}))
    assert isinstance(hemis, HeMISModel)
    dropped = hemis.random_presence(500, torch.device("cpu"))
    assert dropped.any(dim=1).all() and 0.05 < dropped.float().mean() < 0.3


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory) -> Path:
    from lococo.data.mri.synth import synth_mri

    root = tmp_path_factory.mktemp("mri")
    synth_mri(root, seed=0, cases=8, size=32, progress=False, overwrite=True)
    return root


def _train(phantoms: Path, out: Path, resume: bool = False, **overrides):
    from lococo.cmim.seg_train import train_seg

    cfg = tiny_config(**{"data.path": str(phantoms), "checkpoint_interval_s": 0, **overrides})
    run = open_run(out, resume=resume)
    return train_seg(cfg, run, resume=resume, progress=False)


def test_resume_continues_to_the_same_weights(phantoms, tmp_path):
    fast = {"data.slices_per_epoch": 8, "data.batch_size": 4, "method.lambda_ll": 1.0}
    _train(phantoms, tmp_path / "full", **fast, **{"trainer.max_epochs": 2})
    _train(phantoms, tmp_path / "cut", **fast, **{"trainer.max_epochs": 1})
    from lococo.cmim.seg_evaluate import load_seg_config
    from lococo.cmim.seg_train import train_seg

    run = RunDir(tmp_path / "cut")
    cfg = load_seg_config(run, {"trainer.max_epochs": 2})
    result = train_seg(cfg, run, resume=True, progress=False)
    assert result["resumed_from"] and result["steps"] == 4
    full = torch.load(tmp_path / "full" / "model.pt", weights_only=True)
    resumed = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)
    for key in full:
        assert torch.equal(full[key], resumed[key]), key


@pytest.mark.slow
@pytest.mark.parametrize("method", ["cmim", "hemis"])
def test_short_training_beats_an_empty_prediction(phantoms, tmp_path, method):
    from lococo.cmim.seg_evaluate import evaluate_seg

    _train(
        phantoms,
        tmp_path / method,
        **{"method.name": method, "model.widths": [16, 32, 64], "method.mi_level": 2},
    )
    result = evaluate_seg(tmp_path / method, progress=False)
    tumour_cases = [
        c for c, d in result["dice_per_case"]["all"].items() if d != 1.0 or result["empty_dice"]
    ]
    assert tumour_cases
    # an all-empty prediction scores 0 on every case with tumour; the trained model must find
    # a good part of the enhancing tumour with T1c alone and with all four modalities
    assert result["dice"]["t1c"] > 0.3
    assert result["dice"]["all"] > 0.3
    assert result["dice"]["all"] > result["empty_dice"] + 0.2
    saved = json.loads((tmp_path / method / "results.json").read_text())
    assert set(saved["cmim_seg"]["dice"]) == {"flair", "t1", "t1c", "t2", "all"}
    with __import__("numpy").load(tmp_path / method / "predictions.npz") as npz:
        assert npz["image"].shape[1] == 4 and "pred_flair" in npz
