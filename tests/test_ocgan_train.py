"""OC-GAN training (lococo.ocgan.gan_train): loss composition, D learning on a fixed batch,
bit-exact resume, refusals (SGSM of another vocabulary, changed settings), sample grids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lococo.config.loading import load_config, to_dict
from lococo.data.layout.synth import synth_layout
from lococo.engine.run_dir import RunDir, open_run
from lococo.errors import ConfigError, LococoError
from lococo.ocgan.discriminators import DiscriminatorOutput
from lococo.ocgan.gan_config import GANRunConfig
from lococo.ocgan.gan_train import (
    OCGANModule,
    discriminator_loss,
    generator_adversarial_loss,
    layout_dataset,
    load_layout_data,
    resume_config,
    train_gan,
)

#: A tiny model: runs in seconds on one core.
TINY = {
    "model.g_channels": 8,
    "model.d_channels": 8,
    "model.z_dim": 16,
    "model.obj_z_dim": 8,
    "model.embed_dim": 16,
    "data.batch_size": 8,
    "checkpoint_interval_s": 0,
    "model.sgsm": False,
    "sample.scenes": 4,
}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ocgan_scenes") / "coco"
    synth_layout(root, seed=0, images=26, image_size=32, progress=False, class_colours=True)
    return root


def tiny_config(scenes: Path, **overrides) -> GANRunConfig:
    return load_config(
        GANRunConfig,
        system="ocgan",
        profile="quick",
        overrides={**TINY, "data.path": str(scenes), **overrides},
    )


def test_loss_composition_matches_eq_6_3_7_to_6_3_10():
    torch.manual_seed(0)
    real = DiscriminatorOutput(
        [torch.randn(2, 1, 4, 4), torch.randn(2, 1, 2, 2)],
        torch.randn(5),
        torch.randn(5, 3),
        torch.tensor([0, 1, 2, 1, 0]),
    )
    fake = DiscriminatorOutput(
        [torch.randn(2, 1, 4, 4), torch.randn(2, 1, 2, 2)],
        torch.randn(5),
        torch.randn(5, 3),
        torch.tensor([0, 1, 2, 1, 0]),
    )
    hinge = lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 + f).mean()  # noqa: E731
    patch = sum(hinge(r, f) for r, f in zip(real.patch, fake.patch, strict=True))
    ce = torch.nn.functional.cross_entropy(real.obj_logits, real.obj_labels)
    expected = patch + 0.5 * (hinge(real.obj_score, fake.obj_score) + ce)
    assert torch.allclose(discriminator_loss(real, fake, 0.5)["d_total"], expected)
    g = generator_adversarial_loss(fake, 2.0)
    ce_fake = torch.nn.functional.cross_entropy(fake.obj_logits, fake.obj_labels)
    expected_g = -sum(f.mean() for f in fake.patch) + 2.0 * (-fake.obj_score.mean() + ce_fake)
    assert torch.allclose(g["g_adv"], expected_g)
    # without object discriminator the AC terms disappear; without patch D the hinge does
    no_obj = DiscriminatorOutput(fake.patch, None, None, None)
    assert set(generator_adversarial_loss(no_obj, 1.0)) == {"g_patch", "g_adv"}
    no_patch = DiscriminatorOutput([], fake.obj_score, fake.obj_logits, fake.obj_labels)
    assert float(generator_adversarial_loss(no_patch, 1.0)["g_patch"]) == 0.0


def test_discriminator_steps_lower_its_hinge_loss_on_a_fixed_batch(scenes):
    cfg = tiny_config(scenes, **{"model.perceptual": False})
    torch.manual_seed(0)
    data = load_layout_data(cfg)
    dataset = layout_dataset(data, "train", cfg, train=False, progress=False)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(8)])
    module = OCGANModule(to_dict(cfg), data.class_names, dataset.max_objects)
    layout = (batch["boxes"], batch["labels"], batch["valid"])
    with torch.no_grad():
        fake = module.generator(torch.randn(8, cfg.model.z_dim), *layout).images
    disc = module.discriminator
    opt = torch.optim.Adam(disc.parameters(), lr=1e-3, betas=(0.5, 0.999))

    def loss() -> torch.Tensor:
        return discriminator_loss(disc(batch["image"], *layout), disc(fake, *layout), 1.0)[
            "d_total"
        ]

    with torch.no_grad():
        before = float(loss())
    for _ in range(15):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.8 * before, (before, after)


def _train(scenes: Path, out: Path, resume: bool = False, **overrides) -> dict:
    cfg = tiny_config(scenes, **overrides)
    return train_gan(cfg, open_run(out, resume=resume), resume=resume, progress=False)


def test_resumed_training_equals_uninterrupted_training_bit_for_bit(scenes, tmp_path):
    full = _train(scenes, tmp_path / "full", **{"trainer.max_epochs": 2})
    _train(scenes, tmp_path / "cut", **{"trainer.max_epochs": 1})
    run = RunDir(tmp_path / "cut")
    cfg = resume_config(run, {"trainer.max_epochs": 2})
    resumed = train_gan(cfg, run, resume=True, progress=False)
    assert resumed["resumed_from"] and resumed["iterations"] == full["iterations"] > 0
    a = torch.load(tmp_path / "full" / "generator.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "cut" / "generator.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ca = torch.load(tmp_path / "full" / "checkpoints" / "last.ckpt", weights_only=True)
    cb = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=True)
    for key in ca["state_dict"]:  # the discriminators too
        assert torch.equal(ca["state_dict"][key], cb["state_dict"][key]), key
    for oa, ob in zip(ca["optimizer_states"], cb["optimizer_states"], strict=True):
        for sa, sb in zip(oa["state"].values(), ob["state"].values(), strict=True):
            assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    # the fixed-noise sample grid was drawn at the end
    assert any(
        p.name.startswith("train_samples_") for p in (tmp_path / "cut" / "figures").iterdir()
    )
    # a resumed run refuses a changed setting, naming it
    with pytest.raises(ConfigError, match=r"optim\.lr_g"):
        resume_config(run, {"optim.lr_g": 0.5})
    # resuming a finished run returns its results
    again = train_gan(resume_config(run, {}), run, resume=True, progress=False)
    assert again["already_finished"]


def test_sgsm_of_another_vocabulary_is_refused_before_anything_is_written(scenes, tmp_path):
    from lococo.ocgan.config import SGSMRunConfig
    from lococo.ocgan.sgsm import SGSM, build_image_encoder, sgsm_state

    sgsm_cfg = load_config(SGSMRunConfig, system="sgsm", profile="quick")
    names = ["cat", "dog", "sky-other"]
    model = SGSM(sgsm_cfg, names, build_image_encoder(sgsm_cfg, weights_required=False))
    (tmp_path / "sgsm").mkdir()
    torch.save(
        {**sgsm_state(model), "format": "coco-stuff", "config": to_dict(sgsm_cfg)},
        tmp_path / "sgsm" / "sgsm.pt",
    )
    out = tmp_path / "gan"
    cfg = tiny_config(scenes, **{"model.sgsm": True, "sgsm_run": str(tmp_path / "sgsm")})
    with pytest.raises(LococoError, match="vocabulary differs") as err:
        train_gan(cfg, open_run(out, resume=False), progress=False)
    assert "\n" not in str(err.value)
    assert not out.exists()


def test_config_rules_are_one_line_errors(scenes):
    with pytest.raises(ConfigError, match=r"data\.image_size"):
        train_gan(
            tiny_config(scenes, **{"data.image_size": 64}), RunDir(Path("unused")), progress=False
        )
    with pytest.raises(ConfigError, match="--sgsm"):
        from lococo.ocgan.gan_config import check_gan_config

        check_gan_config(tiny_config(scenes, **{"model.sgsm": True}))


def test_training_run_writes_results_and_a_report(scenes, tmp_path):
    from lococo.report import render_report

    result = _train(scenes, tmp_path / "run", **{"trainer.max_epochs": 1})
    saved = json.loads((tmp_path / "run" / "results.json").read_text())["ocgan_train"]
    assert saved["iterations"] == result["iterations"] == 2  # 18 scenes, batch 8, drop_last
    assert saved["switches"]["boundaries"] and saved["comparable"] is False  # substitute VGG
    html, _ = render_report(tmp_path / "run")
    assert "OC-GAN training" in html.read_text()
