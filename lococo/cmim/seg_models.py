"""Segmentation models trained with four MRI modalities and tested with one (thesis 8.4.3).

Every model maps ``(image B×4×H×W, present B×4 bool) -> logits B×1×H×W`` of the enhancing
tumour: absent modalities are never looked at, so one ``forward`` serves training and every
test-time condition (:data:`TEST_INPUTS`). ``training_losses`` returns the weighted loss
terms of one batch; ``test_inputs`` lists the conditions a model can be evaluated on.

* :class:`CMIMSegModel` — CMIM (eq. 8.3.6). **Design choice:** one U-Net applied to each
  modality alone (the other channels zeroed, plus a 4-channel presence mask), rather than one
  encoder per modality. The thesis' U-Net "takes as input either one or multiple MRI
  sequences as distinct channels"; sharing the network means the cross-modal MI term shapes
  the very weights that run at test time, the test-time single-modality input is exactly a
  training input (``forward`` with a one-hot ``present``), and the model is the size of the
  plain U-Net. Each step runs the single-modality inputs (all four, or a random subset of
  ``modalities_per_step`` — an unbiased estimate of the pair average at a lower cost) and the
  all-modality input as one batch: the segmentation loss covers all of them, the local–local
  JSD loss couples the single-modality encoder maps at level ``mi_level`` (every position,
  or a random subset of ``mi_positions`` positions per step: the critic scores all ``B²``
  pairs at each position, so its cost grows with ``B²·positions``; a subset is an unbiased
  estimate of the same position average).
* :class:`HeMISModel` — HeMIS (Havaei et al. 2016): one encoder per modality, fusion of every
  encoder level by the mean and variance over the available modalities (:func:`hemis_fuse`),
  a shared decoder; modalities dropped at random in training.
* :class:`MeanImputationModel` — the four-modality U-Net; absent modalities are replaced by
  their training-set mean intensity.
* :class:`MLPImputationModel` — the four-modality U-Net; a small per-modality network (a 3×3
  conv then pixel-wise layers) predicts all four modalities from each present one, trained
  with MSE alongside the U-Net.
* :class:`SingleModalityModel` — reference: a U-Net trained and tested on one modality.
* :class:`FourModalityModel` — reference: the U-Net trained and tested with all four.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss
from torch import Tensor, nn

from lococo.cmim.losses import all_pairs, cross_modal_mi, pair_critics, pair_key
from lococo.cmim.seg_config import SEG_MODALITIES, SegConfig
from lococo.cmim.unet import UNet, UNetDecoder, UNetEncoder
from lococo.errors import ConfigError

#: Test-time conditions: each modality alone, then all four.
TEST_INPUTS: tuple[str, ...] = (*SEG_MODALITIES, "all")
NUM_MODALITIES = len(SEG_MODALITIES)


def presence(condition: str, batch: int, device: torch.device | None = None) -> Tensor:
    """``B×4`` bool mask of the modalities given under ``condition`` (a modality or ``all``)."""
    if condition == "all":
        return torch.ones(batch, NUM_MODALITIES, dtype=torch.bool, device=device)
    if condition not in SEG_MODALITIES:
        raise ValueError(f"unknown test-time input {condition!r}; valid: {', '.join(TEST_INPUTS)}")
    mask = torch.zeros(batch, NUM_MODALITIES, dtype=torch.bool, device=device)
    mask[:, SEG_MODALITIES.index(condition)] = True
    return mask


def segmentation_loss(logits: Tensor, target: Tensor, kind: str = "ce") -> Tensor:
    """Pixel-wise binary cross-entropy (``ce``; the thesis' L^seg), plus the batch soft Dice
    loss of MONAI for ``ce_dice``. ``target`` is ``B×1×H×W`` in {0, 1}."""
    target = target.to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target)
    if kind == "ce_dice":
        loss = loss + DiceLoss(sigmoid=True, batch=True)(logits, target)
    elif kind != "ce":
        raise ValueError(f"unknown segmentation loss {kind!r}; choose ce or ce_dice")
    return loss


def hemis_fuse(maps: Tensor, present: Tensor) -> Tensor:
    """HeMIS abstraction layer: mean and variance over the present modalities.

    ``maps``: ``M×B×C×*S`` (one map per modality), ``present``: ``B×M`` bool with at least
    one modality per sample. Returns ``B×2C×*S`` (mean channels, then variance channels); the
    variance is the population variance (correction 0), so it is 0 — not NaN — for one
    modality.
    """
    if not bool(present.any(dim=1).all()):
        raise ValueError("HeMIS fusion needs at least one present modality per sample")
    w = present.T.to(maps.dtype).reshape(*present.T.shape, *([1] * (maps.dim() - 2)))
    count = w.sum(dim=0)
    mean = (w * maps).sum(dim=0) / count
    var = (w * (maps - mean) ** 2).sum(dim=0) / count
    return torch.cat([mean, var], dim=1)


def mask_inputs(image: Tensor, present: Tensor) -> Tensor:
    """Absent modalities zeroed, followed by the presence mask as 4 constant channels."""
    mask = present.to(image.dtype)[:, :, None, None].expand_as(image)
    return torch.cat([image * mask, mask], dim=1)


class SegModel(nn.Module):
    """Base: ``forward(image, present) -> logits``; ``training_losses`` gives the loss terms."""

    test_inputs: tuple[str, ...] = TEST_INPUTS
    uses_groups: ClassVar[bool] = False

    def __init__(self, cfg: SegConfig) -> None:
        super().__init__()
        self.widths = list(cfg.model.widths)
        self.seg_loss_kind = cfg.method.seg_loss
        self.lambda_s = cfg.method.lambda_s

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.widths) - 1)

    def forward(self, image: Tensor, present: Tensor) -> Tensor:
        raise NotImplementedError

    def seg_term(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.lambda_s * segmentation_loss(logits, target, self.seg_loss_kind)

    def training_losses(
        self, image: Tensor, target: Tensor, groups: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Weighted loss terms (summed by the trainer); default: all four modalities given."""
        full = presence("all", image.shape[0], image.device)
        return {"seg": self.seg_term(self(image, full), target)}


class CMIMSegModel(SegModel):
    """One U-Net on masked inputs (4 modality + 4 presence channels) + cross-modal MI critics."""

    uses_groups = True

    def __init__(self, cfg: SegConfig) -> None:
        super().__init__(cfg)
        m = cfg.method
        if not 0 <= m.mi_level < len(self.widths):
            raise ConfigError(f"method.mi_level must be in 0..{len(self.widths) - 1}")
        self.unet = UNet(2 * NUM_MODALITIES, self.widths, 1, cfg.model.norm, cfg.model.dropout)
        self.mi_level = m.mi_level
        self.mi_positions = m.mi_positions
        if not 2 <= m.modalities_per_step <= NUM_MODALITIES:
            raise ConfigError(f"method.modalities_per_step must be in 2..{NUM_MODALITIES}")
        self.modalities_per_step = m.modalities_per_step
        self.lambda_ll = m.lambda_ll
        self.estimator = m.estimator
        self.pairs = all_pairs(NUM_MODALITIES)
        width = self.widths[m.mi_level]
        self.critics = pair_critics([width] * NUM_MODALITIES, self.pairs, m.critic_hidden)

    def forward(self, image: Tensor, present: Tensor) -> Tensor:
        return self.unet(mask_inputs(image, present))[0]

    def local_features(
        self, image: Tensor, modalities: Sequence[int] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """Logits and level-``mi_level`` maps of single-modality inputs and the full input, run
        as one batch. ``modalities`` (default all four, in order) are the single-modality
        inputs; returns logits ``(len(modalities)+1)·B×1×H×W`` (those inputs in order, then
        all four) and the maps ``Λ^{M_n}`` of the single-modality inputs."""
        b = image.shape[0]
        modalities = list(range(NUM_MODALITIES)) if modalities is None else list(modalities)
        conditions = [*(SEG_MODALITIES[k] for k in modalities), "all"]
        present = torch.cat([presence(c, b, image.device) for c in conditions])
        logits, maps = self.unet(mask_inputs(image.repeat(len(conditions), 1, 1, 1), present))
        local = maps[self.mi_level]
        return logits, [local[k * b : (k + 1) * b] for k in range(len(modalities))]

    def step_modalities(self) -> list[int]:
        """The single-modality inputs of one training step: all four, or a random subset of
        ``modalities_per_step`` (an unbiased estimate of the average over pairs)."""
        if self.modalities_per_step >= NUM_MODALITIES:
            return list(range(NUM_MODALITIES))
        return sorted(torch.randperm(NUM_MODALITIES)[: self.modalities_per_step].tolist())

    def sample_positions(self, local: list[Tensor]) -> list[Tensor]:
        """The maps at ``mi_positions`` random positions (the same for every modality) as
        ``B×C×K``; all positions when ``mi_positions`` is 0 or exceeds the map."""
        flat = [f.flatten(2) for f in local]
        positions = flat[0].shape[-1]
        if not 0 < self.mi_positions < positions:
            return flat
        keep = torch.randperm(positions, device=flat[0].device)[: self.mi_positions]
        return [f[..., keep] for f in flat]

    def training_losses(
        self, image: Tensor, target: Tensor, groups: Tensor | None = None
    ) -> dict[str, Tensor]:
        modalities = self.step_modalities()
        logits, local = self.local_features(image, modalities)
        repeats = len(modalities) + 1
        terms = {"seg": self.seg_term(logits, target.repeat(repeats, 1, 1, 1))}
        if self.lambda_ll:
            pairs = all_pairs(len(modalities))
            critics = {
                pair_key((i, j)): self.critics[pair_key((modalities[i], modalities[j]))]
                for i, j in pairs
            }
            sampled = self.sample_positions(local)
            mi = cross_modal_mi(sampled, critics, pairs, self.estimator, groups)
            terms["local_local"] = -self.lambda_ll * mi
        return terms


class HeMISModel(SegModel):
    """Per-modality encoders, mean/variance fusion at every level, one shared decoder."""

    def __init__(self, cfg: SegConfig) -> None:
        super().__init__(cfg)
        norm, dropout = cfg.model.norm, cfg.model.dropout
        self.encoders = nn.ModuleList(
            UNetEncoder(1, self.widths, norm, dropout) for _ in range(NUM_MODALITIES)
        )
        fused = [2 * w for w in self.widths]
        self.decoder = UNetDecoder(self.widths, 1, channels=fused, norm=norm, dropout=dropout)
        self.drop_prob = cfg.method.drop_prob

    def forward(self, image: Tensor, present: Tensor) -> Tensor:
        used = [k for k in range(NUM_MODALITIES) if bool(present[:, k].any())]
        per_modality = [self.encoders[k](image[:, k : k + 1]) for k in used]
        fused = [
            hemis_fuse(torch.stack([maps[level] for maps in per_modality]), present[:, used])
            for level in range(len(self.widths))
        ]
        return self.decoder(fused)

    def random_presence(self, batch: int, device: torch.device) -> Tensor:
        """Each modality dropped with ``drop_prob``; a sample left with none keeps one at random."""
        present = torch.rand(batch, NUM_MODALITIES, device=device) >= self.drop_prob
        empty = ~present.any(dim=1)
        if bool(empty.any()):
            keep = torch.randint(NUM_MODALITIES, (int(empty.sum()),), device=device)
            present[empty.nonzero().squeeze(1), keep] = True
        return present

    def training_losses(
        self, image: Tensor, target: Tensor, groups: Tensor | None = None
    ) -> dict[str, Tensor]:
        present = self.random_presence(image.shape[0], image.device)
        return {"seg": self.seg_term(self(image, present), target)}


class FourModalityModel(SegModel):
    """Reference: the U-Net on all four modalities (evaluated with all four only)."""

    test_inputs = ("all",)

    def __init__(self, cfg: SegConfig) -> None:
        super().__init__(cfg)
        self.unet = UNet(NUM_MODALITIES, self.widths, 1, cfg.model.norm, cfg.model.dropout)

    def complete(self, image: Tensor, present: Tensor) -> Tensor:
        """The four-channel input with absent modalities filled in (here: none may be absent)."""
        if not bool(present.all()):
            raise ValueError("the four-modality U-Net needs all four modalities")
        return image

    def forward(self, image: Tensor, present: Tensor) -> Tensor:
        return self.unet(self.complete(image, present))[0]


class MeanImputationModel(FourModalityModel):
    """The four-modality U-Net; a missing modality becomes its training-set mean intensity."""

    test_inputs = TEST_INPUTS

    def __init__(self, cfg: SegConfig) -> None:
        super().__init__(cfg)
        self.register_buffer("modality_mean", torch.zeros(NUM_MODALITIES))

    def set_means(self, means: Tensor) -> None:
        self.modality_mean.copy_(torch.as_tensor(means, dtype=torch.float32))

    def complete(self, image: Tensor, present: Tensor) -> Tensor:
        fill = self.modality_mean.to(image.dtype)[None, :, None, None].expand_as(image)
        return torch.where(present[:, :, None, None], image, fill)


class MLPImputationModel(FourModalityModel):
    """The four-modality U-Net; missing modalities predicted from each present one."""

    test_inputs = TEST_INPUTS

    def __init__(self, cfg: SegConfig) -> None:
        super().__init__(cfg)
        h = cfg.method.imputer_hidden
        self.imputers = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(1, h, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(h, h, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(h, NUM_MODALITIES, 1),
            )
            for _ in range(NUM_MODALITIES)
        )

    def impute(self, image: Tensor, present: Tensor) -> Tensor:
        """Mean over present modalities ``k`` of ``imputers[k](x_k)`` (``B×4×H×W``)."""
        w = present.to(image.dtype)
        total = torch.zeros_like(image)
        for k in range(NUM_MODALITIES):
            if bool(present[:, k].any()):
                total = total + w[:, k, None, None, None] * self.imputers[k](image[:, k : k + 1])
        return total / w.sum(dim=1).clamp_min(1.0)[:, None, None, None]

    def complete(self, image: Tensor, present: Tensor) -> Tensor:
        if bool(present.all()):
            return image
        return torch.where(present[:, :, None, None], image, self.impute(image, present))

    def training_losses(
        self, image: Tensor, target: Tensor, groups: Tensor | None = None
    ) -> dict[str, Tensor]:
        terms = super().training_losses(image, target, groups)
        predicted = torch.stack([net(image[:, k : k + 1]) for k, net in enumerate(self.imputers)])
        terms["imputation"] = F.mse_loss(predicted, image.expand_as(predicted))
        return terms


class SingleModalityModel(SegModel):
    """Reference: a U-Net trained and tested on ``method.modality`` alone."""

    def __init__(self, cfg: SegConfig) -> None:
        super().__init__(cfg)
        self.modality = cfg.method.modality
        self.index = SEG_MODALITIES.index(self.modality)
        self.test_inputs = (self.modality,)
        self.unet = UNet(1, self.widths, 1, cfg.model.norm, cfg.model.dropout)

    def forward(self, image: Tensor, present: Tensor) -> Tensor:
        if not bool(present[:, self.index].all()):
            raise ValueError(f"the single-modality U-Net needs {self.modality}")
        return self.unet(image[:, self.index : self.index + 1])[0]

    def training_losses(
        self, image: Tensor, target: Tensor, groups: Tensor | None = None
    ) -> dict[str, Tensor]:
        present = presence(self.modality, image.shape[0], image.device)
        return {"seg": self.seg_term(self(image, present), target)}


MODEL_CLASSES: dict[str, type[SegModel]] = {
    "cmim": CMIMSegModel,
    "hemis": HeMISModel,
    "mean": MeanImputationModel,
    "mlp": MLPImputationModel,
    "single": SingleModalityModel,
    "all": FourModalityModel,
}


def build_seg_model(cfg: SegConfig) -> SegModel:
    """The model of ``cfg.method.name``."""
    return MODEL_CLASSES[cfg.method.name](cfg)
