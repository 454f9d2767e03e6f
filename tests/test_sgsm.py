"""SGSM (thesis 6.3.1): the losses of eq. 6.3.1–6.3.6 against direct per-pair loops, the module,
and its training on synthetic scenes (learns the pairing; shuffled pairs stay at chance)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lococo.cli.main import main
from lococo.config.loading import load_config
from lococo.data.layout.synth import synth_layout
from lococo.errors import LococoError
from lococo.ocgan.config import SGSMRunConfig
from lococo.ocgan.sgsm import SGSM, build_image_encoder
from lococo.ocgan.sgsm_losses import (
    attention,
    global_scores,
    local_scores,
    matching_loss,
    sgsm_loss,
)
from lococo.ocgan.sgsm_train import load_sgsm, recall_at

G1, G2, G3 = 4.0, 5.0, 10.0


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def _direct_local_similarity(g, valid, v, norm="regions") -> float:
    """Eq. 6.3.1-6.3.2 for one graph (J×D) and one image (I×D), written with loops."""
    n_nodes, n_regions = g.shape[0], v.shape[0]
    terms = []
    for j in range(n_nodes):
        if not valid[j]:
            continue
        if norm == "regions":
            den = sum(math.exp(float(g[j] @ v[k])) for k in range(n_regions))
            s = [G1 * math.exp(float(g[j] @ v[i])) / den for i in range(n_regions)]
        else:  # AttnGAN: first softmax over the (valid) nodes for each region
            s = []
            for i in range(n_regions):
                den = sum(math.exp(float(g[k] @ v[i])) for k in range(n_nodes) if valid[k])
                s.append(G1 * math.exp(float(g[j] @ v[i])) / den)
        z = sum(math.exp(x) for x in s)
        attended = sum(math.exp(s[i]) / z * v[i] for i in range(n_regions))
        terms.append(math.exp(G2 * _cos(attended, g[j])))
    return math.log(sum(terms)) / G2


def _direct_matching_loss(sim: list[list[float]]) -> float:
    """Eq. 6.3.4-6.3.5: sim[s][i] for graph s, image i; pairs (b, b) match."""
    n = len(sim)
    total = 0.0
    for b in range(n):
        p_s_given_i = math.exp(G3 * sim[b][b]) / sum(math.exp(G3 * sim[s][b]) for s in range(n))
        p_i_given_s = math.exp(G3 * sim[b][b]) / sum(math.exp(G3 * sim[b][i]) for i in range(n))
        total += -math.log(p_s_given_i) - math.log(p_i_given_s)
    return total / n


def _batch(seed: int = 0, b: int = 4, j: int = 5, i: int = 7, d: int = 6):
    gen = torch.Generator().manual_seed(seed)
    nodes = torch.randn(b, j, d, generator=gen, dtype=torch.float64) * 0.7
    regions = torch.randn(b, i, d, generator=gen, dtype=torch.float64) * 0.7
    valid = torch.ones(b, j, dtype=torch.bool)
    valid[0, 3:] = False
    valid[2, 1:] = False
    gg = torch.randn(b, d, generator=gen, dtype=torch.float64)
    ig = torch.randn(b, d, generator=gen, dtype=torch.float64)
    return nodes, valid, regions, gg, ig


@pytest.mark.parametrize("norm", ["regions", "nodes"])
def test_local_scores_match_the_equations_per_pair(norm):
    nodes, valid, regions, _, _ = _batch()
    got = local_scores(nodes, valid, regions, gamma1=G1, gamma2=G2, norm=norm, max_elements=50)
    for s in range(nodes.shape[0]):
        for i in range(regions.shape[0]):
            want = _direct_local_similarity(nodes[s], valid[s], regions[i], norm)
            assert got[s, i].item() == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_attention_weights_are_distributions_over_regions():
    nodes, valid, regions, _, _ = _batch()
    out = attention(nodes, regions, valid, gamma1=G1)
    assert torch.allclose(out.weights.sum(-1), torch.ones(4, 5, dtype=torch.float64))
    assert torch.allclose(out.attended, out.weights @ regions)


def test_matching_losses_match_the_equations():
    nodes, valid, regions, gg, ig = _batch(seed=1)
    out = sgsm_loss(nodes, valid, regions, gg, ig, gamma1=G1, gamma2=G2, gamma3=G3)
    n = nodes.shape[0]
    local = [[_direct_local_similarity(nodes[s], valid[s], regions[i]) for i in range(n)]
             for s in range(n)]  # fmt: skip
    glob = [[_cos(ig[i], gg[s]) for i in range(n)] for s in range(n)]
    assert torch.allclose(global_scores(gg, ig), torch.tensor(glob, dtype=torch.float64))
    want_local = _direct_matching_loss(local)
    want_global = _direct_matching_loss(glob)
    assert out.local.item() == pytest.approx(want_local, rel=1e-9)
    assert out.global_.item() == pytest.approx(want_global, rel=1e-9)
    assert out.total.item() == pytest.approx(want_local + want_global, rel=1e-9)


def test_matching_loss_rewards_matching_pairs_in_both_directions():
    n = 6
    perfect = torch.eye(n, dtype=torch.float64)
    uniform = torch.zeros(n, n, dtype=torch.float64)
    assert matching_loss(uniform, gamma3=G3).item() == pytest.approx(2 * math.log(n))
    assert matching_loss(perfect, gamma3=G3).item() < 1e-3
    # a graph that matches every image equally well is penalised in the image->graph direction
    rows_only = torch.eye(n, dtype=torch.float64)
    rows_only[0, :] = 1.0
    assert matching_loss(rows_only.t()).item() == pytest.approx(matching_loss(rows_only).item())
    assert matching_loss(rows_only).item() > matching_loss(perfect).item() + 0.5


def test_mismatched_layouts_pair_every_image_with_another_scene():
    from lococo.ocgan.sgsm_train import MismatchedLayouts

    items = [
        {"image": torch.full((1,), float(i)), "boxes": torch.full((2, 4), float(i)), "index": i}
        for i in range(7)
    ]
    shuffled = MismatchedLayouts(items, seed=3)
    partners = shuffled.partner.tolist()
    assert sorted(partners) == list(range(7)) and all(p != i for i, p in enumerate(partners))
    for i in range(7):
        assert shuffled[i]["image"].item() == i and shuffled[i]["index"] == i
        assert shuffled[i]["boxes"][0, 0].item() == partners[i]
    assert MismatchedLayouts(items, seed=3).partner.tolist() == partners


def test_recall_breaks_ties_at_random_in_expectation():
    scores = torch.tensor([[1.0, 0.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, -1.0]])
    g2i, i2g = recall_at(scores, 1)
    assert g2i == pytest.approx((1 + 0.5 + 0) / 3)  # row 0 wins; row 1 ties with one; row 2 loses
    assert i2g == pytest.approx((0 + 1 + 0) / 3)  # column 0: graph 1 beats graph 0
    assert recall_at(scores, 3) == (1.0, 1.0)
    for n in (5, 40):  # a model that scores everything alike is exactly at chance
        for k in (1, 5):
            assert recall_at(torch.zeros(n, n), k) == pytest.approx((min(k, n) / n,) * 2)


TINY = [
    "--profile",
    "quick",
    "--no-progress",
    "data.batch_size=16",
    "gcn.dim=16",
    "gcn.hidden=32",
    "gcn.layers=2",
    "sgsm.embed_dim=32",
    "sgsm.cnn_width=0.25",
    "eval.candidates=20",
    "eval.attention_images=2",
]


def _quick_cfg(**overrides) -> SGSMRunConfig:
    return load_config(SGSMRunConfig, system="sgsm", profile="quick", overrides=overrides)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scenes")
    synth_layout(root, seed=5, images=60, image_size=64, val_fraction=0.5, progress=False)
    return root


def test_sgsm_loss_on_images_is_differentiable_and_permutation_invariant():
    torch.manual_seed(0)
    cfg = _quick_cfg(**{"gcn.dim": 16, "gcn.hidden": 32, "sgsm.embed_dim": 32, "graph.mode": "all"})
    model = SGSM(cfg, [f"c{k}" for k in range(5)], build_image_encoder(cfg)).eval()
    images = torch.rand(3, 3, 64, 64, requires_grad=True) * 2 - 1
    images.retain_grad()
    boxes = torch.tensor([[0.1, 0.1, 0.4, 0.5], [0.5, 0.2, 0.9, 0.6], [0.2, 0.6, 0.7, 0.95]])
    boxes = boxes.expand(3, -1, -1).clone()
    labels = torch.tensor([[0, 1, 2], [3, 4, 0], [1, 1, 2]])
    valid = torch.tensor([[True, True, True], [True, True, False], [True, False, False]])
    loss = model.sgsm_loss(images, boxes, labels, valid)
    loss.backward()
    assert images.grad is not None and float(images.grad.abs().sum()) > 0
    perm = torch.tensor([2, 0, 1])  # object order within each layout does not matter
    again = model.sgsm_loss(images, boxes[:, perm], labels[:, perm], valid[:, perm])
    assert again.item() == pytest.approx(loss.item(), rel=1e-5)


def test_inception_encoder_needs_a_local_weights_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCOCO_WEIGHTS_DIR", str(tmp_path))
    cfg = _quick_cfg(**{"sgsm.image_encoder": "inception_v3"})
    with pytest.raises(LococoError) as err:
        build_image_encoder(cfg)
    message = str(err.value)
    assert "inception_v3_google-0cc3c7bd.pth" in message and str(tmp_path) in message
    assert "\n" not in message


@pytest.mark.slow
def test_inception_encoder_gives_mixed_6e_and_pooled_features(tmp_path):
    """Torchvision's Inception-V3 from a state-dict file: 17×17×768 local, 2048 global, frozen."""
    import torchvision

    weights = tmp_path / "inception.pth"
    torch.save(
        torchvision.models.inception_v3(weights=None, init_weights=False).state_dict(), weights
    )
    cfg = _quick_cfg(
        **{"sgsm.image_encoder": "inception_v3", "sgsm.inception_weights": str(weights)}
    )
    model = SGSM(cfg, ["a", "b"], build_image_encoder(cfg)).train()
    assert (
        model.image_encoder.local_shape == (768, 17, 17) and model.image_encoder.global_dim == 2048
    )
    emb = model.encode_images(torch.zeros(2, 3, 64, 64))
    assert emb.regions.shape == (2, 17 * 17, cfg.sgsm.embed_dim) and emb.grid == (17, 17)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert "image_encoder" not in trainable and not model.image_encoder.inner.training


