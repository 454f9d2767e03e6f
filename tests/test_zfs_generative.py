"""VAE, β-VAE and AAE: pure losses, mirrored decoders, the Lightning modules, end to end."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

import lococo.zfs.pretrain as pretrain_module
from lococo.cli.main import main
from lococo.config.loading import load_config, to_dict
from lococo.data.zsl.synth import synth_zsl
from lococo.engine.run_dir import open_run
from lococo.nn.decoders import (
    ConvDecoder,
    MLPDiscriminator,
    build_decoder,
    transposed_geometry,
    transposed_out_size,
)
from lococo.nn.encoders import ENCODERS, IMAGE_SIZES, build_encoder
from lococo.zfs.config import ZFSConfig
from lococo.zfs.generative import (
    discriminator_loss,
    explained_variance,
    gaussian_kl,
    generator_loss,
    rank_normal,
    reconstruction_loss,
    reparameterize,
    vae_loss,
)
from lococo.zfs.methods import method_class
from lococo.zfs.pretrain import pretrain

GENERATIVE = ("vae", "beta_vae", "aae")
NO_TRAINER = pytest.mark.filterwarnings("ignore:.*self.trainer. reference is not registered")


# ----------------------------------------------------------------------------- pure losses


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(5, 7), torch.randn(5, 7)
    posterior = Normal(mu, (0.5 * logvar).exp())
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = kl_divergence(posterior, prior).sum(dim=1).mean()
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)
    assert gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0


def test_reconstruction_loss_is_summed_per_image_and_averaged_over_the_batch():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 5, 6) * 2 - 1
    assert reconstruction_loss(x + 0.5, x).item() == pytest.approx(0.25 * 3 * 5 * 6)
    recon = torch.randn_like(x)
    expected = F.mse_loss(recon, x, reduction="sum") / x.shape[0]
    torch.testing.assert_close(reconstruction_loss(recon, x), expected)
    with pytest.raises(ValueError, match="shape"):
        reconstruction_loss(recon[:, :, :4], x)


def test_vae_loss_terms_weight_the_kl_by_beta():
    torch.manual_seed(0)
    x, recon = torch.randn(3, 3, 4, 4), torch.randn(3, 3, 4, 4)
    mu, logvar = torch.randn(3, 8), torch.randn(3, 8)
    terms = vae_loss(recon, x, mu, logvar, beta=4.0)
    assert set(terms) == {"recon", "kl"}
    torch.testing.assert_close(terms["recon"], reconstruction_loss(recon, x))
    torch.testing.assert_close(terms["kl"], 4.0 * gaussian_kl(mu, logvar))


def test_reparameterize_has_the_posterior_moments_and_passes_gradients():
    mu = torch.tensor([1.5, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(0.25)], requires_grad=True)
    noise = torch.tensor([[1.0, -2.0]])
    torch.testing.assert_close(reparameterize(mu, logvar, noise), torch.tensor([[2.5, -3.0]]))
    torch.manual_seed(0)
    z = reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2))
    torch.testing.assert_close(z.mean(0), mu.detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.5]), atol=0.01, rtol=0)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_rank_normal_gives_each_process_its_own_slice_of_one_draw():
    like = torch.zeros(3, 4)
    torch.manual_seed(5)
    single = rank_normal(like)
    torch.manual_seed(5)
    assert torch.equal(single, torch.randn(3, 4))
    slices = []
    for rank in range(2):
        torch.manual_seed(5)  # processes seeded alike
        slices.append(rank_normal(like, rank=rank, world_size=2))
    torch.manual_seed(5)
    assert torch.equal(torch.cat(slices), torch.randn(6, 4))
    assert not torch.equal(slices[0], slices[1])


def test_explained_variance_is_zero_for_the_mean_image_and_one_for_a_copy():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 4, 4)
    assert explained_variance(x.clone(), x).item() == pytest.approx(1.0)
    mean = x.mean(0, keepdim=True).expand_as(x)
    assert explained_variance(mean, x).item() == pytest.approx(0.0, abs=1e-6)
    assert explained_variance(mean + 1.0, x).item() < 0


def test_adversarial_losses_known_values():
    zeros = torch.zeros(4)
    assert discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert generator_loss(zeros).item() == pytest.approx(math.log(2))
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    expected_d = -sig(real).log().mean() - (1 - sig(fake)).log().mean()
    assert discriminator_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-6)
    assert generator_loss(fake).item() == pytest.approx(-sig(fake).log().mean().item(), rel=1e-6)
    confident = discriminator_loss(torch.full((3,), 30.0), torch.full((3,), -30.0))
    assert confident.item() < 1e-10


def test_generator_loss_does_not_saturate_when_the_discriminator_wins():
    fake = torch.tensor([-10.0], requires_grad=True)
    generator_loss(fake).backward()
    assert fake.grad.item() == pytest.approx(-1.0, abs=1e-4)  # saturating form: ~ -4.5e-5


# ----------------------------------------------------------------------------- decoders


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_transposed_geometry_hits_every_target_size(stride):
    kernel = 2 * stride if stride > 1 else 3
    for in_size in range(1, 16):
        # every side that a stride-`stride` conv or pool can have reduced to `in_size`
        targets = range(stride * (in_size - 1) + 1, stride * (in_size + 1) + 1)
        for out_size in targets if stride > 1 else [in_size]:
            padding, output_padding = transposed_geometry(in_size, out_size, kernel, stride)
            assert 0 <= output_padding < stride and 0 <= padding < kernel
            layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding)
            out = layer(torch.zeros(1, 1, in_size, in_size))
            assert out.shape[-1] == out_size
            assert transposed_out_size(in_size, kernel, stride, padding, output_padding) == out_size
    with pytest.raises(ValueError, match="no transposed conv"):
        transposed_geometry(2, 40, kernel, stride)


def _stage_outputs(decoder: ConvDecoder, z: torch.Tensor) -> list[torch.Size]:
    x = decoder.linears(z).view(z.shape[0], *decoder.map_shape)
    shapes = [x.shape[1:]]
    for stage in decoder.stages:
        x = stage(x)
        shapes.append(x.shape[1:])
    return shapes


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("image_size", IMAGE_SIZES)
def test_decoder_mirrors_every_encoder(name, image_size):
    torch.manual_seed(0)
    encoder = build_encoder(name, image_size, width=0.25, global_dim=64)
    decoder = build_decoder(encoder, latent_dim=16).eval()
    z = torch.randn(2, 16)
    shapes = _stage_outputs(decoder, z)
    side = encoder.input_size
    expected = [*encoder.stage_shapes[::-1], (3, side, side)]
    assert [tuple(s) for s in shapes] == [tuple(s) for s in expected]
    image = decoder(z)
    assert image.shape == (2, 3, side, side)
    assert image.abs().max() <= 1.0
    linears = [m for m in decoder.linears.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == len(encoder.hidden) + 1  # the encoder's linears in reverse


def test_discriminator_scores_each_code_independently():
    torch.manual_seed(0)
    disc = MLPDiscriminator(8)
    z = torch.randn(5, 8)
    logits = disc(z)
    assert logits.shape == (5,)
    torch.testing.assert_close(disc(z[2:3]), logits[2:3])


# ----------------------------------------------------------------------------- modules


def _config(method: str, **overrides) -> dict:
    values = {
        "method.name": method,
        "data.image_size": 32,
        "encoder.width": 0.25,
        "encoder.global_dim": 64,
        "method.latent_dim": 16,
        **overrides,
    }
    return to_dict(load_config(ZFSConfig, overrides=values))


def _module(method: str, **overrides):
    torch.manual_seed(0)
    return method_class(method)(_config(method, **overrides), torch.rand(4, 6))


def _batch(n: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    images = torch.rand(n, 3, 28, 28) * 2 - 1
    return images, torch.arange(n) % 4, torch.arange(n)


@NO_TRAINER
def test_vae_heads_sit_on_the_global_output_and_train_the_encoder():
    module = _module("vae")
    images, targets, idx = _batch()
    features = module.encoder(images)
    mu, logvar = module.posterior(features.global_)
    assert mu.shape == logvar.shape == (4, 16)
    assert module.mu_head.in_features == module.encoder.global_dim
    terms = module.method_losses(features, (images, targets, idx))
    assert set(terms) == {"recon", "kl"}
    torch.testing.assert_close(terms["kl"], gaussian_kl(mu, logvar))
    sum(terms.values()).backward()
    first_conv = module.encoder.stages[0].conv.weight
    for param in (first_conv, module.mu_head.weight, module.logvar_head.weight):
        assert param.grad is not None and param.grad.abs().sum() > 0


@NO_TRAINER
def test_kl_weight_is_one_for_vae_and_beta_for_beta_vae():
    assert _module("vae", **{"method.beta": 7.0}).kl_weight == 1.0
    beta = _module("beta_vae", **{"method.beta": 7.0})
    assert beta.kl_weight == 7.0
    images, targets, idx = _batch()
    features = beta.encoder(images)
    mu, logvar = beta.posterior(features.global_)
    terms = beta.method_losses(features, (images, targets, idx))
    torch.testing.assert_close(terms["kl"], 7.0 * gaussian_kl(mu, logvar))


def _grads(module: nn.Module, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    module.zero_grad()
    loss.backward(retain_graph=True)
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def test_aae_summed_loss_gives_each_player_only_its_own_gradient():
    module = _module("aae", **{"method.local_loss": "lc"})
    images, targets, _ = _batch()
    torch.manual_seed(1)
    terms, d_loss, stats = module.losses(images, targets)
    assert set(stats) == {"code_std", "disc_acc_prior", "disc_acc_code"}
    ae_loss = sum(terms.values())
    assert set(terms) == {"recon", "adversarial", "local_lc"}
    both, ae_only, d_only = (_grads(module, x) for x in (ae_loss + d_loss, ae_loss, d_loss))
    disc = {n for n, _ in module.named_parameters() if n.startswith("discriminator.")}
    assert disc and set(d_only) == disc  # the discriminator's loss reaches only itself
    assert not disc & set(ae_only)  # the generator term leaves the discriminator alone
    assert set(both) == {n for n, _ in module.named_parameters()}  # one backward reaches all
    for name, grad in both.items():
        torch.testing.assert_close(grad, (d_only if name in disc else ae_only)[name])


def test_aae_training_step_drives_codes_to_the_prior():
    """``AAEMethod.training_step`` itself, run by a Lightning Trainer: codes that start far
    narrower than the prior ``N(0, I)`` end with about unit spread while the discriminator
    keeps playing. Measured (seed 0): code std 0.04 in the first epoch, within 0.7-1.3 after
    10 epochs of 8 batches; discriminator loss 0.57 (``2 log 2`` = 1.39 at chance)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only add overhead
    try:
        _aae_toward_prior()
    finally:
        torch.set_num_threads(threads)


