"""OC-GAN training on the engine (thesis 6.3.3–6.4.2): two optimisers, manual steps.

Per batch: one discriminator step on ``L_D = L_{D^p} + λo L_{D_obj}^AC`` (eq. 6.3.8, 6.3.10),
then one generator step on ``L_G = L_G^GAN + λP L_P + λSGSM L_SGSM + λAC L_G^AC`` (eq. 6.3.7,
6.3.9), both from the same generated batch (the discriminator sees it detached). The AC-GAN
terms: the object discriminator's real/fake hinge on crops of real and generated objects plus
its classification cross-entropy on *real* crops (its share of ``L_{D_obj}^AC``); the
generator's ``L_G^AC`` is the hinge on its crops' scores plus the cross-entropy of their
predicted classes. ``L_SGSM`` is the frozen SGSM's matching loss (eq. 6.3.6) of the generated
images against their layouts' scene graphs; ``L_P`` the perceptual L1 between VGG features of
real and generated images (the generated image is paired with the real image of its layout).

Exact ``--resume``: the checkpoint holds G, D, both optimisers, every RNG (the noise comes from
the global RNG, the SGSM's random scene graphs from a generator seeded with the step), so on the
CPU a resumed run ends bit for bit where an uninterrupted one does. Frozen helpers (the SGSM,
the perceptual network) are kept out of the checkpoint. Under DDP BatchNorm becomes
SyncBatchNorm (``trainer.sync_batchnorm``, on by default with a ``ddp`` strategy).

Outputs: ``generator.pt`` (generator weights, config, vocabulary: what ``sample``,
``evaluate`` and ``donut`` load), ``results.json`` → ``ocgan_train`` and fixed-noise sample
grids of held-out layouts with the boxes drawn over them (``figures/train_samples_*.png``, also
in TensorBoard).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from lococo.config.loading import apply_overrides, flatten, from_dict, read_yaml, to_dict
from lococo.config.validation import refuse_changes
from lococo.data.layout.types import LayoutData
from lococo.engine.run_dir import RunDir, is_rank_zero, run_metadata
from lococo.engine.trainer import build_trainer
from lococo.engine.weights import load_weights
from lococo.errors import ConfigError, DataError, LococoError
from lococo.io import atomic_open
from lococo.ocgan.discriminators import DiscriminatorOutput
from lococo.ocgan.gan_config import GANRunConfig, check_gan_config
from lococo.ocgan.gan_losses import ac_loss, d_hinge_loss, g_hinge_loss, perceptual_l1
from lococo.ocgan.gan_model import build_discriminator, build_generator, validate_model_config

GENERATOR_FILE = "generator.pt"
TRAIN_SECTION = "ocgan_train"
SAMPLES_FIGURE = "train_samples"
SGSM_GRAPH_SEED = 1_000_003


# --------------------------------------------------------------------------- losses


def discriminator_loss(
    real: DiscriminatorOutput, fake: DiscriminatorOutput, lambda_o: float
) -> dict[str, Tensor]:
    """``L_D`` (eq. 6.3.8 + 6.3.10): hinge per patch discriminator, summed; the object
    discriminator's hinge on real/fake crop scores plus its cross-entropy on real crops."""
    terms: dict[str, Tensor] = {}
    zero = (real.patch[0] if real.patch else real.obj_score).new_zeros(())  # type: ignore[union-attr]
    patch = zero
    for r, f in zip(real.patch, fake.patch, strict=True):
        patch = patch + d_hinge_loss(r, f)
    terms["d_patch"] = patch
    total = patch
    if real.obj_score is not None and fake.obj_score is not None:
        terms["d_obj"] = d_hinge_loss(real.obj_score, fake.obj_score)
        terms["d_ac"] = ac_loss(real.obj_logits, real.obj_labels)  # type: ignore[arg-type]
        total = total + lambda_o * (terms["d_obj"] + terms["d_ac"])
    terms["d_total"] = total
    return terms


