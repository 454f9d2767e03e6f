"""Layout conditioning of the OC-GAN generator (thesis 6.3.2, fig. B.2b,c, fig. 6.4).

A layout is ``boxes`` ``B×M×4`` (normalised ``x0, y0, x1, y1`` in ``[0, 1]``), ``labels``
``B×M`` (``int64``, padding rows 0) and ``valid`` ``B×M`` (``bool``). From it the generator's
normalisation layers get three concatenated maps at any side ``S``:

1. *masked object embeddings*: each object's vector (class embedding ⊕ per-object noise)
   times its soft shape (a mask net's sigmoid output placed inside its box), summed over the
   objects: ``embed_dim + obj_z_dim`` channels;
2. the *one-hot box layout*: one channel per class, 1 where a box of that class lies;
3. the *bounding-box instance boundaries* (with ``boundaries=True``): one channel, the
   maximum over the objects of each box's own outline (:func:`box_boundaries`: the box's
   pixels within ``width`` of its border; 1 px up to 64 px canvases, 2 px from 128 px). Two
   overlapping boxes of one class fill the same one-hot channel as one blob; their outlines
   still show both rectangles, including the edges lying inside the other box (fig. 6.4).

Rasterisation (shared by every map): box ``(x0, y0, x1, y1)`` covers the pixel columns
``floor(x0·S) <= i < max(ceil(x1·S), floor(x0·S) + 1)`` (clipped to the canvas), and rows
likewise, so every valid box covers at least one pixel, as the data's instance masks do.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

#: Width (pixels) of a box outline at side ``S``: 1 up to 64 px, 2 above (``boundary_width``).
_WIDE_FROM = 128


def boundary_width(size: int) -> int:
    """Outline width in pixels used at canvas side ``size`` (1, or 2 from 128 px)."""
    return 2 if size >= _WIDE_FROM else 1


def _pixel_bounds(boxes: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Integer pixel bounds ``[x0, x1)``, ``[y0, y1)`` of every box at side ``size``."""
    scaled = boxes.float() * size
    x0 = scaled[..., 0].floor().clamp(0, size - 1)
    y0 = scaled[..., 1].floor().clamp(0, size - 1)
    x1 = torch.maximum(scaled[..., 2].ceil().clamp(0, size), x0 + 1)
    y1 = torch.maximum(scaled[..., 3].ceil().clamp(0, size), y0 + 1)
    return x0, y0, x1, y1


def box_masks(boxes: Tensor, valid: Tensor, size: int) -> Tensor:
    """``B×M×S×S`` ``float``: 1 on the pixels each valid box covers (module docstring), else 0."""
    x0, y0, x1, y1 = _pixel_bounds(boxes, size)
    idx = torch.arange(size, device=boxes.device, dtype=torch.float32)
    cols = (idx >= x0[..., None]) & (idx < x1[..., None])  # B×M×S
    rows = (idx >= y0[..., None]) & (idx < y1[..., None])
    inside = rows[..., :, None] & cols[..., None, :] & valid[..., None, None]
    return inside.to(torch.float32)


def box_boundaries(boxes: Tensor, valid: Tensor, size: int, width: int = 1) -> Tensor:
    """``B×M×S×S`` ``float``: each valid box's own outline, ``width`` pixels thick.

    The outline is the box's covered pixels (:func:`box_masks`) that lie within ``width``
    pixels of its border, so a box thinner than ``2·width`` is all outline.
    """
    x0, y0, x1, y1 = _pixel_bounds(boxes, size)
    idx = torch.arange(size, device=boxes.device, dtype=torch.float32)
    cols = (idx >= x0[..., None]) & (idx < x1[..., None])
    rows = (idx >= y0[..., None]) & (idx < y1[..., None])
    inner_cols = (idx >= x0[..., None] + width) & (idx < x1[..., None] - width)
    inner_rows = (idx >= y0[..., None] + width) & (idx < y1[..., None] - width)
    inside = rows[..., :, None] & cols[..., None, :]
    interior = inner_rows[..., :, None] & inner_cols[..., None, :]
    return (inside & ~interior & valid[..., None, None]).to(torch.float32)


