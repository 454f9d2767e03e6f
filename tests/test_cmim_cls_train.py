"""CMIM chest X-ray classification wiring: config, training, image-only evaluation, resume,
bad input, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lococo.cli.main import main
from lococo.cmim.cls_config import ClsConfig
from lococo.config.loading import load_config
from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError

#: A tiny model and one epoch: enough to exercise every path in a few seconds.
TINY = {
    "data.image_size": 32,
    "data.max_len": 32,
    "data.batch_size": 16,
    "model.depth": 10,
    "model.local_layer": "layer2",
    "model.text_channels": 16,
    "model.text_global": 16,
    "model.joint_dim": 16,
    "model.critic_hidden": 16,
    "model.local_embed": 16,
    "optim.lr": 1e-3,
    "checkpoint_interval_s": 0.0,
    "trainer.max_epochs": 1,
    "trainer.accelerator": "cpu",
}


@pytest.fixture(scope="module")
def cxr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lococo.data.cxr.synth import synth_cxr

    root = tmp_path_factory.mktemp("cxr") / "data"
    synth_cxr(root, seed=3, reports=60, image_size=32, progress=False)
    return root


def tiny_config(data: Path, method: str = "cmim", **extra: object) -> ClsConfig:
    overrides = {**TINY, "data.path": str(data), "method.name": method, **extra}
    return load_config(ClsConfig, system="cmim_cls", profile="quick", overrides=overrides)


@pytest.fixture(scope="module")
def cmim_run(cxr: Path, tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    from lococo.cmim.cls_train import train_cls

    run = RunDir(tmp_path_factory.mktemp("runs") / "cmim")
    train_cls(tiny_config(cxr), run, progress=False)
    return run


def test_profiles_resolve() -> None:
    quick = load_config(ClsConfig, system="cmim_cls", profile="quick")
    paper = load_config(ClsConfig, system="cmim_cls", profile="paper")
    assert quick.model.depth == 10 and paper.model.depth == 50
    assert paper.optim.lr == pytest.approx(1e-4)
    assert paper.model.freeze_embeddings and paper.data.frontal_only and paper.data.rebalance
    assert (paper.method.lambda_lg, paper.method.lambda_ll, paper.method.lambda_c) == (1, 1, 1)


def test_training_writes_run(cmim_run: RunDir) -> None:
    from lococo.data.cxr.splits import read_splits

    results = cmim_run.read_results()["cmim_cls_train"]
    assert results["method"] == "cmim" and results["epochs"] == 1
    assert {"train/local_local", "train/local_global", "train/classif"} <= set(results["metrics"])
    splits = read_splits(cmim_run.path / "splits.json")
    sets = [set(v) for v in splits.values()]
    assert all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1 :])
    # frontal views only: the synthetic views.csv is used and lateral images are dropped
    assert results["view_list"].endswith("views.csv")
    views = dict(line.split(",") for line in (Path(results["view_list"]).read_text().split()[1:]))
    assert (cmim_run.path / "model.pt").is_file()
    saved = cmim_run.read_config()
    assert saved["seed"] == 0 and saved["task"] == "cls"
    from lococo.cmim.cls_train import prepare_cls_data, view_list_of

    data = prepare_cls_data(tiny_config(Path(saved["data"]["path"])), with_text=False)
    assert view_list_of(tiny_config(Path(saved["data"]["path"]))) is not None
    assert all(views[s.image_id] in ("PA", "AP") for part in data.splits.values() for s in part)


def test_evaluate_uses_image_alone(
    cmim_run: RunDir, cxr: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Evaluation needs neither the text encoder nor the GloVe file; scores equal the image
    path of the trained model applied directly."""
    from lococo.cmim import cls_evaluate
    from lococo.cmim.cls_train import build_cls_model, dataset, prepare_cls_data, read_vocab
    from lococo.cmim.text import TextCNN
    from lococo.data.cxr import glove
    from lococo.data.cxr.splits import read_splits

    def no_text(*args: object, **kwargs: object) -> None:
        raise AssertionError("the text path was used at test time")

    monkeypatch.setattr(TextCNN, "forward", no_text)
    monkeypatch.setattr(glove, "read_glove", no_text)
    result = cls_evaluate.evaluate_cls(cmim_run.path, progress=False, figures=False)
    assert result["test_time_input"] == "image"
    section = cmim_run.read_results()["cmim_cls"]
    assert set(section["auc"]) | set(section["skipped"]) == set(section["classes"])
    assert section["auc_macro"] == pytest.approx(np.mean(list(section["auc"].values())))
    monkeypatch.undo()

    cfg = cls_evaluate.load_cls_config(cmim_run)
    data = prepare_cls_data(cfg, with_text=False, splits=read_splits(cmim_run.path / "splits.json"))
    words, dim = read_vocab(cmim_run)
    full = build_cls_model(cfg, len(data.label_names), torch.zeros(len(words), dim))
    full.load_state_dict(torch.load(cmim_run.path / "model.pt", weights_only=True))
    full.eval()
    images = dataset(cfg, data, "test").images
    with torch.no_grad():
        direct = torch.sigmoid(full.predict(images)).numpy()
    saved = np.load(cmim_run.path / "predictions.npz")
    np.testing.assert_allclose(saved["scores"], direct, rtol=1e-4, atol=1e-5)
    # AUC against scikit-learn directly
    from sklearn.metrics import roc_auc_score

    for k, name in enumerate(saved["classes"]):
        y = saved["labels"][:, k]
        if 0 < y.sum() < len(y):
            assert section["auc"][str(name)] == pytest.approx(roc_auc_score(y, direct[:, k]), 1e-4)
        else:
            assert str(name) in section["skipped"]


