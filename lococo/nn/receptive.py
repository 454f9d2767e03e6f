"""Receptive fields of an encoder's feature maps: analytic when known, else measured.

Fields use the pixel-index convention of :mod:`lococo.nn.encoders`: unit ``k`` of a map is
centred at input pixel ``start + k * jump`` and sees ``rf_size`` pixels per axis.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["empirical_receptive_field", "encoder_receptive_field"]

PROBES = 8  # random inputs whose gradient supports are united


def _stage_map(encoder: nn.Module, x: Tensor, stage: str) -> Tensor:
    feats = encoder.features(x)
    if stage not in feats:
        raise ValueError(f"no stage {stage!r} in the encoder's features: {', '.join(feats)}")
    out = feats[stage]
    if out.dim() != 4:
        raise ValueError(f"stage {stage!r} is not a B×C×H×W map (shape {tuple(out.shape)})")
    return out


def _supports(encoder: nn.Module, x: Tensor, stage: str, units: list[tuple[int, int]]) -> list:
    """For each ``(h, w)`` unit: bool ``S×S`` input pixels with a nonzero gradient (any probe)."""
    out = []
    for h, w in units:
        x = x.detach().requires_grad_(True)
        score = _stage_map(encoder, x, stage)[:, :, h, w].sum()
        (grad,) = torch.autograd.grad(score, x)
        out.append((grad != 0).any(dim=(0, 1)))
    return out


def _extent(support: Tensor, axis: int) -> tuple[int, int]:
    """First and last input index along ``axis`` (0: rows, 1: columns) with any support."""
    hits = torch.nonzero(support.any(dim=1 - axis)).flatten()
    if hits.numel() == 0:
        raise ValueError("no input pixel influences the probed unit (dead network?)")
    return int(hits[0]), int(hits[-1])


def _axis_field(
    spans: list[tuple[int, int]], units: list[int], side: int
) -> tuple[int, int, float]:
    """``(rf, jump, start)`` along one axis from the spans of two neighbouring units."""
    (lo_a, hi_a), (lo_b, hi_b) = spans
    step = units[1] - units[0]
    if lo_a > 0 and lo_b > 0:
        jump = (lo_b - lo_a) // step
    elif hi_a < side - 1 and hi_b < side - 1:
        jump = (hi_b - hi_a) // step
    else:
        raise ValueError("receptive fields reach both image borders; use a larger input_size")
    for (lo, hi), k in zip(spans, units, strict=True):
        if lo > 0 and hi < side - 1:
            return hi - lo + 1, jump, (lo + hi) / 2 - k * jump
    raise ValueError("every probed receptive field is clipped by the border; use a larger input")


def _probe_units(size: int) -> list[int]:
    """A central unit and a neighbour along one axis of a map of ``size`` units."""
    if size < 2:
        raise ValueError("the map needs at least 2 units per axis; use a larger input_size")
    centre = size // 2
    return [centre, centre + 1] if centre + 1 < size else [centre - 1, centre]


def empirical_receptive_field(
    encoder: nn.Module, stage: str = "local", input_size: int | None = None
) -> tuple[int, int, float]:
    """``(rf_size, jump, start)`` of ``encoder.features(x)[stage]``, measured with autograd.

    The encoder runs in eval mode (restored afterwards) on a batch of seeded random inputs of
    side ``input_size`` (default ``encoder.input_size``); the field of a unit is the span of
    input pixels where the gradient of its channel sum is nonzero for any input (ReLUs and
    max-pools cut paths per input, so supports are united). Two neighbouring central units
    give the jump; ``start`` is the first unit's centre extrapolated to index 0. Parameters
    get no gradient. Fields clipped by both borders cannot be measured (ValueError).
    """
    side = int(input_size if input_size is not None else encoder.input_size)
    channels = _in_channels(encoder)
    generator = torch.Generator().manual_seed(0)
    param = next(encoder.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.rand(PROBES, channels, side, side, generator=generator).mul(2).sub(1).to(device)
    modes = [(m, m.training) for m in encoder.modules()]
    encoder.eval()
    try:
        with torch.enable_grad():
            with torch.no_grad():
                grid = _stage_map(encoder, x[:1], stage).shape[2:]
            rows, cols = _probe_units(grid[0]), _probe_units(grid[1])
            supports = _supports(encoder, x, stage, list(zip(rows, cols, strict=True)))
    finally:
        for module, mode in modes:
            module.training = mode
    row_field = _axis_field([_extent(s, 0) for s in supports], rows, side)
    col_field = _axis_field([_extent(s, 1) for s in supports], cols, side)
    if row_field != col_field:
        raise ValueError(f"non-square receptive fields: rows {row_field}, columns {col_field}")
    return row_field


def _in_channels(encoder: nn.Module) -> int:
    for module in encoder.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return 3


def encoder_receptive_field(encoder: nn.Module, stage: str = "local") -> tuple[int, int, float]:
    """The analytic ``encoder.receptive_field(stage)`` when available, else the measured one.

    Fields wider than the encoder's input (a ResNet's ``layer2`` on 56-pixel crops) are
    measured on larger inputs (up to 8× the side): convolutional geometry does not depend on
    the input side, so ``(rf, jump, start)`` carry over.
    """
    analytic = getattr(encoder, "receptive_field", None)
    if callable(analytic):
        return analytic(stage)
    side = int(getattr(encoder, "input_size", 64))
    for scale in (1, 2, 4, 8):
        try:
            return empirical_receptive_field(encoder, stage, input_size=side * scale)
        except ValueError as err:
            if "border" not in str(err) or scale == 8:
                raise
    raise AssertionError("unreachable")
