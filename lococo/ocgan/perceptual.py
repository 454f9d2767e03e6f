"""Feature extractors for the OC-GAN perceptual loss (thesis 6.3.4, ``L_P``).

``vgg19``: torchvision's ImageNet VGG19, built without downloading and loaded from a local
state-dict file (``vgg19-dcbb9e9d.pth``, torchvision's own, looked up at the configured path or
in ``$LOCOCO_WEIGHTS_DIR``), frozen, in eval mode. It returns the ReLU outputs named in
``layers``; the default ``relu1_1, relu2_1, relu3_1, relu4_1, relu5_1`` is the set used by
pix2pixHD's ``VGGLoss``, which SPADE and the LostGAN training scripts reuse (they then weight
the layers 1/32, 1/16, 1/8, 1/4, 1; the thesis instead divides each layer's L1 norm by its size
``D_i``, see :func:`lococo.ocgan.gan_losses.perceptual_l1`). Inputs in ``[-1, 1]`` are mapped to
ImageNet normalisation first.

``substitute``: a small fixed conv stack (five stages of 3×3 conv + ReLU, 2×2 max pooling
between stages, widths 16, 32, 64, 64, 64) initialised from a fixed seed and frozen, returning
its five ReLU outputs. It needs no file and costs ~7 MFLOP per 32-px image where VGG19 up
to ``relu5_1`` costs ~740 MFLOP (×16 at 128 px). It is a documented substitute for
offline and synthetic-data runs: a random-feature loss, **not comparable** with published
numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from lococo.errors import LococoError
from lococo.zfs.backbone import IMAGENET_MEAN, IMAGENET_STD

#: torchvision's ImageNet VGG19 state dict (looked up in ``LOCOCO_WEIGHTS_DIR``).
VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
SUBSTITUTE_WIDTHS = (16, 32, 64, 64, 64)
SUBSTITUTE_SEED = 20210
KINDS = ("vgg19", "substitute")


def vgg19_weights_path(configured: str, key: str = "perceptual_net") -> Path:
    """The VGG19 state-dict file: ``configured`` or ``$LOCOCO_WEIGHTS_DIR/<file>``.

    A missing file is one :class:`LococoError` line naming the file and the ``substitute``
    alternative (``key`` is the config key that selects the network).
    """
    if configured:
        path = Path(configured).expanduser()
    else:
        path = Path(os.environ.get("LOCOCO_WEIGHTS_DIR", "~/.cache/lococo/weights")).expanduser()
        path = path / VGG19_FILE
    if not path.is_file():
        raise LococoError(
            f"{path}: VGG19 ImageNet weights not found; put torchvision's {VGG19_FILE} "
            "(its vgg19 state dict) there, set LOCOCO_WEIGHTS_DIR=DIR or the weights path, "
            f"or use the random substitute network with {key}=substitute "
            "(results then not comparable)"
        )
    return path


def _vgg19_layer_names(features: nn.Sequential) -> dict[str, int]:
    """``relu<stage>_<k>`` → index in ``vgg19().features``."""
    names: dict[str, int] = {}
    stage, conv = 1, 0
    for i, layer in enumerate(features):
        if isinstance(layer, nn.Conv2d):
            conv += 1
        elif isinstance(layer, nn.ReLU):
            names[f"relu{stage}_{conv}"] = i
        elif isinstance(layer, nn.MaxPool2d):
            stage, conv = stage + 1, 0
    return names


class _FrozenFeatures(nn.Module):
    """A frozen ``nn.Sequential`` returning the outputs at ``taps`` (indices, ascending)."""

    name: str

    def __init__(self, body: nn.Sequential, taps: Sequence[int], imagenet_input: bool) -> None:
        super().__init__()
        self.body = body[: max(taps) + 1]
        self.taps = list(taps)
        self.imagenet_input = imagenet_input
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        for module in self.body:
            if isinstance(module, nn.ReLU):
                module.inplace = False
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> _FrozenFeatures:
        """Always in eval mode (frozen)."""
        return super().train(False)

    def forward(self, images: Tensor) -> list[Tensor]:
        """``images`` ``B×3×H×W`` in ``[-1, 1]`` → one feature map per tap."""
        x = ((images + 1.0) / 2.0 - self.mean) / self.std if self.imagenet_input else images
        out = []
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out


class VGG19Features(_FrozenFeatures):
    """Frozen ImageNet VGG19 features at ``layers`` (module docstring) from ``weights``."""

    def __init__(self, weights: str | Path, layers: Sequence[str] = VGG19_LAYERS) -> None:
        import torchvision

        from lococo.engine.weights import load_state_dict
        from lococo.errors import DataError

        state = load_state_dict(weights, "VGG19 weights file")  # refuse a bad file first
        vgg = torchvision.models.vgg19(weights=None)
        try:
            vgg.load_state_dict(state)
        except RuntimeError as err:
            problem = str(err).splitlines()[0]
            raise DataError(weights, f"weights do not fit VGG19 ({problem})") from None
        names = _vgg19_layer_names(vgg.features)
        unknown = [name for name in layers if name not in names]
        if unknown or not layers:
            raise LococoError(
                f"unknown VGG19 layer(s) {unknown or list(layers)}; choose from {', '.join(names)}"
            )
        super().__init__(vgg.features, sorted(names[name] for name in layers), True)
        self.layers = tuple(sorted(layers, key=names.__getitem__))
        self.name = "vgg19"


class SubstituteFeatures(_FrozenFeatures):
    """The seeded random conv stack (module docstring); ``name = "substitute"``."""

    def __init__(self, seed: int = SUBSTITUTE_SEED) -> None:
        generator = torch.Generator().manual_seed(seed)
        layers: list[nn.Module] = []
        taps: list[int] = []
        width_in = 3
        for stage, width in enumerate(SUBSTITUTE_WIDTHS):
            if stage:
                layers.append(nn.MaxPool2d(2))
            conv = nn.Conv2d(width_in, width, 3, padding=1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=generator)
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.ReLU()]
            taps.append(len(layers) - 1)
            width_in = width
        super().__init__(nn.Sequential(*layers), taps, False)
        self.layers = tuple(f"relu{i + 1}" for i in range(len(taps)))
        self.name = "substitute"


def build_perceptual(
    kind: Literal["vgg19", "substitute"],
    weights: str = "",
    key: str = "perceptual_net",
    layers: Sequence[str] = VGG19_LAYERS,
) -> _FrozenFeatures:
    """The perceptual feature network: ``vgg19`` (weights from ``weights`` or
    ``$LOCOCO_WEIGHTS_DIR``; ReLU outputs ``layers``, e.g. ``("relu1_2", "relu2_2",
    "relu3_4", "relu4_4", "relu5_4")`` for the last ReLU of each stage) or the random
    ``substitute`` (its five stage outputs; ``layers`` ignored). ``key`` names the config option
    in error messages."""
    if kind == "vgg19":
        return VGG19Features(vgg19_weights_path(weights, key), layers)
    if kind == "substitute":
        return SubstituteFeatures()
    raise LococoError(f"{key}={kind!r} is not valid; choose one of {', '.join(KINDS)}")