def generator_adversarial_loss(fake: DiscriminatorOutput, lambda_ac: float) -> dict[str, Tensor]:
    """``L_G^GAN`` (eq. 6.3.7) summed over the patch discriminators and ``λAC L_G^AC``."""
    zero = (fake.patch[0] if fake.patch else fake.obj_score).new_zeros(())  # type: ignore[union-attr]
    adv = zero
    for f in fake.patch:
        adv = adv + g_hinge_loss(f)
    terms = {"g_patch": adv}
    total = adv
    if fake.obj_score is not None:
        terms["g_obj"] = g_hinge_loss(fake.obj_score)
        terms["g_ac"] = ac_loss(fake.obj_logits, fake.obj_labels)  # type: ignore[arg-type]
        total = total + lambda_ac * (terms["g_obj"] + terms["g_ac"])
    terms["g_adv"] = total
    return terms


# --------------------------------------------------------------------------- module


class OCGANModule(L.LightningModule):
    """G and D of one run; ``attach`` hands it the frozen SGSM / perceptual network."""

    def __init__(self, config: dict[str, Any], class_names: list[str], max_objects: int) -> None:
        super().__init__()
        self.save_hyperparameters(
            {"config": config, "class_names": list(class_names), "max_objects": max_objects}
        )
        self.automatic_optimization = False
        self.cfg = from_dict(GANRunConfig, config, "config")
        self.class_names = list(class_names)
        self.max_objects = int(max_objects)
        self.generator = build_generator(self.cfg.model, len(class_names))
        self.discriminator = build_discriminator(self.cfg.model, len(class_names))
        self._frozen: dict[str, nn.Module] = {}  # not submodules: kept out of checkpoints
        self._samples: dict[str, Tensor] | None = None
        self._sample_dir: Path | None = None
        self.iterations = 0

    def attach(
        self,
        *,
        sgsm: nn.Module | None = None,
        perceptual: nn.Module | None = None,
        samples: dict[str, Tensor] | None = None,
        sample_dir: Path | None = None,
    ) -> None:
        if sgsm is not None:
            self._frozen["sgsm"] = sgsm.eval().requires_grad_(False)
        if perceptual is not None:
            self._frozen["perceptual"] = perceptual.eval().requires_grad_(False)
        self._samples, self._sample_dir = samples, sample_dir

    def on_fit_start(self) -> None:
        for module in self._frozen.values():
            module.to(self.device)

    def _sgsm_generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.cfg.seed * SGSM_GRAPH_SEED + self.global_step)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        opt_g, opt_d = self.optimizers()  # type: ignore[misc]
        cfg, lw = self.cfg, self.cfg.loss
        real, boxes, labels, valid = batch["image"], batch["boxes"], batch["labels"], batch["valid"]
        z = torch.randn(real.shape[0], cfg.model.z_dim, device=real.device)
        fake = self.generator(z, boxes, labels, valid).images

        d_terms = discriminator_loss(
            self.discriminator(real, boxes, labels, valid),
            self.discriminator(fake.detach(), boxes, labels, valid),
            lw.lambda_o,
        )
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d_terms["d_total"])
        opt_d.step()

        self.discriminator.requires_grad_(False)
        g_terms = generator_adversarial_loss(
            self.discriminator(fake, boxes, labels, valid), lw.lambda_ac
        )
        g_total = g_terms["g_adv"]
        if cfg.model.perceptual and "perceptual" in self._frozen:
            net = self._frozen["perceptual"]
            with torch.no_grad():
                feats_real = net(real)
            g_terms["g_perceptual"] = perceptual_l1(net(fake), feats_real)
            g_total = g_total + lw.lambda_perceptual * g_terms["g_perceptual"]
        if cfg.model.sgsm and "sgsm" in self._frozen:
            g_terms["g_sgsm"] = self._frozen["sgsm"].sgsm_loss(  # type: ignore[operator]
                fake, boxes, labels, valid, generator=self._sgsm_generator()
            )
            g_total = g_total + lw.lambda_sgsm * g_terms["g_sgsm"]
        g_terms["g_total"] = g_total
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g_total)
        opt_g.step()
        self.discriminator.requires_grad_(True)
        self.iterations += 1

        logs = {f"train/{k}": v.detach() for k, v in {**d_terms, **g_terms}.items()}
        self.log_dict(logs, on_step=True, on_epoch=True, batch_size=real.shape[0])
        self.log("d", d_terms["d_total"].detach(), prog_bar=True, on_step=True, on_epoch=False)
        self.log("g", g_total.detach(), prog_bar=True, on_step=True, on_epoch=False)
        return {"loss": (d_terms["d_total"] + g_total).detach()}

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=o.lr_g, betas=(o.beta1, o.beta2))
        opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=o.lr_d, betas=(o.beta1, o.beta2)
        )
        return [opt_g, opt_d]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ocgan_iterations"] = self.iterations

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.iterations = int(checkpoint.get("ocgan_iterations", 0))

    def on_train_epoch_end(self) -> None:
        every = self.cfg.sample.every_epochs
        last = self.current_epoch + 1 >= (self.trainer.max_epochs or 0)
        if self._samples is None or not (last or (every and (self.current_epoch + 1) % every == 0)):
            return
        if not is_rank_zero() or self._sample_dir is None:
            return
        images = generate(self.generator, self._samples)
        path = self._sample_dir / f"{SAMPLES_FIGURE}_epoch{self.current_epoch + 1:04d}.png"
        draw_samples(
            images, self._samples, self.class_names, path, f"epoch {self.current_epoch + 1}"
        )
        for logger in self.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_images"):
                experiment.add_images(
                    "samples", (images.cpu() + 1) / 2, self.global_step, dataformats="NCHW"
                )