class _CodeLog(L.Callback):
    """Per epoch: the codes' mean per-dimension std and the discriminator's loss."""

    def __init__(self) -> None:
        self.stds: list[float] = []
        self.d_losses: list[float] = []

    def on_train_epoch_end(self, trainer, module) -> None:
        metrics = trainer.callback_metrics
        self.d_losses.append(float(metrics["train/discriminator"]))
        self.stds.append(float(metrics["train/code_std"]))


def _aae_toward_prior() -> None:
    # the adversarial term outweighs the summed pixel error, so the game decides the codes
    overrides = {"method.latent_dim": 4, "optim.lr": 2e-3, "method.adversarial_weight": 1000.0}
    module = _module("aae", **overrides)
    with torch.no_grad():
        module.code_head.weight.mul_(0.1)  # start with codes far narrower than the prior
        module.code_head.bias.zero_()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(256, 3, 28, 28, generator=g) * 2 - 1
    targets = torch.randint(0, 4, (256,), generator=g)
    data = torch.utils.data.TensorDataset(images, targets, torch.arange(256))
    log = _CodeLog()
    trainer = L.Trainer(
        max_epochs=10,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[log],
    )
    trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=32, shuffle=True))
    assert log.stds[0] < 0.5, log.stds
    late = log.stds[-3:]
    assert 0.7 < sum(late) / len(late) < 1.3, log.stds
    # the discriminator still plays (0 would mean it separates codes from the prior outright)
    assert sum(log.d_losses[-3:]) / 3 > 0.25, log.d_losses


