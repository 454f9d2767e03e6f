"""The typed config of CMIM chest X-ray classification (thesis 8.3.3, 8.4.2, table 8.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: Training methods: CMIM (image + report, eq. 8.3.5) and the image-only ResNet baseline.
CLS_METHODS = ("cmim", "image_only")


@dataclass
class ClsDataConfig:
    """Where the Open-I data lives and how it is prepared.

    ``path`` holds ``ecgen-radiology/*.xml`` and the PNGs (``images/`` or ``image_dir``);
    ``glove`` is a local GloVe text file. ``labels``: the label names to classify (empty:
    every label that occurs; unknown names are refused). ``frontal_only`` keeps the frontal
    views named by ``view_list`` (a CSV of image id → view; empty: ``path/views.csv`` when it
    exists, else every image is kept and the run records that no view list was found).
    Patients are split by the run's ``seed`` into ``1 − val − test`` / ``val`` / ``test``.
    ``rebalance`` draws training images with per-label balanced weights (with replacement).
    ``shift``: random translation (pixels, wrap-around) of training images.
    """

    path: str = ""
    glove: str = ""
    image_dir: str = ""
    view_list: str = ""
    frontal_only: bool = True
    labels: list[str] = field(default_factory=list)
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    image_size: int = 224
    max_len: int = 96
    min_count: int = 1
    rebalance: bool = True
    shift: int = 0
    batch_size: int = 32
    num_workers: int | None = None  # None: min(8, CPUs) on a GPU, 0 on the CPU


@dataclass
class ClsModelConfig:
    """ResNet image encoder, residual text CNN, bilinear joint embedding and the critics.

    ``depth``: ResNet depth (50 in the thesis; 10 for quick CPU runs); ``local_layer``: the
    image's local feature map; ``weights``: a local ImageNet ``state_dict`` (empty: from
    scratch). ``fusion_rank``: 0 for the full bilinear map, ``r`` for a rank-``r`` bilinear.
    """

    depth: int = 50
    local_layer: str = "layer3"
    weights: str = ""
    text_channels: int = 256
    text_blocks: int = 2
    kernel_size: int = 3
    text_global: int = 256
    freeze_embeddings: bool = True
    joint_dim: int = 256
    fusion_rank: int = 0
    critic_hidden: int = 128
    critic_layers: int = 1
    local_embed: int = 128
    dropout: float = 0.0


@dataclass
class ClsMethodConfig:
    """The method and the λ of eq. 8.3.5 (``L = λ_lg·L^{l→g} + λ_ll·L^{l→l} + λ_C·L^classif``;
    ``image_only`` uses ``λ_C`` only) with the MI ``estimator`` (JSD, eq. 8.3.1)."""

    name: Literal["cmim", "image_only"] = "cmim"
    lambda_lg: float = 1.0
    lambda_ll: float = 1.0
    lambda_c: float = 1.0
    estimator: Literal["jsd", "infonce", "dv", "nwj"] = "jsd"


@dataclass
class ClsOptimConfig:
    """Adam with a global learning rate (thesis 8.4.5: 1e-4)."""

    lr: float = 1e-4
    weight_decay: float = 0.0


@dataclass
class ClsEvalConfig:
    """Evaluation batch size and how many test images the agreement figure shows."""

    batch_size: int = 64
    agreement_images: int = 4


@dataclass
class ClsConfig:
    """``checkpoint_interval_s``: least seconds between epoch-end checkpoints (0: every epoch)."""

    seed: int = 0
    task: Literal["cls"] = "cls"
    checkpoint_interval_s: float = 30.0
    data: ClsDataConfig = field(default_factory=ClsDataConfig)
    model: ClsModelConfig = field(default_factory=ClsModelConfig)
    method: ClsMethodConfig = field(default_factory=ClsMethodConfig)
    optim: ClsOptimConfig = field(default_factory=ClsOptimConfig)
    eval: ClsEvalConfig = field(default_factory=ClsEvalConfig)
    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 50})