@torch.no_grad()
def generate(generator: nn.Module, layout: dict[str, Tensor]) -> Tensor:
    """Images of ``layout`` (``boxes``, ``labels``, ``valid``, ``z``, ``obj_z``) with the
    generator in eval mode (BatchNorm running statistics); its mode is restored after."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    try:
        out = generator(
            layout["z"].to(device),
            layout["boxes"].to(device),
            layout["labels"].to(device),
            layout["valid"].to(device),
            obj_z=layout["obj_z"].to(device),
        )
    finally:
        generator.train(was_training)
    return out.images


def draw_samples(
    images: Tensor, layout: dict[str, Tensor], class_names: list[str], path: Path, title: str
) -> Path:
    from lococo.viz.ocgan import plot_layout_samples

    return plot_layout_samples(
        images.cpu(), layout["boxes"], layout["labels"], layout["valid"], class_names, path, title
    )


def fixed_noise(
    count: int, max_objects: int, z_dim: int, obj_z_dim: int, seed: int
) -> dict[str, Tensor]:
    """Image and object noise drawn from a generator seeded with ``seed`` (not the global RNG)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(count, z_dim, generator=gen)
    obj_z = torch.randn(count, max_objects, obj_z_dim, generator=gen)
    return {"z": z, "obj_z": obj_z}


# --------------------------------------------------------------------------- data and config


def load_layout_data(cfg: GANRunConfig) -> LayoutData:
    """The configured layout dataset, or one error line."""
    from lococo.ocgan.sgsm_train import load_layout_for

    return load_layout_for(cfg)  # type: ignore[arg-type]  # reads cfg.data only


def held_out_split(data: LayoutData, wanted: str) -> str:
    for split in (wanted, "val", "test"):
        if data.splits.get(split):
            return split
    raise DataError(data.root, "no held-out scenes (empty val and test splits)")


def layout_dataset(
    data: LayoutData, split: str, cfg: GANRunConfig, *, train: bool, progress: bool
) -> Any:
    from lococo.data.layout.dataset import LayoutDataset

    if not data.splits.get(split):
        raise DataError(data.root, f"split {split!r} has no scenes after preprocessing")
    return LayoutDataset(
        data,
        split,
        cfg.model.image_size,
        max_objects=cfg.data.max_objects,
        flip=cfg.data.flip and train,
        progress=progress,
    )


def load_frozen_sgsm(cfg: GANRunConfig, data: LayoutData) -> nn.Module | None:
    """The frozen SGSM of ``cfg.sgsm_run`` (refused when trained on another dataset format or
    vocabulary), or ``None`` when ``model.sgsm`` is off."""
    if not cfg.model.sgsm:
        return None
    from lococo.ocgan.sgsm_train import load_sgsm

    return load_sgsm(cfg.sgsm_run, class_names=data.class_names, data_format=data.format)


