"""The typed config of ZFS pretraining and zero-shot evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

METHODS = ("fc", "pn", "vae", "beta_vae", "aae", "dim", "amdim", "cmdim")
#: what CMDIM is built on: single-view DIM, or the two-pass (AMDIM-style) objective
CMDIM_BASES = ("dim", "twopass")
LOCAL_LOSSES = ("none", "ac", "lc")


@dataclass
class DataConfig:
    """Where the ZSL data lives and how images are fed (app. A.2: resize 128, crop 112)."""

    path: str = ""
    format: Literal["cub", "awa2", "sun"] = "cub"
    splits_dir: str | None = None
    image_size: int = 128
    batch_size: int = 64
    num_workers: int = 0
    cache_images: bool = True
    verify_images: bool = False


@dataclass
class EncoderConfig:
    """``width`` scales conv/hidden widths (1.0 = tables A.2/A.3; the quick profile halves them)."""

    name: Literal["basic", "alexnet"] = "basic"
    global_dim: int = 1024
    width: float = 1.0


@dataclass
class MethodConfig:
    """The pretraining method (thesis 4.4.1, app. A.7) and its hyper-parameters.

    Keys that a method does not use are ignored by it (and recorded in the run's config).
    """

    name: Literal["fc", "pn", "vae", "beta_vae", "aae", "dim", "amdim", "cmdim"] = "fc"
    local_loss: Literal["none", "ac", "lc"] = "none"
    local_loss_weight: float = 1.0
    # VAE family: the KL weight is 1 for ``vae`` and ``beta`` for ``beta_vae``.
    beta: float = 4.0
    latent_dim: int = 256
    # AAE: weight of the generator's adversarial term.
    adversarial_weight: float = 1.0
    # DIM family (dim, cmdim): MI estimator through lococo.mi, critic width, prior matching.
    estimator: Literal["jsd", "infonce", "dv"] = "jsd"
    critic_dim: int = 256
    prior_weight: float = 0.0
    # CMDIM: probability that the positive comes from another image of the class, and the
    # objective it is built on: ``dim`` (single view, ``estimator``, ``local_dim`` + matching)
    # or ``twopass`` (AMDIM's two inputs and NCE, table A.10's local_twopass_class_matching).
    p: float = 0.5
    base: Literal["dim", "twopass"] = "twopass"
    # PN: side of the space shared by image embeddings and attribute prototypes.
    proto_dim: int = 512
    # AMDIM: tanh clipping of scores and the score regulariser (Bachman et al. 2019).
    tclip: float = 20.0
    score_reg: float = 5e-2


@dataclass
class OptimConfig:
    """Adam, lr 1e-4 in the paper profile (app. A.2)."""

    lr: float = 1e-4
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    scheduler: Literal["none", "cosine"] = "none"


@dataclass
class ZSLConfig:
    """The prototypical network trained on frozen features (thesis 4.4.1)."""

    embed_dim: int = 512
    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 256


@dataclass
class AnalysisConfig:
    """``lococo zfs analyze`` (thesis 4.4.2–4.4.4, 4.5, app. A.3–A.6, A.8).

    Probes and the statistics network train on (at most ``train_images``) trainval images;
    parts F1, pair statistics and heatmaps use (at most ``test_images``) test images; TRE fits
    its vectors on trainval and is scored on the unseen test images; the pooling studies train
    on trainval and score unseen test images. ``0`` means every image.
    """

    seed: int = 0
    train_images: int = 4000
    test_images: int = 2000
    parts_square: float = 10.0  # side (original pixels) of the square at every worker click
    # parts F1 ground truth reported as ``parts_f1`` (both are stored; lococo.metrics.parts):
    # receptive_field (thesis A.6) or stride_cell (density independent of the field size)
    parts_gt: Literal["receptive_field", "stride_cell"] = "receptive_field"
    probe_epochs: int = 30
    probe_lr: float = 5e-2
    critic_dim: int = 256
    critic_steps: int = 1000
    critic_lr: float = 1e-3
    pairs: int = 20000  # image pairs for the parts-ratio correlations (thesis: 20,000)
    heatmap_images: int = 6  # images B scored against one image A in the heatmap figure
    tre_steps: int = 400
    tre_threshold: float | None = None  # None: each attribute's mean over classes


@dataclass
class ZFSConfig:
    """``checkpoint_interval_s``: least seconds between epoch-end checkpoints (0: every epoch);
    the final epoch is always saved, a killed run loses at most that much work."""

    seed: int = 0
    checkpoint_interval_s: float = 30.0
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    zsl: ZSLConfig = field(default_factory=ZSLConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 100})


def check_zfs_config(cfg: ZFSConfig) -> None:
    """Checks across keys, before anything is written: the encoder must take the image size."""
    from lococo.errors import ConfigError
    from lococo.nn.encoders import IMAGE_SIZES

    if cfg.data.image_size not in IMAGE_SIZES:
        sizes = ", ".join(str(s) for s in IMAGE_SIZES)
        raise ConfigError(
            f"data.image_size={cfg.data.image_size} is not allowed for encoder "
            f"{cfg.encoder.name!r}; choose one of {sizes}"
        )
