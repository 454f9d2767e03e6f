"""Statistics networks (critics) that score every pair of a batch for ``lococo.mi.estimate``.

All critics take two batches ``a`` (``N`` samples) and ``b`` (``M`` samples) and return raw
scores ``scores[i, j, ...] = T(a_i, b_j[...])`` of shape ``N×M`` for vectors or ``N×M×*S``
for feature maps with spatial dims ``S`` (``H×W`` for images, ``L`` for 1-D text maps).
Rows index ``a``, columns ``b``; with ``N == M`` the diagonal holds the joint pairs.

* ``SeparableCritic`` / ``LocalGlobalCritic``: encode-and-dot-product (Deep InfoMax's
  encoder-and-dot architecture; cost linear in the batch before the final product).
* ``ConcatCritic`` / ``ConcatConvCritic``: concat-and-MLP / concat-and-convolve (Deep InfoMax
  Fig. 5, used by CMIM). The first layer of a concatenation is split into a part acting on
  ``a`` and a part acting on ``b`` and summed by broadcasting, which equals running the network
  on every concatenated pair, with memory ``N·M·hidden·positions``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class ResidualMLP(nn.Module):
    """``Linear–ReLU–Linear`` plus a linear shortcut, mapping ``in_dim`` to ``out_dim``."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)
        )
        self.shortcut = nn.Linear(in_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + self.shortcut(x)


class Residual1x1(nn.Module):
    """Deep InfoMax local block on maps ``B×C×*S``: ``conv1x1–ReLU–conv1x1`` + 1×1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv1d(in_channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, out_channels, 1),
        )
        self.shortcut = nn.Conv1d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(2)
        out = self.block(flat) + self.shortcut(flat)
        return out.reshape(x.shape[0], -1, *x.shape[2:])


class SeparableCritic(nn.Module):
    """Encode-and-dot-product critic for vectors: ``scores = f(A) @ g(B).T`` (``N×M``)."""

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        embed_dim: int = 128,
        hidden: int = 256,
        scale: bool = False,
    ) -> None:
        super().__init__()
        self.f = ResidualMLP(x_dim, embed_dim, hidden)
        self.g = ResidualMLP(y_dim, embed_dim, hidden)
        self.scale = 1.0 / math.sqrt(embed_dim) if scale else 1.0

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.f(x) @ self.g(y).T * self.scale


class LocalGlobalCritic(nn.Module):
    """Deep InfoMax local–global critic: ``scores[i, j, *s] = <g(global_i), f(local_j)[:, *s]>``.

    ``local`` is ``B×C×*S`` (e.g. ``B×C×H×W``) and ``global_`` is ``B'×D``; the result is
    ``B'×B×*S`` with rows indexing the global features. With ``scale`` the scores are divided
    by ``sqrt(embed_dim)``.
    """

    def __init__(
        self,
        local_channels: int,
        global_dim: int,
        embed_dim: int = 128,
        hidden: int | None = None,
        scale: bool = False,
    ) -> None:
        super().__init__()
        hidden = hidden or embed_dim
        self.local_net = Residual1x1(local_channels, embed_dim, hidden)
        self.global_net = ResidualMLP(global_dim, embed_dim, hidden)
        self.scale = 1.0 / math.sqrt(embed_dim) if scale else 1.0

    def forward(self, local: Tensor, global_: Tensor) -> Tensor:
        f = self.local_net(local)  # B×E×*S
        g = self.global_net(global_)  # B'×E
        scores = torch.einsum("ie,jep->ijp", g, f.flatten(2)) * self.scale
        return scores.reshape(g.shape[0], f.shape[0], *local.shape[2:])


class ConcatCritic(nn.Module):
    """Concat-and-MLP critic: ``scores[i, j] = MLP([x_i, y_j])`` for every pair (``N×M``).

    ``net`` is the MLP on the concatenation (``layers`` hidden layers of width ``hidden``).
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError("ConcatCritic needs at least one hidden layer")
        self.x_dim = x_dim
        modules: list[nn.Module] = [nn.Linear(x_dim + y_dim, hidden), nn.ReLU(inplace=True)]
        for _ in range(layers - 1):
            modules += [nn.Linear(hidden, hidden), nn.ReLU(inplace=True)]
        modules.append(nn.Linear(hidden, 1))
        self.net = nn.Sequential(*modules)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        first = self.net[0]
        assert isinstance(first, nn.Linear)
        wx, wy = first.weight[:, : self.x_dim], first.weight[:, self.x_dim :]
        h = (x @ wx.T)[:, None, :] + (y @ wy.T + first.bias)[None, :, :]  # N×M×hidden
        return self.net[1:](h).squeeze(-1)


class ConcatConvCritic(nn.Module):
    """Concat-and-convolve critic (Deep InfoMax Fig. 5, CMIM): all pairs of two feature maps.

    ``a`` and ``b`` are each a map ``B×C×*S`` or a vector ``B×C`` (tiled over the positions
    of the other); at least one must be a map, and two maps must share ``S``. Returns
    ``scores[i, j, *s] = T([a_i[:, s], b_j[:, s]])`` of shape ``B_a×B_b×*S``, where ``T`` is
    ``net``: 1×1 convolutions on the concatenated channels (``layers`` hidden layers).
    """

    def __init__(
        self, a_channels: int, b_channels: int, hidden: int = 256, layers: int = 2
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError("ConcatConvCritic needs at least one hidden layer")
        self.a_channels = a_channels
        modules: list[nn.Module] = [
            nn.Conv1d(a_channels + b_channels, hidden, 1),
            nn.ReLU(inplace=True),
        ]
        for _ in range(layers - 1):
            modules += [nn.Conv1d(hidden, hidden, 1), nn.ReLU(inplace=True)]
        modules.append(nn.Conv1d(hidden, 1, 1))
        self.net = nn.Sequential(*modules)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        spatial = _spatial_shape(a, b)
        first = self.net[0]
        assert isinstance(first, nn.Conv1d)
        w = first.weight.squeeze(-1)
        ha = _project(a, w[:, : self.a_channels])  # B_a×hidden×(P or 1)
        hb = _project(b, w[:, self.a_channels :]) + first.bias[None, :, None]
        h = ha[:, None] + hb[None, :]  # B_a×B_b×hidden×P
        n_a, n_b = h.shape[:2]
        out = self.net[1:](h.flatten(0, 1))  # (B_a·B_b)×1×P
        return out.reshape(n_a, n_b, *spatial)


def _project(x: Tensor, weight: Tensor) -> Tensor:
    """Apply a 1×1 linear map ``weight`` (``out×C``) to ``B×C`` or ``B×C×*S`` → ``B×out×P``."""
    flat = x.unsqueeze(-1) if x.dim() == 2 else x.flatten(2)
    return torch.einsum("oc,bcp->bop", weight, flat)


def _spatial_shape(a: Tensor, b: Tensor) -> tuple[int, ...]:
    """Spatial dims shared by the map inputs of a concat-and-convolve critic."""
    maps = [x.shape[2:] for x in (a, b) if x.dim() > 2]
    if not maps:
        raise ValueError("ConcatConvCritic needs at least one feature map; use ConcatCritic")
    if len(maps) == 2 and maps[0] != maps[1]:
        raise ValueError(f"feature maps differ in spatial shape: {tuple(maps[0])} vs {maps[1]}")
    return tuple(maps[0])