def _saved_sgsm(run: Path, class_names: list[str], fmt: str = "coco-stuff") -> Path:
    """A run directory holding an (untrained) SGSM file, as ``pretrain_sgsm`` writes it."""
    from lococo.config.loading import to_dict
    from lococo.io import atomic_open
    from lococo.ocgan.sgsm import sgsm_state

    cfg = _quick_cfg(**{"gcn.dim": 16, "gcn.hidden": 32, "sgsm.embed_dim": 32})
    model = SGSM(cfg, class_names, build_image_encoder(cfg))
    with atomic_open(run / "sgsm.pt", "wb") as handle:
        torch.save({**sgsm_state(model), "format": fmt, "config": to_dict(cfg)}, handle)
    return run


def test_load_sgsm_is_frozen_and_refuses_another_vocabulary(tmp_path):
    run = _saved_sgsm(tmp_path, ["disc", "square", "grass"])
    model = load_sgsm(run, class_names=["disc", "square", "grass"], data_format="coco-stuff")
    assert model.class_names == ["disc", "square", "grass"]
    assert not any(p.requires_grad for p in model.parameters()) and not model.training
    with pytest.raises(LococoError, match="vocabulary differs") as err:
        load_sgsm(run, class_names=["disc", "square", "sand"])
    assert "\n" not in str(err.value) and "class 2" in str(err.value)
    with pytest.raises(LococoError, match="not 'vg'"):
        load_sgsm(run, data_format="vg")
    with pytest.raises(LococoError, match="no trained SGSM"):
        load_sgsm(tmp_path / "elsewhere")