def load_perceptual(cfg: GANRunConfig) -> nn.Module | None:
    if not cfg.model.perceptual:
        return None
    from lococo.ocgan.perceptual import build_perceptual

    return build_perceptual(cfg.loss.perceptual, cfg.loss.perceptual_weights, key="loss.perceptual")


def load_run_config(run: RunDir) -> GANRunConfig:
    return run.saved_config(GANRunConfig)


def resume_config(
    run: RunDir, overrides: dict[str, Any], config_file: str | None = None
) -> GANRunConfig:
    """The saved config of ``run`` for ``--resume``. Any change is refused, except a larger
    ``trainer.max_epochs`` (training longer; recorded in ``config.yaml``)."""
    saved = load_run_config(run)
    wanted = saved
    if config_file is not None:
        wanted = apply_overrides(wanted, flatten(read_yaml(config_file)), str(config_file))
    wanted = apply_overrides(wanted, overrides, "override")
    before, after = saved.trainer.get("max_epochs"), wanted.trainer.get("max_epochs")
    extend = isinstance(before, int) and isinstance(after, int) and after > before
    if extend:
        saved = apply_overrides(saved, {"trainer.max_epochs": after}, "override")
    refuse_changes(run, to_dict(saved), to_dict(wanted))
    if extend:
        meta = read_yaml(run.config).get("meta", {})
        run.write_config({**to_dict(saved), "meta": meta})
    return saved


def trainer_options(cfg: GANRunConfig) -> dict[str, Any]:
    """``cfg.trainer`` with SyncBatchNorm switched on under a DDP strategy (unless set)."""
    options = dict(cfg.trainer)
    if "ddp" in str(options.get("strategy", "")):
        options.setdefault("sync_batchnorm", True)
    return options


# --------------------------------------------------------------------------- training


