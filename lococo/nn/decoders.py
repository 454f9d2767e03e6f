"""Decoders that mirror an encoder (VAE/AAE) and a small MLP discriminator for AAE codes.

:func:`build_decoder` reads the geometry of a :class:`~lococo.nn.encoders.ConvEncoder`
(stage shapes, strides, hidden linears) and builds its mirror image: a latent code goes through
the encoder's linears in reverse (each + BN + ReLU) to the last conv map, then one transposed
conv per encoder conv stage, in reverse, back to the encoder's input shape. Each transposed
conv undoes the whole stage (conv stride × pool stride); its kernel is ``2 × stride`` (4 for
the usual stride 2, as in DCGAN decoders; 3 for stride 1) and its padding / output padding are
solved by :func:`transposed_geometry` so that every map has exactly the encoder's size. Hidden
stages are ``ConvTranspose -> BN -> ReLU``; the last one outputs the image channels through
``tanh``, matching images scaled to ``[-1, 1]``. Widths follow the encoder's (already scaled)
channels, so ``encoder.width`` shrinks the decoder too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from torch import Tensor, nn

from lococo.nn.encoders import ConvEncoder

__all__ = [
    "ConvDecoder",
    "MLPDiscriminator",
    "build_decoder",
    "stage_strides",
    "transposed_geometry",
    "transposed_out_size",
]


def transposed_out_size(
    size: int, kernel: int, stride: int, padding: int, output_padding: int = 0
) -> int:
    """Output side of ``ConvTranspose2d`` (dilation 1) for an input of side ``size``."""
    return (size - 1) * stride - 2 * padding + kernel + output_padding


def transposed_geometry(in_size: int, out_size: int, kernel: int, stride: int) -> tuple[int, int]:
    """``(padding, output_padding)`` taking side ``in_size`` to ``out_size`` exactly.

    The smallest padding with ``0 <= output_padding < max(stride, 1)`` (PyTorch's constraint) and
    ``padding < kernel`` is chosen; raises ``ValueError`` when none exists.
    """
    for padding in range(kernel):
        output_padding = out_size - transposed_out_size(in_size, kernel, stride, padding)
        if 0 <= output_padding < max(stride, 1):
            return padding, output_padding
    raise ValueError(
        f"no transposed conv (kernel {kernel}, stride {stride}) maps side {in_size} to {out_size}"
    )


def _stride(module: nn.Module | None) -> int:
    if module is None:
        return 1
    stride = module.stride if module.stride is not None else module.kernel_size
    return int(stride if isinstance(stride, int) else stride[0])


def stage_strides(encoder: ConvEncoder) -> list[int]:
    """Total downsampling factor of every conv stage (conv stride × pool stride)."""
    return [_stride(stage.conv) * _stride(stage.pool) for stage in encoder.stages]


def _deconv_stage(
    in_channels: int, out_channels: int, in_size: int, out_size: int, stride: int, last: bool
) -> nn.Sequential:
    kernel = 2 * stride if stride > 1 else 3
    padding, output_padding = transposed_geometry(in_size, out_size, kernel, stride)
    deconv = nn.ConvTranspose2d(
        in_channels, out_channels, kernel, stride, padding, output_padding, bias=last
    )
    if last:
        return nn.Sequential(deconv, nn.Tanh())
    return nn.Sequential(deconv, nn.BatchNorm2d(out_channels), nn.ReLU())


class ConvDecoder(nn.Module):
    """Latent ``B×latent_dim`` -> image ``B×C×S×S`` in ``[-1, 1]`` (see the module docstring).

    ``shapes`` are the ``(C, H, W)`` maps from the image (first) to the last conv map, so
    ``shapes[0]`` is the output image shape; ``strides[i]`` is the factor between
    ``shapes[i]`` and ``shapes[i + 1]``; ``hidden`` are the widths of the linears between the
    latent code and the last map (in decoding order).
    """

    def __init__(
        self,
        latent_dim: int,
        shapes: Sequence[tuple[int, int, int]],
        strides: Sequence[int],
        hidden: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if len(strides) != len(shapes) - 1 or len(shapes) < 2:
            raise ValueError("need one stride per pair of consecutive shapes")
        self.latent_dim = latent_dim
        self.output_shape = tuple(shapes[0])
        self.map_shape = tuple(shapes[-1])
        widths = [latent_dim, *hidden, math.prod(self.map_shape)]
        self.linears = nn.Sequential(
            *(
                nn.Sequential(nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU())
                for a, b in itertools.pairwise(widths)
            )
        )
        stages = []
        for i in range(len(shapes) - 1, 0, -1):
            (c_in, s_in, _), (c_out, s_out, _) = shapes[i], shapes[i - 1]
            stages.append(_deconv_stage(c_in, c_out, s_in, s_out, strides[i - 1], last=i == 1))
        self.stages = nn.Sequential(*stages)

    def forward(self, z: Tensor) -> Tensor:
        x = self.linears(z).view(z.shape[0], *self.map_shape)
        return self.stages(x)


def build_decoder(encoder: ConvEncoder, latent_dim: int) -> ConvDecoder:
    """The decoder mirroring ``encoder``: ``latent_dim`` -> the encoder's input images."""
    in_channels = encoder.stages[0].conv.in_channels
    image = (in_channels, encoder.input_size, encoder.input_size)
    hidden = [block[0].out_features for block in encoder.hidden]
    return ConvDecoder(
        latent_dim,
        [image, *encoder.stage_shapes],
        stage_strides(encoder),
        hidden=hidden[::-1],
    )


class MLPDiscriminator(nn.Module):
    """Code ``B×latent_dim`` -> one logit per code (AAE prior discriminator).

    Two hidden layers with LeakyReLU(0.2), as the small MLP discriminators of Makhzani et al.
    (2015; they use two layers of 1000 units); no normalisation, so each sample's logit depends
    on that sample only.
    """

    def __init__(self, latent_dim: int, hidden: Sequence[int] = (512, 512)) -> None:
        super().__init__()
        widths = [latent_dim, *hidden]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(widths[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).squeeze(1)