def _error(capsys, args: list[str]) -> str:
    assert main(args) in (1, 2)  # 2: a config error
    err = capsys.readouterr().err.strip()
    assert err.startswith("lococo: error: ") and "\n" not in err, err
    return err


def _pretrain(data: Path | str, out: Path, *extra: str) -> list[str]:
    return ["ocgan", "pretrain-sgsm", "--data", str(data), "--out", str(out), *TINY, *extra]


def test_bad_data_one_line_nothing_written(scenes, tmp_path, capsys):
    err = _error(capsys, _pretrain(tmp_path / "nowhere", tmp_path / "a"))
    assert "nowhere: data directory not found" in err and not (tmp_path / "a").exists()
    err = _error(capsys, _pretrain(scenes, tmp_path / "b", "data.format=cub"))
    assert "data.format" in err and not (tmp_path / "b").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    err = _error(capsys, _pretrain(empty, tmp_path / "c"))
    assert str(empty) in err and not (tmp_path / "c").exists()


def test_reused_run_directory_one_line(scenes, tmp_path, capsys):
    from lococo.config.loading import to_dict
    from lococo.engine.run_dir import RunDir

    run = tmp_path / "run"
    cfg = _quick_cfg(**{"data.path": str(scenes)})
    RunDir(run).write_config(to_dict(cfg))
    err = _error(capsys, _pretrain(scenes, run))
    assert "not empty" in err and "--resume" in err
    resume = ["ocgan", "pretrain-sgsm", "--resume", "--out", str(run), "--no-progress"]
    err = _error(capsys, [*resume, "--data", str(tmp_path / "other")])
    assert "data.path" in err and "config.yaml" in err and "another --out" in err
    err = _error(capsys, [*resume, "gcn.layers=4"])
    assert "gcn.layers: 3 -> 4" in err
    err = _error(capsys, ["ocgan", "pretrain-sgsm", "--resume", "--out", str(tmp_path / "x")])
    assert "cannot resume" in err


