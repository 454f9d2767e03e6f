"""OC-GAN training step: lococo's Lightning module vs a bare PyTorch loop, and sampling speed.

    python benchmarks/ocgan_step.py [--data DIR] [--images 300] [--profile quick|paper]
        [--steps 30] [--threads 1] [key=value ...]

Without ``--data`` it writes ``--images`` synthetic scenes (32 px, class colours) to a
temporary folder. Both sides train the same generator and discriminators from the same
initial weights on the same pre-loaded batches (``model.sgsm=false`` unless overridden: no
SGSM run is needed; the perceptual loss on the profile's network): one discriminator step then
one generator step per batch with Adam. The Lightning side is
:class:`lococo.ocgan.gan_train.OCGANModule` under :func:`lococo.engine.trainer.build_trainer`
(TensorBoard + CSV loggers, checkpoint, RNG, NaN-guard callbacks: what ``lococo ocgan train``
runs); the bare side is a plain loop over the same loss functions. It prints training
images/s of each and their ratio (target ≥ 0.9), then sampling images/s (generator in eval
mode, batches of 64). On a GPU (``trainer.accelerator=gpu``) both run there.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from lococo.config.loading import load_config, to_dict
from lococo.data.layout.synth import synth_layout
from lococo.engine.run_dir import RunDir
from lococo.engine.trainer import build_trainer
from lococo.ocgan.gan_config import GANRunConfig
from lococo.ocgan.gan_losses import perceptual_l1
from lococo.ocgan.gan_train import (
    OCGANModule,
    discriminator_loss,
    fixed_noise,
    generate,
    generator_adversarial_loss,
    layout_dataset,
    load_layout_data,
    load_perceptual,
)


class StepTimer(L.Callback):
    """Wall-clock of the training batches after the first (warm-up) one."""

    def __init__(self) -> None:
        self.start = 0.0
        self.images = 0
        self.end = 0.0

    def on_train_batch_start(self, trainer, module, batch, idx) -> None:  # type: ignore[no-untyped-def]
        if idx == 1:
            self.start, self.images = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, module, outputs, batch, idx) -> None:  # type: ignore[no-untyped-def]
        if idx >= 1:
            self.images += batch["image"].shape[0]
            self.end = time.perf_counter()


def bare_loop(module: OCGANModule, batches: list[dict], cfg: GANRunConfig, device) -> float:
    """Images/s of the same steps written as a plain PyTorch loop."""
    gen, disc = module.generator.to(device), module.discriminator.to(device)
    o = cfg.optim
    opt_g = torch.optim.Adam(gen.parameters(), lr=o.lr_g, betas=(o.beta1, o.beta2))
    opt_d = torch.optim.Adam(disc.parameters(), lr=o.lr_d, betas=(o.beta1, o.beta2))
    perceptual = module._frozen.get("perceptual")
    if perceptual is not None:
        perceptual.to(device)
    lw = cfg.loss
    seen, start = 0, 0.0
    for i, batch in enumerate(batches):
        if i == 1:
            start, seen = time.perf_counter(), 0
        real, boxes = batch["image"].to(device), batch["boxes"].to(device)
        labels, valid = batch["labels"].to(device), batch["valid"].to(device)
        z = torch.randn(real.shape[0], cfg.model.z_dim, device=device)
        fake = gen(z, boxes, labels, valid).images
        d = discriminator_loss(
            disc(real, boxes, labels, valid), disc(fake.detach(), boxes, labels, valid), lw.lambda_o
        )["d_total"]
        opt_d.zero_grad(set_to_none=True)
        d.backward()
        opt_d.step()
        disc.requires_grad_(False)
        g = generator_adversarial_loss(disc(fake, boxes, labels, valid), lw.lambda_ac)["g_adv"]
        if perceptual is not None:
            with torch.no_grad():
                feats_real = perceptual(real)
            g = g + lw.lambda_perceptual * perceptual_l1(perceptual(fake), feats_real)
        opt_g.zero_grad(set_to_none=True)
        g.backward()
        opt_g.step()
        disc.requires_grad_(True)
        seen += real.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="dataset root (default: synthetic scenes)")
    parser.add_argument("--images", type=int, default=300, help="synthetic scenes to write")
    parser.add_argument("--profile", default="quick", choices=("quick", "paper"))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            root = Path(tmp) / "scenes"
            synth_layout(
                root, seed=0, images=args.images, image_size=32, progress=False, class_colours=True
            )
        overrides = {"data.path": str(root), "model.sgsm": False, "checkpoint_interval_s": 1e9}
        overrides.update(o.split("=", 1) for o in args.overrides)  # type: ignore[misc]
        cfg = load_config(GANRunConfig, system="ocgan", profile=args.profile, overrides=overrides)
        data = load_layout_data(cfg)
        dataset = layout_dataset(data, cfg.data.train_split, cfg, train=False, progress=False)
        loader = DataLoader(dataset, batch_size=cfg.data.batch_size, shuffle=False, drop_last=True)
        batches: list[dict] = []
        while len(batches) < args.steps + 1:
            batches.extend(loader)
        batches = batches[: args.steps + 1]
        torch.manual_seed(0)
        module = OCGANModule(to_dict(cfg), data.class_names, dataset.max_objects)
        module.attach(perceptual=load_perceptual(cfg))
        bare_module = copy.deepcopy(module)
        bare_module.attach(perceptual=module._frozen.get("perceptual"))
        timer = StepTimer()
        trainer_cfg = {**cfg.trainer, "max_epochs": 1, "max_steps": 2 * len(batches)}
        trainer = build_trainer(
            RunDir(Path(tmp) / "run"), trainer_cfg, callbacks=[timer], progress=False
        )
        trainer.fit(module, DataLoader(batches, batch_size=None))  # the same batches, in order
        lightning_rate = timer.images / (timer.end - timer.start)
        device = module.device
        bare_rate = bare_loop(bare_module, batches, cfg, device)
        gen = module.generator.eval()
        noise = fixed_noise(
            64, dataset.max_objects, cfg.model.z_dim, cfg.model.obj_z_dim, cfg.sample.seed
        )
        layout = {
            "boxes": dataset.boxes[:64],
            "labels": dataset.labels[:64],
            "valid": dataset.valid[:64],
            **{k: v[: len(dataset.boxes[:64])] for k, v in noise.items()},
        }
        generate(gen, layout)
        start, rounds = time.perf_counter(), 5
        for _ in range(rounds):
            generate(gen, layout)
        if device.type == "cuda":
            torch.cuda.synchronize()
        sampling = rounds * len(layout["boxes"]) / (time.perf_counter() - start)
        print(
            f"{args.profile} profile, {cfg.model.image_size} px, batch {cfg.data.batch_size}, "
            f"G/D channels {cfg.model.g_channels}/{cfg.model.d_channels}, {args.threads} "
            f"thread(s), {device}"
        )
        print(f"training, Lightning module: {lightning_rate:8.1f} images/s")
        print(f"training, bare loop:        {bare_rate:8.1f} images/s")
        print(f"ratio Lightning / bare:     {lightning_rate / bare_rate:8.3f} (target >= 0.9)")
        print(f"sampling:                   {sampling:8.1f} images/s")


if __name__ == "__main__":
    main()
