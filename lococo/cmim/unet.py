"""A 2-D U-Net split into an encoder that exposes its maps and a decoder that consumes them.

Built from MONAI's BasicUNet blocks (``TwoConv``, ``Down``, ``UpCat``: 3×3 conv–norm–LeakyReLU
pairs, max-pool down, transposed-conv up with concatenated skips), but not from ``BasicUNet``
itself: BasicUNet fixes four poolings and runs encoder and decoder in one ``forward``, so its
encoder maps can only be tapped with hooks, and several encoders cannot feed one decoder.
CMIM needs the encoder maps as local features (eq. 8.3.2), HeMIS needs one encoder per
modality whose maps are fused before a shared decoder, and the CPU profile needs a shallower
net. Here :class:`UNetEncoder` returns every level's map (``features[k]`` has ``widths[k]``
channels at ``1/2**k`` resolution) and :class:`UNetDecoder` takes such a list (with any
channel counts per level), so the same blocks serve every method.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.networks.nets.basic_unet import Down, TwoConv, UpCat
from torch import Tensor, nn

ACT = ("LeakyReLU", {"negative_slope": 0.1, "inplace": True})


def norm_spec(norm: str) -> tuple[str, dict]:
    """MONAI norm spec: instance norm with affine (BasicUNet's default), batch or group norm."""
    if norm == "instance":
        return ("instance", {"affine": True})
    if norm == "group":
        return ("group", {"num_groups": 4})
    if norm == "batch":
        return ("batch", {})
    raise ValueError(f"unknown norm {norm!r}; choose instance, batch or group")


class UNetEncoder(nn.Module):
    """``in_channels`` → maps ``[x_0, …, x_L]``; ``x_k`` is ``B×widths[k]×H/2^k×W/2^k``."""

    def __init__(
        self, in_channels: int, widths: Sequence[int], norm: str = "instance", dropout: float = 0.0
    ) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError("a U-Net needs at least two levels (widths of length >= 2)")
        spec = norm_spec(norm)
        self.widths = tuple(int(w) for w in widths)
        self.stem = TwoConv(2, in_channels, self.widths[0], ACT, spec, True, dropout)
        self.downs = nn.ModuleList(
            Down(2, a, b, ACT, spec, True, dropout)
            for a, b in zip(self.widths[:-1], self.widths[1:], strict=True)
        )

    @property
    def downsampling(self) -> int:
        """Input sides must be multiples of this."""
        return 2 ** len(self.downs)

    def forward(self, x: Tensor) -> list[Tensor]:
        maps = [self.stem(x)]
        for down in self.downs:
            maps.append(down(maps[-1]))
        return maps


class UNetDecoder(nn.Module):
    """Maps ``[x_0, …, x_L]`` with ``channels[k]`` channels → ``B×out_channels×H×W`` logits.

    Level ``k`` output has ``widths[k]`` channels; ``channels`` defaults to ``widths`` (a plain
    U-Net) and differs when the skips are fused features (HeMIS: mean and variance, 2×).
    """

    def __init__(
        self,
        widths: Sequence[int],
        out_channels: int = 1,
        channels: Sequence[int] | None = None,
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        channels = [int(c) for c in (channels or widths)]
        if len(channels) != len(widths):
            raise ValueError("channels and widths must have one entry per level")
        spec = norm_spec(norm)
        ups = []
        below = channels[-1]
        for k in range(len(widths) - 2, -1, -1):
            # halves=False: the transposed conv keeps ``below`` channels, which also suits the
            # fused (wider) inputs of HeMIS
            ups.append(
                UpCat(2, below, channels[k], widths[k], ACT, spec, True, dropout, halves=False)
            )
            below = widths[k]
        self.ups = nn.ModuleList(ups)
        self.head = nn.Conv2d(widths[0], out_channels, kernel_size=1)

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        x = maps[-1]
        for up, skip in zip(self.ups, reversed(maps[:-1]), strict=True):
            x = up(x, skip)
        return self.head(x)


class UNet(nn.Module):
    """Encoder + decoder; ``forward`` returns ``(logits, encoder maps)`` so the maps can be
    used as local features (e.g. by the cross-modal MI loss)."""

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        out_channels: int = 1,
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = UNetEncoder(in_channels, widths, norm, dropout)
        self.decoder = UNetDecoder(widths, out_channels, norm=norm, dropout=dropout)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        maps = self.encoder(x)
        return self.decoder(maps), maps