def boundary_map(boxes: Tensor, valid: Tensor, size: int, width: int | None = None) -> Tensor:
    """``B×1×S×S``: the maximum over objects of :func:`box_boundaries` (the conditioning
    channel; ``width`` defaults to :func:`boundary_width`)."""
    w = boundary_width(size) if width is None else width
    outlines = box_boundaries(boxes, valid, size, w)
    if outlines.shape[1] == 0:
        return outlines.new_zeros(outlines.shape[0], 1, size, size)
    return outlines.amax(dim=1, keepdim=True)


def one_hot_layout(
    boxes: Tensor, labels: Tensor, valid: Tensor, num_classes: int, size: int
) -> Tensor:
    """``B×num_classes×S×S``: channel ``c`` is 1 where a valid box of class ``c`` lies."""
    masks = box_masks(boxes, valid, size)  # B×M×S×S
    onehot = F.one_hot(labels.clamp(min=0), num_classes).to(masks.dtype)  # B×M×C
    onehot = onehot * valid[..., None].to(masks.dtype)
    # max over objects of mask·onehot, as a sum clamped to 1 (0/1 values)
    return torch.einsum("bmc,bmhw->bchw", onehot, masks).clamp(max=1.0)


def place_masks(masks: Tensor, boxes: Tensor, valid: Tensor, size: int) -> Tensor:
    """Box-relative shapes ``B×M×s×s`` placed on an ``S×S`` canvas: ``B×M×S×S``.

    Each shape is stretched over its box by bilinear sampling (``grid_sample``, differentiable
    in ``masks``) and multiplied by the box's pixel mask, so it is exactly 0 outside the pixels
    its box covers and for padding rows.
    """
    b, m = masks.shape[:2]
    if m == 0:
        return masks.new_zeros(b, 0, size, size)
    flat_boxes = boxes.reshape(-1, 4).to(masks.dtype)
    width = (flat_boxes[:, 2] - flat_boxes[:, 0]).clamp(min=1e-4)
    height = (flat_boxes[:, 3] - flat_boxes[:, 1]).clamp(min=1e-4)
    theta = masks.new_zeros(b * m, 2, 3)
    # output coordinate u in [-1, 1] -> mask coordinate (u - centre) / half-extent
    theta[:, 0, 0] = 1.0 / width
    theta[:, 0, 2] = -(flat_boxes[:, 0] + flat_boxes[:, 2] - 1.0) / width
    theta[:, 1, 1] = 1.0 / height
    theta[:, 1, 2] = -(flat_boxes[:, 1] + flat_boxes[:, 3] - 1.0) / height
    grid = F.affine_grid(theta, [b * m, 1, size, size], align_corners=False)
    placed = F.grid_sample(
        masks.reshape(b * m, 1, *masks.shape[2:]),
        grid,
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    ).reshape(b, m, size, size)
    return placed * box_masks(boxes, valid, size).to(placed.dtype)


class MaskNet(nn.Module):
    """Object vector → soft ``s×s`` shape (fig. B.2c): linear to ``4×4×C``, then (×2 nearest
    up-sampling, 3×3 conv, BatchNorm, ReLU) until ``s``, halving the channels at each step
    (at least 8; LostGAN keeps 128 throughout, too slow per object on a CPU), a 3×3 conv to
    one channel, sigmoid."""

    def __init__(self, in_dim: int, mask_size: int, channels: int = 64) -> None:
        super().__init__()
        if mask_size < 4 or mask_size & (mask_size - 1):
            raise ValueError(f"mask_size must be a power of two >= 4, not {mask_size}")
        self.channels = channels
        self.mask_size = mask_size
        self.fc = spectral_norm(nn.Linear(in_dim, channels * 16))
        layers: list[nn.Module] = []
        side, width = 4, channels
        while side < mask_size:
            narrower = max(8, width // 2)
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                spectral_norm(nn.Conv2d(width, narrower, 3, padding=1)),
                nn.BatchNorm2d(narrower),
                nn.ReLU(),
            ]
            side, width = side * 2, narrower
        layers += [spectral_norm(nn.Conv2d(width, 1, 3, padding=1)), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, vectors: Tensor) -> Tensor:
        """``K×in_dim`` → ``K×s×s`` in ``(0, 1)``."""
        x = F.relu(self.fc(vectors)).view(-1, self.channels, 4, 4)
        return self.body(x)[:, 0]