def test_unknown_format_option_is_refused(capsys, tmp_path):
    args = ["ocgan", "pretrain-sgsm", "--data", str(tmp_path), "--format", "pascal"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path / "r")])
    assert exc.value.code == 2 and "invalid choice: 'pascal'" in capsys.readouterr().err


@pytest.mark.slow
def test_pretrain_sgsm_writes_results_report_and_loadable_model(scenes, tmp_path):
    run = tmp_path / "tiny"
    assert main([*_pretrain(scenes, run), "trainer.max_epochs=1"]) == 0
    sgsm = json.loads((run / "results.json").read_text())["sgsm"]
    for key in ("g2i_r1", "g2i_r5", "i2g_r1", "i2g_r5"):
        assert 0.0 <= sgsm[key] <= 1.0
    assert sgsm["candidates"] == 20 and sgsm["chance_r1"] == pytest.approx(1 / 20)
    assert sgsm["image_encoder"] == "small_cnn" and sgsm["comparable"] is False
    assert sgsm["epochs"] == 1 and (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "figures" / "sgsm_attention.png").is_file()
    assert "sgsm_attention.png" in (run / "report.md").read_text()
    from lococo.data.layout import load_layout

    names = load_layout(scenes, "coco-stuff").class_names
    assert load_sgsm(run, class_names=names, data_format="coco-stuff").class_names == names
    # resuming with more epochs continues from the checkpoint
    resume = ["ocgan", "pretrain-sgsm", "--resume", "--out", str(run), "--no-progress"]
    assert main([*resume, "trainer.max_epochs=2"]) == 0
    again = json.loads((run / "results.json").read_text())["sgsm"]
    assert again["epochs"] == 2 and again["resumed_from"].endswith("last.ckpt")


@pytest.mark.slow
def test_sgsm_learns_the_pairing_and_shuffled_pairs_stay_at_chance(tmp_path):
    """Quick profile on synthetic scenes: retrieval far above chance both ways after training on
    true pairs; the same training on mismatched pairs (``sgsm.shuffle_pairs``) stays at chance."""
    data = tmp_path / "scenes"
    synth_layout(data, seed=11, images=600, image_size=64, val_fraction=0.25, progress=False)
    common = ["--profile", "quick", "--no-progress", "trainer.max_epochs=20", "eval.candidates=100"]
    results = {}
    for name, extra in (("true", []), ("shuffled", ["sgsm.shuffle_pairs=true"])):
        run = tmp_path / name
        args = ["ocgan", "pretrain-sgsm", "--data", str(data), "--out", str(run)]
        assert main([*args, *common, *extra]) == 0
        results[name] = json.loads((run / "results.json").read_text())["sgsm"]
    true, shuffled = results["true"], results["shuffled"]
    chance = true["chance_r1"]
    assert true["candidates"] == 100 and chance == pytest.approx(0.01)
    for key in ("g2i_r1", "i2g_r1"):
        assert true[key] >= 6 * chance, true
        assert shuffled[key] <= 5 * chance, shuffled  # P(Bin(100, 0.01) >= 6) < 0.001
    for key in ("g2i_r5", "i2g_r5"):
        assert true[key] >= 3 * true["chance_r5"], true
        assert shuffled[key] <= 0.12, shuffled  # chance 0.05; P(Bin(100, 0.05) >= 13) < 0.003
    assert shuffled["shuffle_pairs"] is True and true["shuffle_pairs"] is False
