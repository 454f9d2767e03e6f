"""A user's torchvision backbone as a frozen ZFS encoder (weights from a local file only)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from lococo.engine.weights import load_weights
from lococo.errors import DataError, LococoError
from lococo.nn.encoders import Encoder, TorchvisionEncoder

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetInput(Encoder):
    """Feeds an encoder ImageNet-normalised input: lococo's ``[-1, 1]`` images are mapped to
    ``(x01 - mean) / std`` before ``inner`` sees them. Everything else is ``inner``'s."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__()
        self.inner = inner
        self.input_size = inner.input_size
        self.local_shape = inner.local_shape
        self.local_channels = inner.local_channels
        self.global_dim = inner.global_dim
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def features(self, x: Tensor) -> dict[str, Tensor]:
        return self.inner.features(((x + 1.0) / 2.0 - self.mean) / self.std)


def torchvision_backbone(
    name: str,
    local_layer: str,
    *,
    input_size: int,
    weights: str | Path | None = None,
    global_layer: str | None = None,
    imagenet_input: bool | None = None,
) -> Encoder:
    """``torchvision.models.<name>`` wrapped as an :class:`Encoder` (local = ``local_layer``).

    ``weights`` is a local ``state_dict`` file (nothing is downloaded); without it the backbone
    keeps its random initialisation. ``imagenet_input`` (default: when weights are given) feeds
    ImageNet-normalised images.
    """
    import torchvision.models as models

    builder = getattr(models, name, None)
    if builder is None or not callable(builder) or name.startswith("_"):
        raise LococoError(f"unknown torchvision model {name!r} (see torchvision.models)")
    try:
        backbone: nn.Module = builder(weights=None)
    except TypeError as err:
        raise LococoError(f"torchvision.models.{name} is not a model builder ({err})") from None
    if weights is not None:
        _load_weights(backbone, Path(weights))
    try:
        encoder: Encoder = TorchvisionEncoder(
            backbone, local_layer, global_layer, input_size=input_size
        )
    except (KeyError, ValueError) as err:
        raise LococoError(f"{name}: {err}") from None
    use_imagenet = weights is not None if imagenet_input is None else imagenet_input
    return (ImageNetInput(encoder) if use_imagenet else encoder).eval()


def _load_weights(model: nn.Module, path: Path) -> None:
    state = load_weights(path, "weights file")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DataError(path, "not a state_dict")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise DataError(
            path, f"weights do not fit the model ({str(err).splitlines()[0]})"
        ) from None