@pytest.mark.slow
def test_resume_continues(cxr: Path, tmp_path: Path) -> None:
    from lococo.cmim.cls_evaluate import load_cls_config
    from lococo.cmim.cls_train import train_cls

    run = RunDir(tmp_path / "run")
    train_cls(tiny_config(cxr, "image_only"), run, progress=False)
    splits = (run.path / "splits.json").read_text()
    cfg = load_cls_config(run, {"trainer.max_epochs": 2})
    result = train_cls(cfg, run, resume=True, progress=False)
    assert result["epochs"] == 2 and result["resumed_from"].endswith("last.ckpt")
    assert (run.path / "splits.json").read_text() == splits


def cli(*args: str) -> int:
    return main(["cmim", *args, "--no-progress"])


@pytest.mark.slow
def test_cli_train_and_evaluate(cxr: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    keys = [f"{k}={v}" for k, v in TINY.items()]
    code = cli("train", "--task", "cls", "--data", str(cxr), "--method", "cmim",
               "--out", str(out), "--profile", "quick", *keys)  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "ROC-AUC from the image alone" in text and "macro" in text
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == 0
    assert (out / "figures" / "roc.png").is_file() and (out / "figures" / "agreement.png").is_file()
    assert main(["cmim", "evaluate", str(out), "--no-progress"]) == 0
    assert "cmim_cls" in json.loads((out / "results.json").read_text())
    assert main(["report", str(out)]) == 0
    assert "ROC-AUC" in (out / "report.md").read_text()


def bad(capsys: pytest.CaptureFixture, out: Path, *args: str) -> str:
    code = cli("train", "--task", "cls", "--out", str(out), "--profile", "quick", *args)
    err = capsys.readouterr().err.strip()
    assert code != 0 and not out.exists()
    assert len(err.splitlines()) == 1 and err.startswith("lococo: error:")
    return err


def test_unknown_label_name(cxr: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    err = bad(capsys, tmp_path / "r", "--data", str(cxr), "data.labels=[Effusion,Dragons]")
    assert "unknown label name 'Dragons'" in err


def test_glove_inconsistent_dims(cxr: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    glove = tmp_path / "glove.txt"
    glove.write_text("heart 0.1 0.2 0.3\nlung 0.1 0.2\n")
    err = bad(capsys, tmp_path / "r", "--data", str(cxr), "--glove", str(glove))
    assert f"{glove}:2:" in err and "inconsistent dimension" in err


def test_glove_empty_vocabulary(cxr: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    glove = tmp_path / "glove.txt"
    glove.write_text("\n\n")
    err = bad(capsys, tmp_path / "r", "--data", str(cxr), "--glove", str(glove))
    assert "empty vocabulary" in err


def test_missing_data_and_wrong_method(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    err = bad(capsys, tmp_path / "r", "--data", str(tmp_path / "nowhere"))
    assert "ecgen-radiology" in err
    err = bad(capsys, tmp_path / "r", "--data", str(tmp_path), "--method", "hemis")
    assert "does not apply to --task cls" in err


def test_config_errors() -> None:
    from lococo.cmim.cls_train import check_config

    with pytest.raises(LococoError, match="unknown label name"):
        check_config(load_config(ClsConfig, overrides={"data.labels": ["Foo"]}))
    with pytest.raises(LococoError, match="image_size"):
        check_config(load_config(ClsConfig, overrides={"data.image_size": 0}))


@pytest.mark.slow
def test_short_training_beats_chance(tmp_path: Path) -> None:
    """The quick profile on 300 synthetic reports: both models reach a macro AUC of at least
    0.65 from the image alone (chance 0.5), seed 0."""
    from lococo.cmim.cls_evaluate import evaluate_cls
    from lococo.cmim.cls_train import train_cls
    from lococo.data.cxr.synth import synth_cxr

    root = tmp_path / "data"
    synth_cxr(root, seed=0, reports=300, image_size=64, progress=False)
    for method in ("cmim", "image_only"):
        cfg = load_config(
            ClsConfig,
            system="cmim_cls",
            profile="quick",
            overrides={"data.path": str(root), "method.name": method, "trainer.max_epochs": 6},
        )
        run = RunDir(tmp_path / method)
        train_cls(cfg, run, progress=False)
        result = evaluate_cls(run.path, progress=False, figures=False)
        assert result["auc_macro"] >= 0.65, (method, result["auc"])
