"""X-ray encoder: a torchvision ResNet with a chosen local layer and the pooled global vector.

:func:`resnet_encoder` builds ``torchvision.models.resnet.ResNet`` of depth 10 (one basic
block per stage, for quick CPU runs), 18, 34, 50 (the thesis' ResNet-50), 101 or 152 and
wraps it as a :class:`lococo.nn.encoders.TorchvisionEncoder`: ``local`` is the output of
``local_layer`` (default ``layer3``: ``B×1024×H/16×W/16`` for ResNet-50, ``B×256×…`` for
depths ≤ 34) and ``global_`` the global average pool of ``layer4`` (2048-d for ResNet-50,
512-d for depths ≤ 34).

Input: grey images ``B×1×H×W`` in ``[-1, 1]``, repeated to three channels. ImageNet weights
come only from a LOCAL ``state_dict`` file (``weights``; nothing is downloaded); with weights the
input is ImageNet-normalised, without them the network starts from scratch.
``weights_source`` records which (``"imagenet:<path>"`` or ``"scratch"``).
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from lococo.errors import LococoError
from lococo.nn.encoders import EncoderFeatures, TorchvisionEncoder

DEPTHS = (10, 18, 34, 50, 101, 152)


def resnet(depth: int) -> nn.Module:
    """An untrained torchvision ResNet of ``depth`` (see :data:`DEPTHS`)."""
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

    stages = {
        10: (BasicBlock, [1, 1, 1, 1]),
        18: (BasicBlock, [2, 2, 2, 2]),
        34: (BasicBlock, [3, 4, 6, 3]),
        50: (Bottleneck, [3, 4, 6, 3]),
        101: (Bottleneck, [3, 4, 23, 3]),
        152: (Bottleneck, [3, 8, 36, 3]),
    }
    if depth not in stages:
        raise LococoError(f"unknown ResNet depth {depth}; valid: {', '.join(map(str, DEPTHS))}")
    block, layers = stages[depth]
    return ResNet(block, layers)


class ImageEncoder(nn.Module):
    """Grey X-ray → ``EncoderFeatures(local B×C×h×w, global_ B×D)``."""

    def __init__(
        self,
        depth: int = 50,
        local_layer: str = "layer3",
        input_size: int = 224,
        weights: str | Path | None = None,
    ) -> None:
        super().__init__()
        from lococo.zfs.backbone import ImageNetInput, _load_weights

        backbone = resnet(depth)
        if weights is not None:
            _load_weights(backbone, Path(weights))
        try:
            encoder: nn.Module = TorchvisionEncoder(
                backbone, local_layer, "layer4", input_size=input_size
            )
        except (KeyError, ValueError) as err:
            raise LococoError(f"resnet{depth}: {err}") from None
        self.local_shape = encoder.local_shape
        self.local_channels = encoder.local_channels
        self.global_dim = encoder.global_dim
        self.depth, self.local_layer, self.input_size = depth, local_layer, input_size
        self.weights_source = f"imagenet:{weights}" if weights is not None else "scratch"
        self.encoder = ImageNetInput(encoder) if weights is not None else encoder

    def forward(self, images: Tensor) -> EncoderFeatures:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"images must be B×1×H×W (or B×3×H×W), got {tuple(images.shape)}")
        x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        return self.encoder(x)
