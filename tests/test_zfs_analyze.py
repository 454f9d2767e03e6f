"""``lococo zfs analyze`` end to end: a trained run and a torchvision backbone."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from lococo.cli.main import main
from lococo.data.zsl.synth import synth_zsl

SMALL = [
    "analysis.critic_steps=30",
    "analysis.pairs=200",
    "analysis.probe_epochs=5",
    "analysis.tre_steps=50",
    "zsl.epochs=5",
]
REQUIRED = (
    "parts_f1",
    "tre",
    "tre_random",
    "tre_ratio",
    "parts_ratio_corr_attr",
    "parts_ratio_corr_ssim",
    "zsl_avg_repr",
    "zsl_avg_pred",
    "parts_f1_receptive_field",
    "parts_f1_stride_cell",
    "parts_f1_untrained",
    "parts_f1_untrained_receptive_field",
    "parts_f1_untrained_stride_cell",
    "tre_ratio_untrained",
)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zsl")
    synth_zsl(
        root, seed=4, classes=12, unseen=4, images_per_class=10, image_size=32, progress=False
    )
    return root


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "fc"
    args = ["zfs", "pretrain", "--data", str(data), "--method", "fc", "--out", str(out)]
    quick = ["--profile", "quick", "--no-progress", "data.image_size=32", "trainer.max_epochs=1"]
    assert main([*args, *quick, "data.batch_size=16"]) == 0
    return out


def _check_analysis(analysis: dict, run: Path) -> None:
    for key in REQUIRED:
        assert key in analysis, key
    assert 0.0 <= analysis["parts_f1"] <= 1.0
    gt = analysis["parts_gt"]
    assert analysis["parts_f1"] == analysis[f"parts_f1_{gt}"]
    assert analysis["parts_f1_untrained"] == analysis[f"parts_f1_untrained_{gt}"]
    assert analysis["parts_f1_untrained"] != analysis["parts_f1"]  # another encoder's probes
    assert len(analysis["parts_f1_per_part"]) == 15
    assert analysis["tre_ratio"] == pytest.approx(analysis["tre"] / analysis["tre_random"])
    assert analysis["tre_random"] == analysis["tre_random_class"]  # the class-level control
    image_ratio = analysis["tre"] / analysis["tre_random_image"]
    assert analysis["tre_ratio_image"] == pytest.approx(image_ratio)
    for key in ("parts_ratio_corr_attr", "parts_ratio_corr_ssim"):
        assert analysis[key] is None or -1.0 <= analysis[key] <= 1.0
    assert 0.0 < analysis["parts_ratio_mean"] <= 1.0  # 1: fields wider than the image
    for key in ("zsl_avg_repr", "zsl_avg_pred"):
        assert 0.0 <= analysis[key] <= 1.0
    assert set(analysis["pooling"]) == {"small", "big"}
    for figure in analysis["figures"]:
        with Image.open(run / figure) as img:
            assert img.size[0] > 100
    assert "figures/heatmaps.png" in analysis["figures"]


def test_analyze_a_trained_run_writes_measures_figures_and_report(run, capsys):
    assert main(["zfs", "analyze", str(run), "--no-progress", *SMALL]) == 0
    results = json.loads((run / "results.json").read_text())
    assert {"pretrain", "analysis"} <= set(results)
    _check_analysis(results["analysis"], run)
    assert math.isfinite(results["analysis"]["mi_critic"]["dv_bound"])
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert "TRE ratio" in capsys.readouterr().out


def test_analyze_a_torchvision_backbone_with_local_weights(data, tmp_path, capsys):
    import torchvision

    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    out = tmp_path / "resnet"
    args = ["zfs", "analyze", "--backbone", "resnet18", "--weights", str(weights)]
    args += ["--data", str(data), "--out", str(out), "--no-progress", "data.image_size=32"]
    assert main([*args, *SMALL]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["backbone"]["weights_loaded"] is True
    assert results["zsl"]["chance"] == pytest.approx(0.25)
    _check_analysis(results["analysis"], out)
    assert results["analysis"]["encoder"]["local_shape"][0] == 128  # resnet18 layer2


def test_bad_backbone_weights_fail_cleanly(data, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "never"
    args = ["zfs", "analyze", "--backbone", "resnet18", "--weights", str(bad)]
    assert main([*args, "--data", str(data), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bad.pth: weights file is truncated, corrupt or not a PyTorch file" in err
    assert not out.exists()


def test_analyze_refuses_a_directory_without_a_run(tmp_path, capsys):
    assert main(["zfs", "analyze", str(tmp_path), "--no-progress"]) == 1
    assert "config.yaml" in capsys.readouterr().err


def test_model_label_names_cmdims_base_model_and_the_local_loss():
    from lococo.config.loading import load_config
    from lococo.zfs.analyze import model_label
    from lococo.zfs.config import ZFSConfig

    def label(**overrides) -> str:
        return model_label(
            load_config(ZFSConfig, system="zfs", profile="quick", overrides=overrides)
        )

    assert label(**{"method.name": "fc"}) == "fc"
    assert label(**{"method.name": "fc", "method.local_loss": "ac"}) == "fc+ac"
    cmdim = {"method.name": "cmdim", "method.p": 0.5, "method.local_loss": "lc"}
    assert label(**cmdim, **{"method.base": "dim"}) == "cmdim_dim_p0.5+lc"
    assert label(**cmdim, **{"method.base": "twopass"}) == "cmdim_twopass_p0.5+lc"
