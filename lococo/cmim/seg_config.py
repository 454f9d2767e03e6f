"""The typed config of CMIM brain-tumour segmentation (thesis 8.3.6, 8.4.3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: Training methods: CMIM, the HeMIS / mean / MLP baselines (Havaei et al. 2016), and the two
#: references (a U-Net on one modality, the four-modality U-Net tested with all four).
SEG_METHODS = ("cmim", "hemis", "mean", "mlp", "single", "all")
#: MRI sequences in channel order (the MRI readers' order).
SEG_MODALITIES = ("flair", "t1", "t1c", "t2")


@dataclass
class SegDataConfig:
    """Where the MRI data lives and how 2-D axial slices are fed.

    Cases are split by ``seed`` into train / validation / test (fractions of the cases);
    ``tumour_fraction`` of the training slices contain tumour (the rest are drawn from the
    other brain slices); ``slices_per_epoch`` fixes the epoch length (0: every selected slice).
    """

    path: str = ""
    format: Literal["brats", "brats2015", "decathlon"] = "brats"
    val_fraction: float = 0.1
    test_fraction: float = 0.25
    tumour_fraction: float = 0.7
    slices_per_epoch: int = 0
    batch_size: int = 16
    num_workers: int | None = None  # None: min(8, CPUs) on a GPU, 0 on the CPU


@dataclass
class UNetConfig:
    """A 2-D U-Net: ``widths[k]`` channels at level ``k`` (``len(widths) - 1`` poolings)."""

    widths: list[int] = field(default_factory=lambda: [32, 64, 128, 256, 512])
    norm: Literal["instance", "batch", "group"] = "instance"
    dropout: float = 0.0


@dataclass
class SegMethodConfig:
    """The training method and its hyper-parameters (keys a method does not use are ignored).

    CMIM (eq. 8.3.6): ``lambda_s`` weighs the segmentation loss and ``lambda_ll`` the
    cross-modal local–local MI loss (eq. 8.3.2) on encoder level ``mi_level`` (at
    ``mi_positions`` random positions per step; 0: all) with concat-and-convolve critics of
    ``critic_hidden`` channels and the ``estimator`` bound (JSD, eq. 8.3.1); each step feeds
    ``modalities_per_step`` single-modality inputs (a random subset when below 4) plus the
    full input. ``seg_loss`` is the pixel-wise cross-entropy of the thesis (``ce``) or
    cross-entropy plus soft Dice (``ce_dice``, better on short budgets with a small target).
    ``modality`` is the input of ``single``. HeMIS drops each modality with ``drop_prob``
    during training (at least one kept). MLP imputation uses ``imputer_hidden`` channels.
    """

    name: Literal["cmim", "hemis", "mean", "mlp", "single", "all"] = "cmim"
    modality: Literal["flair", "t1", "t1c", "t2"] = "t1c"
    lambda_s: float = 1.0
    lambda_ll: float = 1.0
    estimator: Literal["jsd", "infonce", "dv", "nwj"] = "jsd"
    mi_level: int = 2
    mi_positions: int = 256
    modalities_per_step: int = 4
    critic_hidden: int = 64
    seg_loss: Literal["ce", "ce_dice"] = "ce_dice"
    drop_prob: float = 0.5
    imputer_hidden: int = 32


@dataclass
class SegOptimConfig:
    """Adam with a global learning rate (thesis 8.4.5: 1e-4)."""

    lr: float = 1e-4
    weight_decay: float = 0.0


@dataclass
class SegEvalConfig:
    """Evaluation: slices per forward pass, Dice threshold, slices saved for overlay figures."""

    batch_size: int = 32
    threshold: float = 0.5
    overlay_cases: int = 3


@dataclass
class SegConfig:
    """``checkpoint_interval_s``: least seconds between epoch-end checkpoints (0: every epoch)."""

    seed: int = 0
    task: Literal["seg"] = "seg"
    checkpoint_interval_s: float = 30.0
    data: SegDataConfig = field(default_factory=SegDataConfig)
    model: UNetConfig = field(default_factory=UNetConfig)
    method: SegMethodConfig = field(default_factory=SegMethodConfig)
    optim: SegOptimConfig = field(default_factory=SegOptimConfig)
    eval: SegEvalConfig = field(default_factory=SegEvalConfig)
    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 100})
