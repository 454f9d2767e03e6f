"""Typed config of OC-GAN training, sampling and evaluation (``lococo ocgan train``; thesis
6.3.2–6.4.2, app. B.6).

The model's switches (``model.patch_d``, ``model.object_d``, ``model.boundaries``,
``model.sgsm``, ``model.perceptual``) make each row of table 6.4 one override set. The loss
weights are eq. 6.3.9–6.3.10's (λP = 2, λo = 1, λSGSM = 1, λAC = 1); the paper's optimiser is
Adam (β1 0.5, β2 0.999) with lr 1e-4 for G and D (6.4.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lococo.errors import ConfigError
from lococo.ocgan.config import LayoutDataConfig
from lococo.ocgan.gan_model import GANModelConfig


@dataclass
class GANLossConfig:
    """Weights of eq. 6.3.9–6.3.10 and the perceptual network (``vgg19``: torchvision's
    ImageNet VGG19 read from ``perceptual_weights`` or ``$LOCOCO_WEIGHTS_DIR``; ``substitute``:
    a documented stand-in, results not comparable)."""

    lambda_perceptual: float = 2.0  # λP
    lambda_o: float = 1.0
    lambda_sgsm: float = 1.0
    lambda_ac: float = 1.0
    perceptual: Literal["vgg19", "substitute"] = "vgg19"
    perceptual_weights: str = ""


@dataclass
class GANOptimConfig:
    """Adam for G and for D (one D step, then one G step, per batch)."""

    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999


@dataclass
class GANSampleConfig:
    """Fixed-noise sample grids drawn during training (``figures/train_samples_*.png``): the
    first ``scenes`` held-out layouts, noise from ``seed``, every ``every_epochs`` epochs (0:
    only at the end)."""

    scenes: int = 8
    seed: int = 1234
    every_epochs: int = 0


@dataclass
class GANEvalConfig:
    """``lococo ocgan evaluate``: generated images for every layout of ``split`` (at most
    ``max_scenes``; 0: all), FID/KID/IS on ``extractor`` features (``inception``: the FID
    Inception-V3 from local weights; ``substitute``: lococo's CA classifier trained on real
    crops, marked not comparable), SceneFID on object crops of ``crop_size``, CA with a
    ResNet-``ca_depth`` trained on real training crops."""

    split: str = "test"
    max_scenes: int = 0
    batch_size: int = 64
    seed: int = 0
    extractor: Literal["inception", "substitute"] = "inception"
    weights: str = ""
    is_splits: int = 5
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    crop_size: int = 224
    ca_depth: int = 101
    ca_input_size: int = 64
    ca_epochs: int = 10
    ca_batch_size: int = 64
    ca_lr: float = 1e-3


@dataclass
class GANRunConfig:
    """One OC-GAN run. ``sgsm_run``: the ``lococo ocgan pretrain-sgsm`` run whose frozen module
    gives ``L_SGSM`` (needed when ``model.sgsm``). ``checkpoint_interval_s``: least seconds
    between epoch-end checkpoints (0: every epoch)."""

    seed: int = 0
    checkpoint_interval_s: float = 30.0
    sgsm_run: str = ""
    data: LayoutDataConfig = field(default_factory=LayoutDataConfig)
    model: GANModelConfig = field(default_factory=GANModelConfig)
    loss: GANLossConfig = field(default_factory=GANLossConfig)
    optim: GANOptimConfig = field(default_factory=GANOptimConfig)
    sample: GANSampleConfig = field(default_factory=GANSampleConfig)
    eval: GANEvalConfig = field(default_factory=GANEvalConfig)
    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 100})


def check_gan_config(cfg: GANRunConfig) -> None:
    """Cross-field rules, one line each, before anything is written."""
    if cfg.data.image_size != cfg.model.image_size:
        raise ConfigError(
            f"data.image_size={cfg.data.image_size} differs from model.image_size="
            f"{cfg.model.image_size}; the images are loaded at the generator's size"
        )
    if cfg.model.sgsm and not cfg.sgsm_run:
        raise ConfigError(
            "model.sgsm=true needs a trained SGSM: pass --sgsm RUN (a `lococo ocgan "
            "pretrain-sgsm` run) or set model.sgsm=false"
        )
    for key in ("lr_g", "lr_d"):
        if getattr(cfg.optim, key) <= 0:
            raise ConfigError(f"optim.{key} must be positive, got {getattr(cfg.optim, key)}")
    for key in ("lambda_perceptual", "lambda_o", "lambda_sgsm", "lambda_ac"):
        if getattr(cfg.loss, key) < 0:
            raise ConfigError(f"loss.{key} must be >= 0, got {getattr(cfg.loss, key)}")
    if cfg.sample.scenes < 1:
        raise ConfigError(f"sample.scenes must be >= 1, got {cfg.sample.scenes}")
    if cfg.eval.is_splits < 1:
        raise ConfigError(f"eval.is_splits must be >= 1, got {cfg.eval.is_splits}")