def test_aae_optimisers_split_the_parameters():
    module = _module("aae", **{"optim.scheduler": "cosine"})
    trainer = L.Trainer(max_epochs=3, logger=False, enable_progress_bar=False)
    module.trainer = trainer
    optimizers, schedulers = module.configure_optimizers()
    ae, disc = ({id(p) for g in o.param_groups for p in g["params"]} for o in optimizers)
    assert disc == {id(p) for p in module.discriminator.parameters()}
    assert ae.isdisjoint(disc) and ae | disc == {id(p) for p in module.parameters()}
    assert len(schedulers) == 2


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zsl32")
    synth_zsl(root, seed=2, classes=12, unseen=3, images_per_class=8, image_size=32, progress=False)
    return root


QUICK = ["--profile", "quick", "--no-progress"]
TINY = [*QUICK, "--evaluate", "data.image_size=32", "data.batch_size=16"]


def _epoch_metrics(run: Path) -> list[dict[str, float]]:
    """Per-epoch train metrics from the CSV log (rows holding ``train/loss_epoch``)."""
    with open(run / "logs" / "csv" / "metrics.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train/loss_epoch")]
    return [{k: float(v) for k, v in r.items() if v} for r in rows]


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("vae", ["--encoder", "alexnet", "--local-loss", "ac"]),
        ("beta_vae", []),
        ("aae", ["--local-loss", "lc"]),
    ],
)
def test_method_trains_end_to_end(tiny_data, tmp_path, method, extra):
    run = tmp_path / method
    args = ["zfs", "pretrain", "--data", str(tiny_data), "--method", method, "--out", str(run)]
    assert main([*args, *extra, *TINY, "trainer.max_epochs=2", "zsl.epochs=5"]) == 0
    results = json.loads((run / "results.json").read_text())
    pretrained = results["pretrain"]
    assert pretrained["method"] == method and pretrained["epochs"] == 2
    batches = pretrained["train_images"] // 16  # drop_last
    assert pretrained["steps"] == 2 * batches * (2 if method == "aae" else 1)
    assert 0.0 <= results["zsl"]["top1"] <= 1.0
    epochs = _epoch_metrics(run)
    assert len(epochs) == 2
    assert all(math.isfinite(v) for row in epochs for v in row.values())
    assert epochs[1]["train/recon"] < epochs[0]["train/recon"], epochs
    metrics = pretrained["metrics"]
    assert math.isfinite(metrics["val/recon"]) and metrics["val/recon"] > 0
    if method == "aae":
        assert "train/discriminator" in metrics and "train/local_lc" in metrics