class ObjectCode(NamedTuple):
    """What :meth:`LayoutConditioning.encode` computes once per layout: ``vectors``
    ``B×M×W`` (class embedding ⊕ per-object noise; padding rows 0), ``shapes`` ``B×M×s×s``
    (mask-net output; padding rows 0) and the layout itself."""

    vectors: Tensor
    shapes: Tensor
    boxes: Tensor
    labels: Tensor
    valid: Tensor


class LayoutConditioning(nn.Module):
    """The generator's conditioning maps (module docstring): :meth:`encode` once, then
    :meth:`render` at each block's side. ``out_channels = embed_dim + obj_z_dim + num_classes
    (+ 1 with boundaries)``."""

    def __init__(
        self,
        num_classes: int,
        embed_dim: int,
        obj_z_dim: int,
        mask_size: int,
        boundaries: bool = True,
        mask_channels: int = 64,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.obj_z_dim = obj_z_dim
        self.boundaries = boundaries
        self.embedding = nn.Embedding(num_classes, embed_dim)
        self.vector_dim = embed_dim + obj_z_dim
        self.mask_net = MaskNet(self.vector_dim, mask_size, mask_channels)
        self.out_channels = self.vector_dim + num_classes + (1 if boundaries else 0)

    def encode(self, boxes: Tensor, labels: Tensor, valid: Tensor, obj_z: Tensor) -> ObjectCode:
        """Object vectors and shapes (the mask net runs on the valid objects only, so padding
        never enters its BatchNorm statistics; a layout without objects gives all parameters
        zero gradients)."""
        b, m = labels.shape
        vectors = torch.cat([self.embedding(labels.clamp(min=0)), obj_z], dim=-1)
        vectors = vectors * valid[..., None].to(vectors.dtype)
        side = self.mask_net.mask_size
        shapes = vectors.new_zeros(b, m, side, side)
        if bool(valid.any()):
            shapes = shapes.index_put((valid,), self.mask_net(vectors[valid]))
        else:  # keep the mask net in the graph (zero gradients) so DDP sees every parameter
            shapes = shapes + 0.0 * sum(p.sum() for p in self.mask_net.parameters())
        return ObjectCode(vectors, shapes, boxes, labels, valid)

    def placed(self, code: ObjectCode, size: int) -> Tensor:
        """``B×M×S×S`` soft masks of ``code`` on an ``S×S`` canvas."""
        return place_masks(code.shapes, code.boxes, code.valid, size)

    def render(self, code: ObjectCode, size: int, masks: Tensor | None = None) -> Tensor:
        """``B×out_channels×S×S`` conditioning map at side ``size`` (``masks``: the placed
        masks at that side when already computed)."""
        if masks is None:
            masks = self.placed(code, size)
        embedded = torch.einsum("bmw,bmhx->bwhx", code.vectors, masks)
        fixed = layout_maps(
            code.boxes, code.labels, code.valid, self.num_classes, size, self.boundaries
        )
        return torch.cat([embedded, fixed.to(embedded.dtype)], dim=1)

    def forward(
        self, boxes: Tensor, labels: Tensor, valid: Tensor, obj_z: Tensor, size: int
    ) -> Tensor:
        return self.render(self.encode(boxes, labels, valid, obj_z), size)


def layout_maps(
    boxes: Tensor, labels: Tensor, valid: Tensor, num_classes: int, size: int, boundaries: bool
) -> Tensor:
    """The learning-free part of the conditioning (one-hot layout, then the boundary channel
    when ``boundaries``): ``B×(num_classes [+1])×S×S``, what the patch discriminators see."""
    maps = [one_hot_layout(boxes, labels, valid, num_classes, size)]
    if boundaries:
        maps.append(boundary_map(boxes, valid, size))
    return torch.cat(maps, dim=1)
