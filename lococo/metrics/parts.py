"""Parts location probes on frozen local features (thesis 4.4.2, app. A.6).

Two ground-truth definitions (:data:`GROUND_TRUTHS`), both from the visible worker clicks:

* ``receptive_field`` (thesis A.6): every click becomes a ``square``-pixel square (original
  image pixels) centred on it, mapped through the resize (aspect not kept) and the centre crop
  into the encoder's input coordinates (:func:`click_boxes`); a local position is positive for
  a part when one of the part's boxes overlaps its receptive field (:func:`part_masks`). When
  the receptive field covers a large share of the input (small images) most positions are
  positive for every part, and even random features score well.
* ``stride_cell``: a position is positive when a click falls inside its own stride cell, the
  ``jump × jump`` input square centred on the position that tiles the input without overlap
  (:func:`click_points`, :func:`cell_masks`). The positive density is then about one position
  per click whatever the receptive field, as with the thesis' 14×14 map on CUB.

One linear probe per part reads each position's feature vector (:func:`fit_parts_probe`);
:func:`parts_f1` reports its F1 over all test positions.

Coordinates are pixel-index coordinates, as in :mod:`lococo.nn.encoders`: pixel ``i`` is
centred at ``i`` and covers ``[i - 0.5, i + 0.5]``, so an input of side ``S`` spans
``[-0.5, S - 0.5]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "GROUND_TRUTHS",
    "PartsProbe",
    "binary_counts",
    "binary_f1",
    "cell_masks",
    "click_boxes",
    "click_points",
    "fit_parts_probe",
    "part_masks",
    "parts_f1",
]

Field = tuple[float, float, float]
#: The ground-truth definitions of parts F1 (see the module docstring).
GROUND_TRUTHS = ("receptive_field", "stride_cell")
CHUNK_ELEMENTS = 1 << 22  # elements per chunk of the mask and feature passes


# --------------------------------------------------------------------------- boxes and masks


def _crop_offset(image_size: int, crop: int) -> int:
    if not 0 < crop <= image_size:
        raise ValueError(f"crop {crop} must lie in 1..image_size ({image_size})")
    return round((image_size - crop) / 2)


def _to_input(coord: np.ndarray, scale: np.ndarray, offset: int) -> np.ndarray:
    """Original pixel-index coordinates -> crop coordinates (resize by ``scale``, then crop)."""
    return (coord + 0.5) * scale - 0.5 - offset


def _image_rows(image_ids: np.ndarray, images: np.ndarray | None, num_images: int) -> np.ndarray:
    """Row of each click's image: its position in ``images`` (or -1), else the image index."""
    if images is None:
        return image_ids
    images = np.asarray(images, dtype=np.int64).reshape(-1)
    if images.size and (images.min() < 0 or images.max() >= num_images):
        raise ValueError(f"images must index 0..{num_images - 1}")
    if np.unique(images).size != images.size:
        raise ValueError("images holds repeated indices")
    position = np.full(num_images, -1, dtype=np.int64)
    position[images] = np.arange(images.size)
    return position[image_ids]


def click_boxes(
    clicks: np.ndarray,
    image_sizes: np.ndarray,
    image_size: int,
    crop: int,
    square: float = 10.0,
    images: np.ndarray | None = None,
) -> np.ndarray:
    """``K×6`` boxes ``(row, part, x0, y0, x1, y1)`` of the visible clicks in crop coordinates.

    ``clicks`` is ``M×5`` (image index, part index, x, y, visible) in original pixels and
    ``image_sizes`` ``N×2`` (width, height). Each visible click gives a ``square``-pixel
    square centred on it, resized from ``width × height`` to ``image_size × image_size`` and
    shifted by the centre-crop offset ``round((image_size - crop) / 2)``; boxes are clipped to
    the crop ``[-0.5, crop - 0.5]`` and dropped when nothing is left. ``row`` is the click's
    image index, or its position in ``images`` when given (clicks of other images dropped).
    """
    clicks = np.asarray(clicks, dtype=np.float64)
    sizes = np.asarray(image_sizes, dtype=np.float64)
    if clicks.ndim != 2 or clicks.shape[1] != 5:
        raise ValueError(f"clicks must be M×5, got shape {clicks.shape}")
    if sizes.ndim != 2 or sizes.shape[1] != 2 or (sizes <= 0).any():
        raise ValueError("image_sizes must be N×2 positive (width, height)")
    offset = _crop_offset(image_size, crop)
    image_ids = clicks[:, 0].astype(np.int64)
    if image_ids.size and (image_ids.min() < 0 or image_ids.max() >= len(sizes)):
        raise ValueError(f"click image indices must lie in 0..{len(sizes) - 1}")
    rows = _image_rows(image_ids, images, len(sizes))
    keep = (clicks[:, 4] > 0) & (rows >= 0)
    clicks, rows, image_ids = clicks[keep], rows[keep], image_ids[keep]
    scale_x = image_size / sizes[image_ids, 0]
    scale_y = image_size / sizes[image_ids, 1]
    half, low, high = square / 2.0, -0.5, crop - 0.5
    x, y = clicks[:, 2], clicks[:, 3]
    x0 = np.clip(_to_input(x - half, scale_x, offset), low, high)
    x1 = np.clip(_to_input(x + half, scale_x, offset), low, high)
    y0 = np.clip(_to_input(y - half, scale_y, offset), low, high)
    y1 = np.clip(_to_input(y + half, scale_y, offset), low, high)
    boxes = np.column_stack([rows, clicks[:, 1], x0, y0, x1, y1]).astype(np.float64)
    return boxes[(x1 > x0) & (y1 > y0)]