class _Crash(L.Callback):
    """Dies at the start of epoch ``epoch`` (after the previous epoch's checkpoint)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


def test_aae_resumes_to_the_same_weights_and_optimiser_state(tiny_data, tmp_path, monkeypatch):
    cfg = load_config(
        ZFSConfig,
        system="zfs",
        profile="quick",
        overrides={
            "data.path": str(tiny_data),
            "data.image_size": 32,
            "data.batch_size": 16,
            "method.name": "aae",
            "trainer.max_epochs": 2,
            "optim.scheduler": "cosine",
            "checkpoint_interval_s": 0,  # a checkpoint after every epoch
        },
    )
    pretrain(cfg, open_run(tmp_path / "full", resume=False), progress=False)

    build = pretrain_module.build_trainer
    monkeypatch.setattr(
        pretrain_module,
        "build_trainer",
        lambda run, c, **kwargs: build(run, c, callbacks=[_Crash(1)], **kwargs),
    )
    crashed = open_run(tmp_path / "crashed", resume=False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        pretrain(cfg, crashed, progress=False)
    monkeypatch.setattr(pretrain_module, "build_trainer", build)
    resumed_run = open_run(crashed.path, resume=True)
    assert pretrain(cfg, resumed_run, resume=True, progress=False)["resumed_from"]

    full, resumed = (
        torch.load(p / "checkpoints" / "last.ckpt") for p in (tmp_path / "full", crashed.path)
    )
    for key, value in full["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    assert len(full["optimizer_states"]) == 2
    for a, b in zip(full["optimizer_states"], resumed["optimizer_states"], strict=True):
        for pid, state in a["state"].items():
            assert torch.equal(state["exp_avg"], b["state"][pid]["exp_avg"])
    lrs = [s["_last_lr"] for s in full["lr_schedulers"]]
    assert lrs == [s["_last_lr"] for s in resumed["lr_schedulers"]]
    assert lrs[0][0] == pytest.approx(0.0, abs=1e-12)  # cosine stepped once per epoch: 2 of 2


def test_aae_trains_under_two_process_ddp(tiny_data, tmp_path):
    """One backward per batch: the plain ``ddp`` strategy reduces every gradient (a second
    backward that leaves parameters without gradients would fail without
    ``find_unused_parameters``)."""
    run = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    args = ["zfs", "pretrain", "--data", str(tiny_data), "--method", "aae", "--out", str(run)]
    ddp = ["trainer.devices=2", "trainer.strategy=ddp", "trainer.max_epochs=2"]
    small = ["data.image_size=32", "data.batch_size=8"]
    proc = subprocess.run(
        [sys.executable, "-m", "lococo", *args, "--local-loss", "lc", *QUICK, *small, *ddp],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pretrained = json.loads((run / "results.json").read_text())["pretrain"]
    per_process = -(-pretrained["train_images"] // 2)
    assert pretrained["steps"] == 2 * 2 * (per_process // 8)  # 2 epochs, 2 optimisers
    assert math.isfinite(pretrained["metrics"]["train/loss"])


# ----------------------------------------------------------------------------- slow


@pytest.fixture(scope="module")
def zsl64(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zsl64")
    synth_zsl(
        root, seed=3, classes=40, unseen=8, images_per_class=16, image_size=64, progress=False
    )
    return root


@pytest.mark.slow
@pytest.mark.parametrize("method", GENERATIVE)
def test_encoder_beats_chance_on_unseen_classes(zsl64, tmp_path, method):
    """Mean unseen top-1 over seeds 0-2 (one run's 128 unseen test images leave ~±0.03 of
    noise, and these methods sit only a few points above chance at this budget)."""
    top1 = []
    for seed in range(3):
        run = tmp_path / f"{method}{seed}"
        args = ["zfs", "pretrain", "--data", str(zsl64), "--method", method, "--out", str(run)]
        fast = [*QUICK, "--evaluate", "data.batch_size=32", "zsl.epochs=30"]
        assert main([*args, *fast, "trainer.max_epochs=10", f"seed={seed}"]) == 0
        zsl = json.loads((run / "results.json").read_text())["zsl"]
        top1.append(zsl["top1"])
    assert sum(top1) / len(top1) > zsl["chance"], top1
