"""The OC-GAN generator (thesis 6.3.3.1, fig. B.1a,b): a residual decoder from image-level
noise whose BatchNorm layers take per-pixel ``γ(x, y)``, ``β(x, y)`` from the layout
conditioning (:mod:`lococo.ocgan.conditioning`).

Widths follow LostGAN's ResNet generators: with ``N = log2(image_size / 4)`` up-sampling
blocks and base width ``ch`` (``g_channels``), the map at level ``k`` (``k = 0`` the 4×4 input,
``k = N`` the output side) has ``ch · min(16, 2^(N-k))`` channels: at 64 px 16ch, 8ch, 4ch,
2ch, ch; at 128 px 16ch, 16ch, 8ch, 4ch, 2ch, ch; at 32 px 8ch, 4ch, 2ch, ch. Every conv and
linear layer is spectrally normalised (``torch.nn.utils.parametrizations.spectral_norm``).
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from lococo.ocgan.conditioning import LayoutConditioning, ObjectCode

if TYPE_CHECKING:
    from lococo.ocgan.gan_model import GANModelConfig


def level_channels(base: int, blocks: int) -> list[int]:
    """Channels of the ``blocks + 1`` feature maps, 4×4 first (module docstring)."""
    return [base * min(16, 2 ** (blocks - k)) for k in range(blocks + 1)]


class SpatialConditionalBatchNorm(nn.Module):
    """BatchNorm without affine parameters, then ``γ(x, y) · x̂ + β(x, y)`` per pixel.

    ``γ = 1 + conv_γ(h)`` and ``β = conv_β(h)`` (the ``1 +`` makes a fresh layer start as
    plain BatchNorm). With ``hidden = 0``, ``h`` is the conditioning map and the convs are 1×1
    (LostGAN's per-object projections spread by the masks are such a linear map); with
    ``hidden > 0``, ``h = ReLU(conv3×3(cond))`` with ``hidden`` channels and the convs are 3×3
    (SPADE). The statistics live in an ``nn.BatchNorm2d``, so
    ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` makes them synchronised under DDP.
    """

    def __init__(self, num_features: int, cond_channels: int, hidden: int = 0) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        if hidden > 0:
            self.shared: nn.Module = nn.Sequential(
                spectral_norm(nn.Conv2d(cond_channels, hidden, 3, padding=1)), nn.ReLU()
            )
            source, kernel = hidden, 3
        else:
            self.shared = nn.Identity()
            source, kernel = cond_channels, 1
        self.gamma = spectral_norm(nn.Conv2d(source, num_features, kernel, padding=kernel // 2))
        self.beta = spectral_norm(nn.Conv2d(source, num_features, kernel, padding=kernel // 2))

    def modulation(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """``(γ, β)``, each ``B×F×H×W``, from a conditioning map of the input's side."""
        h = self.shared(cond)
        return 1.0 + self.gamma(h), self.beta(h)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        if cond.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"conditioning map {tuple(cond.shape)} does not fit {tuple(x.shape)}")
        gamma, beta = self.modulation(cond)
        return self.norm(x) * gamma + beta


class GeneratorResBlock(nn.Module):
    """cond-BN, ReLU, ×2 nearest up-sampling, 3×3 conv, cond-BN, ReLU, 3×3 conv; shortcut:
    up-sampling then a 1×1 conv (fig. B.1b)."""

    def __init__(self, in_ch: int, out_ch: int, cond_channels: int, hidden: int = 0) -> None:
        super().__init__()
        self.bn1 = SpatialConditionalBatchNorm(in_ch, cond_channels, hidden)
        self.conv1 = spectral_norm(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.bn2 = SpatialConditionalBatchNorm(out_ch, cond_channels, hidden)
        self.conv2 = spectral_norm(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: Tensor, cond_in: Tensor, cond_out: Tensor) -> Tensor:
        """``x`` ``B×in×S×S`` with its conditioning at ``S`` and at ``2S``."""
        h = F.relu(self.bn1(x, cond_in))
        h = self.conv1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv2(F.relu(self.bn2(h, cond_out)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class GeneratorOutput(NamedTuple):
    """``images`` ``B×3×H×W`` in ``[-1, 1]``; ``masks`` ``B×M×H×W``: the soft object masks
    placed at the output side (0 outside each box and for padding rows)."""

    images: Tensor
    masks: Tensor


class OCGANGenerator(nn.Module):
    """Noise → linear → ``4×4×C`` → ``N`` :class:`GeneratorResBlock` → BN, ReLU, 3×3 conv,
    tanh (fig. B.1a), every BatchNorm of the blocks conditioned on the layout."""

    def __init__(self, cfg: GANModelConfig, num_classes: int) -> None:
        super().__init__()
        self.image_size = cfg.image_size
        self.z_dim = cfg.z_dim
        self.obj_z_dim = cfg.obj_z_dim
        self.num_classes = num_classes
        blocks = (cfg.image_size // 4).bit_length() - 1
        self.channels = level_channels(cfg.g_channels, blocks)
        self.conditioning = LayoutConditioning(
            num_classes,
            cfg.embed_dim,
            cfg.obj_z_dim,
            cfg.mask_size,
            boundaries=cfg.boundaries,
            mask_channels=min(128, 2 * cfg.g_channels),
        )
        cond = self.conditioning.out_channels
        self.fc = spectral_norm(nn.Linear(cfg.z_dim, 16 * self.channels[0]))
        self.blocks = nn.ModuleList(
            GeneratorResBlock(c_in, c_out, cond, cfg.norm_hidden)
            for c_in, c_out in pairwise(self.channels)
        )
        self.final_norm = nn.BatchNorm2d(self.channels[-1])
        self.final_conv = spectral_norm(nn.Conv2d(self.channels[-1], 3, 3, padding=1))

    def forward(
        self,
        z: Tensor,
        boxes: Tensor,
        labels: Tensor,
        valid: Tensor,
        obj_z: Tensor | None = None,
    ) -> GeneratorOutput:
        """``z`` ``B×z_dim``; ``boxes`` ``B×M×4`` normalised ``xyxy``; ``labels`` ``B×M``
        ``int64``; ``valid`` ``B×M`` ``bool``; ``obj_z`` ``B×M×obj_z_dim`` (default: drawn
        from ``torch.randn``, the global RNG)."""
        b, m = labels.shape
        if obj_z is None:
            obj_z = torch.randn(b, m, self.obj_z_dim, device=z.device, dtype=z.dtype)
        code: ObjectCode = self.conditioning.encode(boxes, labels, valid, obj_z)
        side = 4
        cond = self.conditioning.render(code, side)
        x = self.fc(z).view(b, self.channels[0], 4, 4)
        masks = None
        for block in self.blocks:
            side *= 2
            if side == self.image_size:
                masks = self.conditioning.placed(code, side)
                cond_out = self.conditioning.render(code, side, masks)
            else:
                cond_out = self.conditioning.render(code, side)
            x = block(x, cond, cond_out)
            cond = cond_out
        images = torch.tanh(self.final_conv(F.relu(self.final_norm(x))))
        if masks is None:  # pragma: no cover - image_size >= 8 always has a block
            masks = self.conditioning.placed(code, self.image_size)
        return GeneratorOutput(images, masks)
