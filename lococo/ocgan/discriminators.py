"""The OC-GAN discriminators (thesis 6.3.3.2, fig. B.1c).

* :class:`PatchDiscriminator`: the image concatenated with the learning-free layout maps
  (one-hot box layout, plus the instance-boundary channel when enabled) at its input side,
  three residual down-sampling blocks (``d, 2d, 4d`` channels), ReLU and a 1×1 conv to a
  score map of side ``input / 8``. Two of them, without weight sharing: one on the image,
  one on the image average-pooled by 2 (the layout is rasterised at that side).
* :class:`ObjectDiscriminator`: ``roi_align`` (``aligned=True``) crops of every valid box,
  ``obj_crop × obj_crop``, residual down-sampling blocks to 4×4, ReLU, sum pooling, then the
  AC-GAN heads: one real/fake score and ``num_classes`` class logits per object.

Every conv and linear layer is spectrally normalised; there is no normalisation layer.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm
from torchvision.ops import roi_align

from lococo.ocgan.conditioning import layout_maps

if TYPE_CHECKING:
    from lococo.ocgan.gan_model import GANModelConfig

#: Down-sampling blocks of a patch discriminator (score map side = input side / 8).
PATCH_BLOCKS = 3


class DiscriminatorResBlock(nn.Module):
    """Residual block: [ReLU], 3×3 conv, ReLU, 3×3 conv, [2×2 average pooling]; shortcut a
    1×1 conv (and the pooling). ``first``: no ReLU on the input (the block sees the image)."""

    def __init__(self, in_ch: int, out_ch: int, downsample: bool = True, first: bool = False):
        super().__init__()
        self.first = first
        self.downsample = downsample
        self.conv1 = spectral_norm(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.first:  # pool before the 1×1 conv: cheaper, same function
            skip = self.shortcut(F.avg_pool2d(x, 2) if self.downsample else x)
        else:
            skip = self.shortcut(x)
            skip = F.avg_pool2d(skip, 2) if self.downsample else skip
        return (F.avg_pool2d(h, 2) if self.downsample else h) + skip


def _trunk(in_ch: int, base: int, blocks: int) -> nn.Sequential:
    widths = [base * 2**i for i in range(blocks)]
    layers = [DiscriminatorResBlock(in_ch, widths[0], first=True)]
    layers += [DiscriminatorResBlock(a, b) for a, b in pairwise(widths)]
    return nn.Sequential(*layers)


class PatchDiscriminator(nn.Module):
    """Layout-conditioned patch discriminator: ``B×(3+L)×S×S`` → ``B×1×(S/8)×(S/8)``."""

    def __init__(self, layout_channels: int, channels: int) -> None:
        super().__init__()
        self.trunk = _trunk(3 + layout_channels, channels, PATCH_BLOCKS)
        self.head = spectral_norm(nn.Conv2d(channels * 2 ** (PATCH_BLOCKS - 1), 1, 1))

    def forward(self, images: Tensor, layout: Tensor) -> Tensor:
        return self.head(F.relu(self.trunk(torch.cat([images, layout], dim=1))))


class ObjectDiscriminator(nn.Module):
    """AC-GAN object discriminator on ``obj_crop²`` RoIAlign crops of the valid boxes."""

    def __init__(self, num_classes: int, channels: int, crop: int) -> None:
        super().__init__()
        if crop < 8 or crop & (crop - 1):
            raise ValueError(f"obj_crop must be a power of two >= 8, not {crop}")
        self.crop = crop
        blocks = (crop // 4).bit_length() - 1
        self.trunk = _trunk(3, channels, blocks)
        width = channels * 2 ** (blocks - 1)
        self.score = spectral_norm(nn.Linear(width, 1))
        self.classifier = spectral_norm(nn.Linear(width, num_classes))

    def crops(self, images: Tensor, boxes: Tensor, valid: Tensor) -> Tensor:
        """``K×3×crop×crop`` crops of the valid boxes, batch order (``K = valid.sum()``)."""
        h, w = images.shape[-2:]
        scale = boxes.new_tensor([w, h, w, h])
        index = torch.nonzero(valid, as_tuple=True)
        rois = torch.cat([index[0].to(boxes.dtype)[:, None], boxes[index] * scale], dim=1).to(
            images.dtype
        )
        return roi_align(
            images, rois, output_size=self.crop, spatial_scale=1.0, sampling_ratio=2, aligned=True
        )

    def forward(self, images: Tensor, boxes: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """``(score K, logits K×num_classes)``."""
        features = F.relu(self.trunk(self.crops(images, boxes, valid))).sum(dim=(2, 3))
        return self.score(features)[:, 0], self.classifier(features)


class DiscriminatorOutput(NamedTuple):
    """``patch``: one ``B×1×h×w`` score map per patch discriminator (full side first; empty
    without patch discriminators); ``obj_score`` ``K``, ``obj_logits`` ``K×num_classes`` and
    ``obj_labels`` ``K`` (the valid objects in batch order) — ``None`` without the object
    discriminator."""

    patch: list[Tensor]
    obj_score: Tensor | None
    obj_logits: Tensor | None
    obj_labels: Tensor | None


class OCGANDiscriminator(nn.Module):
    """``patch_d`` patch discriminators (image, then image pooled by 2) and, with
    ``object_d``, the object discriminator."""

    def __init__(self, cfg: GANModelConfig, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.boundaries = cfg.boundaries
        layout_channels = num_classes + (1 if cfg.boundaries else 0)
        self.patch = nn.ModuleList(
            PatchDiscriminator(layout_channels, cfg.d_channels) for _ in range(cfg.patch_d)
        )
        self.object: ObjectDiscriminator | None = (
            ObjectDiscriminator(num_classes, cfg.d_channels, cfg.obj_crop) if cfg.object_d else None
        )

    def forward(
        self, images: Tensor, boxes: Tensor, labels: Tensor, valid: Tensor
    ) -> DiscriminatorOutput:
        patch: list[Tensor] = []
        for i, disc in enumerate(self.patch):
            x = F.avg_pool2d(images, 2**i) if i else images
            layout = layout_maps(
                boxes, labels, valid, self.num_classes, x.shape[-1], self.boundaries
            )
            patch.append(disc(x, layout.to(x.dtype)))
        if self.object is None:
            return DiscriminatorOutput(patch, None, None, None)
        score, logits = self.object(images, boxes, valid)
        return DiscriminatorOutput(patch, score, logits, labels[valid])