def train_gan(
    cfg: GANRunConfig, run: RunDir, *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train the OC-GAN; store ``generator.pt``, the sample grids and ``ocgan_train``.

    Everything that can fail on the inputs (data, SGSM run, perceptual weights, config) is
    checked before anything is written. Resuming a finished run returns its stored results
    (``already_finished``) unless ``trainer.max_epochs`` grew.
    """
    validate_model_config(cfg.model)
    check_gan_config(cfg)
    run.check_writable()
    if resume:
        done = run.read_results().get(TRAIN_SECTION)
        wanted = cfg.trainer.get("max_epochs")
        longer = isinstance(wanted, int) and done is not None and int(done["epochs"]) < wanted
        if done is not None and (run.path / GENERATOR_FILE).exists() and not longer:
            return {**done, "already_finished": True}
        if run.last_checkpoint.exists():  # a corrupt checkpoint stops before anything is written
            load_weights(run.last_checkpoint, "checkpoint")
    data = load_layout_data(cfg)
    sgsm = load_frozen_sgsm(cfg, data)
    perceptual = load_perceptual(cfg)
    held_out = held_out_split(data, cfg.eval.split)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    train_set = layout_dataset(data, cfg.data.train_split, cfg, train=True, progress=progress)
    test_set = layout_dataset(data, held_out, cfg, train=False, progress=progress)
    if not resume:
        run.write_config({**to_dict(cfg), "meta": run_metadata()})
    module = OCGANModule(to_dict(cfg), data.class_names, train_set.max_objects)
    count = min(cfg.sample.scenes, len(test_set))
    samples = {
        "boxes": test_set.boxes[:count],
        "labels": test_set.labels[:count],
        "valid": test_set.valid[:count],
        **fixed_noise(
            count, train_set.max_objects, cfg.model.z_dim, cfg.model.obj_z_dim, cfg.sample.seed
        ),
    }
    module.attach(sgsm=sgsm, perceptual=perceptual, samples=samples, sample_dir=run.figures)
    loader = DataLoader(
        train_set,
        batch_size=cfg.data.batch_size,
        shuffle=True,
        drop_last=len(train_set) > cfg.data.batch_size,
        num_workers=cfg.data.num_workers,
        persistent_workers=cfg.data.num_workers > 0,
    )
    trainer = build_trainer(
        run, trainer_options(cfg), checkpoint_interval_s=cfg.checkpoint_interval_s,
        progress=progress,
    )  # fmt: skip
    ckpt = run.last_checkpoint if resume and run.last_checkpoint.exists() else None
    start, cpu = time.perf_counter(), time.process_time()
    start_iterations = _checkpoint_iterations(ckpt)
    trainer.fit(module, loader, ckpt_path=ckpt, weights_only=True)
    elapsed, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    done_now = max(1, module.iterations - start_iterations)
    result: dict[str, Any] = {}
    if is_rank_zero():
        save_generator(run.path / GENERATOR_FILE, module, data)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        result = {
            "format": data.format,
            "classes": data.num_classes,
            "image_size": cfg.model.image_size,
            "train_scenes": len(train_set),
            "batch_size": cfg.data.batch_size,
            "epochs": trainer.current_epoch,
            "iterations": module.iterations,
            "fit_seconds": round(elapsed, 2),
            "fit_cpu_seconds": round(cpu_seconds, 2),
            "cpu_seconds_per_iteration": round(cpu_seconds / done_now, 4),
            "sgsm_run": str(cfg.sgsm_run) if cfg.model.sgsm else None,
            "perceptual": cfg.loss.perceptual if cfg.model.perceptual else None,
            "comparable": not cfg.model.perceptual or cfg.loss.perceptual == "vgg19",
            "switches": {
                k: getattr(cfg.model, k)
                for k in ("patch_d", "object_d", "boundaries", "sgsm", "perceptual")
            },
            "resumed_from": str(ckpt) if ckpt else None,
            "metrics": {k: round(v, 5) for k, v in metrics.items() if k.endswith("_epoch")},
            "figures": sorted(
                str(p.relative_to(run.path)) for p in run.figures.glob(f"{SAMPLES_FIGURE}_*.png")
            ),
        }
        run.write_result(TRAIN_SECTION, result)
    return result


def _checkpoint_iterations(ckpt: Path | None) -> int:
    if ckpt is None:
        return 0
    return int(load_weights(ckpt, "checkpoint").get("ocgan_iterations", 0))


def save_generator(path: Path, module: OCGANModule, data: LayoutData) -> None:
    """The trained generator with what sampling needs: config, vocabulary, object limit."""
    state = {k: v.detach().cpu() for k, v in module.generator.state_dict().items()}
    blob = {
        "state_dict": state,
        "config": to_dict(module.cfg),
        "class_names": module.class_names,
        "max_objects": module.max_objects,
        "format": data.format,
    }
    with atomic_open(path, "wb") as handle:
        torch.save(blob, handle)


class TrainedGenerator:
    """A run's generator (eval mode) with its config, vocabulary and object limit."""

    def __init__(
        self, generator: nn.Module, cfg: GANRunConfig, class_names: list[str], max_objects: int
    ):
        self.generator = generator
        self.cfg = cfg
        self.class_names = class_names
        self.max_objects = max_objects

    def noise(self, count: int, seed: int) -> dict[str, Tensor]:
        m = self.cfg.model
        return fixed_noise(count, self.max_objects, m.z_dim, m.obj_z_dim, seed)


def load_generator(run_dir: str | Path) -> TrainedGenerator:
    """``generator.pt`` of a training run, or one error line."""
    path = Path(run_dir) / GENERATOR_FILE
    if not path.is_file():
        raise LococoError(f"{path}: no trained generator; run `lococo ocgan train` first")
    try:
        blob = load_weights(path, "generator file")
        cfg = from_dict(GANRunConfig, blob["config"], str(path))
        names = [str(n) for n in blob["class_names"]]
        max_objects = int(blob["max_objects"])
        generator = build_generator(cfg.model, len(names))
        generator.load_state_dict(blob["state_dict"])
    except (ConfigError, DataError):
        raise
    except (KeyError, TypeError, RuntimeError, ValueError) as err:
        raise DataError(path, f"not an OC-GAN generator ({str(err).splitlines()[0]})") from None
    return TrainedGenerator(generator.eval(), cfg, names, max_objects)