def click_points(
    clicks: np.ndarray,
    image_sizes: np.ndarray,
    image_size: int,
    crop: int,
    images: np.ndarray | None = None,
) -> np.ndarray:
    """``K×4`` points ``(row, part, x, y)`` of the visible clicks in crop coordinates.

    The click centres of :func:`click_boxes` (same resize, crop offset and ``row``); clicks
    falling outside the crop ``[-0.5, crop - 0.5)`` are dropped.
    """
    boxes = click_boxes(clicks, image_sizes, image_size, crop, square=1e-6, images=images)
    x = (boxes[:, 2] + boxes[:, 4]) / 2
    y = (boxes[:, 3] + boxes[:, 5]) / 2
    inside = (x >= -0.5) & (x < crop - 0.5) & (y >= -0.5) & (y < crop - 0.5)
    return np.column_stack([boxes[:, 0], boxes[:, 1], x, y])[inside]


def _cell_index(coord: np.ndarray, field: Field) -> np.ndarray:
    """Unit whose stride cell ``[c - jump/2, c + jump/2)``, ``c = start + k·jump``, holds
    ``coord``."""
    _, jump, start = field
    return np.floor((coord - start + jump / 2) / jump).astype(np.int64)


def cell_masks(
    points: np.ndarray,
    num_images: int,
    num_parts: int,
    grid: tuple[int, int],
    receptive_field: tuple[int, float, float] | tuple[tuple, tuple],
) -> Tensor:
    """Bool ``N×P×H×W``: True where a point of part ``p`` in image ``n`` lies in the stride cell
    of position ``(h, w)`` (the ``stride_cell`` ground truth).

    ``points`` are :func:`click_points` rows; ``receptive_field`` as for :func:`part_masks`
    (only ``jump`` and ``start`` matter). Points in no cell of the grid are ignored.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 4)
    height, width = (int(g) for g in grid)
    rows_field, cols_field = _axis_fields(receptive_field)
    rows, parts = points[:, 0].astype(np.int64), points[:, 1].astype(np.int64)
    _check_index(rows, num_images, "point rows")
    _check_index(parts, num_parts, "point parts")
    ys, xs = _cell_index(points[:, 3], rows_field), _cell_index(points[:, 2], cols_field)
    keep = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
    out = torch.zeros(num_images, num_parts, height, width, dtype=torch.bool)
    index = [torch.from_numpy(a[keep]) for a in (rows, parts, ys, xs)]
    out[index[0], index[1], index[2], index[3]] = True
    return out


def _axis_fields(receptive_field: Sequence) -> tuple[Field, Field]:
    """``(rows field, columns field)`` from one shared triple or a pair of triples."""
    if len(receptive_field) == 3 and all(np.isscalar(v) for v in receptive_field):
        field = tuple(float(v) for v in receptive_field)
        return field, field  # type: ignore[return-value]
    if len(receptive_field) == 2 and all(len(f) == 3 for f in receptive_field):
        return tuple(tuple(float(v) for v in f) for f in receptive_field)  # type: ignore[return-value]
    raise ValueError(
        "receptive_field must be (rf_size, jump, start) or a (rows, cols) pair of them"
    )


def _unit_range(lo: np.ndarray, hi: np.ndarray, field: Field, size: int) -> tuple[np.ndarray, ...]:
    """First and last unit (clipped to ``0..size-1``) whose field overlaps ``(lo, hi)``.

    Unit ``k`` covers ``[c - rf/2, c + rf/2]`` with ``c = start + k * jump``; it overlaps the
    interval when ``lo < c + rf/2`` and ``hi > c - rf/2`` (a shared edge alone is no overlap).
    """
    rf, jump, start = field
    first = np.floor((lo - start - rf / 2) / jump).astype(np.int64) + 1
    last = np.ceil((hi - start + rf / 2) / jump).astype(np.int64) - 1
    return np.maximum(first, 0), np.minimum(last, size - 1)


def _fill_chunk(
    keys: np.ndarray, y_range: tuple, x_range: tuple, count: int, grid: tuple[int, int]
) -> np.ndarray:
    """Union of rectangles per key (2-D difference array + cumulative sums): bool ``count×H×W``."""
    height, width = grid
    (y0, y1), (x0, x1) = y_range, x_range
    plane = (height + 1) * (width + 1)
    corners = [(y0, x0, 1), (y0, x1 + 1, -1), (y1 + 1, x0, -1), (y1 + 1, x1 + 1, 1)]
    flat = np.concatenate([keys * plane + ys * (width + 1) + xs for ys, xs, _ in corners])
    signs = np.concatenate([np.full(len(keys), s, dtype=np.float64) for *_, s in corners])
    diff = np.bincount(flat, weights=signs, minlength=count * plane)
    diff = diff.reshape(count, height + 1, width + 1).cumsum(1).cumsum(2)
    return diff[:, :height, :width] > 0.5


def _check_index(values: np.ndarray, limit: int, what: str) -> None:
    if values.size and (values.min() < 0 or values.max() >= limit):
        raise ValueError(f"{what} must lie in 0..{limit - 1}")


def part_masks(
    boxes: np.ndarray,
    num_images: int,
    num_parts: int,
    grid: tuple[int, int],
    receptive_field: tuple[int, float, float] | tuple[tuple, tuple],
) -> Tensor:
    """Bool ``N×P×H×W``: True where a box of part ``p`` in image ``n`` overlaps field ``(h, w)``.

    ``boxes`` are :func:`click_boxes` rows. ``receptive_field`` is ``(rf_size, jump, start)``
    for both axes, or ``((rows triple), (columns triple))``. Unit ``k`` along an axis covers
    the closed interval ``[start + k*jump - rf/2, start + k*jump + rf/2]`` (its ``rf`` pixels);
    a box ``[x0, x1] × [y0, y1]`` overlaps a field when both intervals overlap with positive
    length (``x0 < right`` and ``x1 > left``), so touching edges do not count. Fields are not
    clipped here; :func:`click_boxes` clips the boxes to the input, which is equivalent.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    height, width = (int(g) for g in grid)
    rows_field, cols_field = _axis_fields(receptive_field)
    rows, parts = boxes[:, 0].astype(np.int64), boxes[:, 1].astype(np.int64)
    _check_index(rows, num_images, "box rows")
    _check_index(parts, num_parts, "box parts")
    y0, y1 = _unit_range(boxes[:, 3], boxes[:, 5], rows_field, height)
    x0, x1 = _unit_range(boxes[:, 2], boxes[:, 4], cols_field, width)
    hit = (y0 <= y1) & (x0 <= x1)
    keys = rows * num_parts + parts
    order = np.flatnonzero(hit)[np.argsort(keys[hit], kind="stable")]
    keys, y0, y1, x0, x1 = (a[order] for a in (keys, y0, y1, x0, x1))
    out = np.zeros((num_images * num_parts, height, width), dtype=bool)
    step = max(1, CHUNK_ELEMENTS // ((height + 1) * (width + 1)))
    for begin in range(0, num_images * num_parts, step):
        end = min(begin + step, num_images * num_parts)
        lo, hi = np.searchsorted(keys, [begin, end])
        if hi > lo:
            part = slice(lo, hi)
            ranges = (y0[part], y1[part]), (x0[part], x1[part])
            out[begin:end] = _fill_chunk(keys[part] - begin, *ranges, end - begin, (height, width))
    return torch.from_numpy(out.reshape(num_images, num_parts, height, width))


# --------------------------------------------------------------------------- F1


def binary_counts(
    pred: Tensor, target: Tensor, dim: int | tuple[int, ...] | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """True positives, false positives and false negatives of bool tensors, summed over ``dim``."""
    pred, target = pred.bool(), target.bool()
    dims = tuple(range(pred.dim())) if dim is None else dim
    tp = (pred & target).sum(dims, dtype=torch.int64)
    fp = (pred & ~target).sum(dims, dtype=torch.int64)
    fn = (~pred & target).sum(dims, dtype=torch.int64)
    return tp, fp, fn


def _f1(tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
    denom = (2 * tp + fp + fn).double()
    return torch.where(denom > 0, 2 * tp.double() / denom.clamp_min(1), torch.nan)


def binary_f1(pred: Tensor, target: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """F1 of bool predictions, reducing over ``dim`` (all dims when None), as float64.

    ``2·TP / (2·TP + FP + FN)``; NaN where there is neither a positive nor a prediction.
    For ``N×P×H×W`` tensors, ``dim=(0, 2, 3)`` gives one F1 per part.
    """
    return _f1(*binary_counts(pred, target, dim))


# --------------------------------------------------------------------------- probes


@dataclass
class PartsProbe:
    """Per-part linear probes: ``logit = weight @ ((x - mean) / std) + bias`` per position."""

    weight: Tensor  # P×C
    bias: Tensor  # P
    mean: Tensor  # C
    std: Tensor  # C

    @torch.no_grad()
    def logits(self, local: Tensor) -> Tensor:
        """``N×P×H×W`` logits of ``N×C×H×W`` features (computed in chunks of images)."""
        local = local.detach()
        scale = self.weight / self.std  # fold the standardisation into the 1×1 conv
        shift = self.bias - scale @ self.mean
        conv = scale[:, :, None, None]
        step = _image_chunk(local)
        chunks = [
            F.conv2d(local[i : i + step].to(scale), conv, shift) for i in range(0, len(local), step)
        ]
        return (
            torch.cat(chunks) if chunks else local.new_zeros((0, len(self.bias), *local.shape[2:]))
        )

    def predict(self, local: Tensor) -> Tensor:
        """Bool ``N×P×H×W``: positive where the logit is above 0."""
        return self.logits(local) > 0


def _image_chunk(local: Tensor) -> int:
    return max(1, CHUNK_ELEMENTS // max(1, math.prod(local.shape[1:])))


@torch.no_grad()
def _channel_stats(local: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std (float64 sums over images and positions, in chunks)."""
    total = torch.zeros(local.shape[1], dtype=torch.float64, device=local.device)
    squares = torch.zeros_like(total)
    step = _image_chunk(local)
    for i in range(0, len(local), step):
        chunk = local[i : i + step].double()
        total += chunk.sum((0, 2, 3))
        squares += chunk.square().sum((0, 2, 3))
    count = max(1, local.shape[0] * local.shape[2] * local.shape[3])
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return mean.float(), std.float()


def _check_pair(local: Tensor, masks: Tensor, what: str) -> None:
    if local.dim() != 4 or masks.dim() != 4:
        raise ValueError(f"{what} features and masks must be 4-D (N×C×H×W, N×P×H×W)")
    if local.shape[0] != masks.shape[0] or local.shape[2:] != masks.shape[2:]:
        raise ValueError(
            f"{what} features {tuple(local.shape)} and masks {tuple(masks.shape)} disagree on "
            "images or grid"
        )


def _gather(maps: Tensor, index: Tensor, grid: tuple[int, int]) -> Tensor:
    """``B×C`` vectors of ``N×C×H×W`` maps at flat position indices ``n·H·W + h·W + w``."""
    height, width = grid
    index = index.to(maps.device)
    return maps[index // (height * width), :, index // width % height, index % width]


def fit_parts_probe(
    local: Tensor,
    masks: Tensor,
    *,
    epochs: int = 30,
    lr: float = 5e-2,
    weight_decay: float = 0.0,
    batch_size: int = 4096,
    balanced: bool = True,
    seed: int = 0,
) -> PartsProbe:
    """Train one logistic probe per part on every position of frozen ``N×C×H×W`` features.

    Features are detached and standardised with their per-channel mean/std; the probes (a 1×1
    conv ``C -> P``, zero-initialised) see shuffled minibatches of positions (Adam, L2
    ``weight_decay``, shuffling seeded by ``seed``). Each part has its own logistic loss; with
    ``balanced`` its positives are weighted by ``negatives / positives`` (train counts), so
    both classes weigh the same and rare parts are not predicted absent everywhere.
    """
    _check_pair(local, masks, "train")
    local = local.detach()
    device, grid = local.device, (local.shape[2], local.shape[3])
    mean, std = _channel_stats(local)
    parts = masks.shape[1]
    positives = masks.sum((0, 2, 3), dtype=torch.int64).double()
    negatives = masks[:, 0].numel() - positives
    pos_weight = torch.where(positives > 0, negatives / positives.clamp_min(1), 1.0)
    weight = torch.zeros(parts, local.shape[1], device=device, requires_grad=True)
    bias = torch.zeros(parts, device=device, requires_grad=True)
    optimiser = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    pos_weight = pos_weight.float().to(device) if balanced else None
    for _ in range(epochs):
        for batch in torch.randperm(masks[:, 0].numel(), generator=generator).split(batch_size):
            with torch.no_grad():
                x = (_gather(local, batch, grid).float() - mean) / std
                y = _gather(masks, batch, grid).to(device=device, dtype=torch.float32)
            loss = F.binary_cross_entropy_with_logits(x @ weight.T + bias, y, pos_weight=pos_weight)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return PartsProbe(weight.detach(), bias.detach(), mean, std)


def _mean_valid(values: Tensor, valid: Tensor) -> float:
    return float(values[valid].mean()) if bool(valid.any()) else math.nan


def parts_f1(
    train_local: Tensor,
    train_masks: Tensor,
    test_local: Tensor,
    test_masks: Tensor,
    *,
    epochs: int = 30,
    lr: float = 5e-2,
    weight_decay: float = 0.0,
    batch_size: int = 4096,
    balanced: bool = True,
    seed: int = 0,
    part_names: Sequence[str] | None = None,
) -> dict:
    """Parts F1 of frozen local features (thesis 4.4.2): fit probes on train, score on test.

    See :func:`fit_parts_probe` for the training. A position is predicted positive where the
    logit is above 0; F1, precision and recall of each part are computed over ALL test
    positions of all images. Parts without a positive in train or test are NaN in
    ``per_part`` and left out of the means. Returns ``{"f1", "per_part", "precision",
    "recall", "per_part_precision", "per_part_recall", "parts", "positive_rate"}``
    (``positive_rate``: test positive share per part).

    Each part's probe is independent of the others' (own weights, own loss term, Adam's
    per-parameter steps), so stacking the masks of several ground truths along the parts
    dimension fits them all at the cost of one fit.
    """
    _check_pair(test_local, test_masks, "test")
    if train_local.shape[1] != test_local.shape[1] or train_masks.shape[1] != test_masks.shape[1]:
        raise ValueError("train and test disagree on feature channels or parts")
    parts = train_masks.shape[1]
    names = list(part_names) if part_names is not None else [f"part{p}" for p in range(parts)]
    if len(names) != parts:
        raise ValueError(f"{len(names)} part names for {parts} parts")
    probe = fit_parts_probe(
        train_local, train_masks, epochs=epochs, lr=lr, weight_decay=weight_decay,
        batch_size=batch_size, balanced=balanced, seed=seed,
    )  # fmt: skip
    tp, fp, fn = _test_counts(probe, test_local, test_masks)
    valid = (train_masks.sum((0, 2, 3)) > 0).cpu() & (tp + fn > 0)
    nan = torch.tensor(math.nan, dtype=torch.float64)
    f1 = torch.where(valid, _f1(tp, fp, fn), nan)
    precision = torch.where(valid, tp.double() / (tp + fp).clamp_min(1), nan)
    recall = torch.where(valid, tp.double() / (tp + fn).clamp_min(1), nan)
    rate = (tp + fn).double() / max(1, test_masks[:, 0].numel())
    return {
        "f1": _mean_valid(f1, valid),
        "per_part": [float(v) for v in f1],
        "precision": _mean_valid(precision, valid),
        "recall": _mean_valid(recall, valid),
        "per_part_precision": [float(v) for v in precision],
        "per_part_recall": [float(v) for v in recall],
        "parts": names,
        "positive_rate": [float(v) for v in rate],
    }


def _test_counts(probe: PartsProbe, local: Tensor, masks: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-part TP, FP, FN over all positions, in chunks of images (CPU int64)."""
    counts = [torch.zeros(masks.shape[1], dtype=torch.int64) for _ in range(3)]
    step = _image_chunk(local)
    for i in range(0, len(local), step):
        pred = probe.predict(local[i : i + step])
        target = masks[i : i + step].to(pred.device)
        for total, part in zip(counts, binary_counts(pred, target, (0, 2, 3)), strict=True):
            total += part.cpu()
    return counts[0], counts[1], counts[2]
