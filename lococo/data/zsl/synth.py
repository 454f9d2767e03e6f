"""Synthetic "compositional birds": a zero-shot dataset in the CUB-200-2011 + xlsa17 formats.

Every class is a combination of attribute values (crown colour, wing colour and pattern, breast
and upperparts colour, bill and tail shape, size). The unseen classes are chosen so that each of
their attribute values appears in some seen class: only the *combination* is new. Every image
shows one bird made of the 15 CUB parts, drawn at a random position, scale, tilt and facing
direction on a cluttered background whose distractor shapes use the same colours, so the class
evidence is local to the object.

Output layout under ``out`` (the real on-disk formats, so the CUB and xlsa17 readers load it)::

    attributes.txt                      id has_<group>::<value>
    CUB_200_2011/                       images.txt, classes.txt, image_class_labels.txt,
                                        train_test_split.txt, bounding_boxes.txt, README,
                                        parts/{parts,part_locs,part_click_locs}.txt,
                                        attributes/{image_attribute_labels,
                                        class_attribute_labels_continuous,certainties}.txt,
                                        images/<NNN.Class>/<Class>_<nnnn>_<id>.jpg
    xlsa17/data/CUB/                    att_splits.mat, res101.mat (no ``features``),
                                        trainvalclasses.txt, testclasses.txt,
                                        trainclasses1.txt, valclasses1.txt
    synth_zsl.json                      the generator's parameters (not part of the real formats)

Presets (``preset=``): ``simple`` is the original generator, kept bit-identical so that old numbers
can be re-made; ``realistic`` (:mod:`lococo.data.zsl.synth_realistic`) adds textured surfaces,
palette-coloured and part-like clutter, articulation, occlusion, class-correlated habitats and
attributes that are noisy or not visible for some images.

``res101.mat`` holds ``image_files`` (absolute paths with the foreign prefix of the real file) and
``labels`` but no ResNet-101 ``features``: readers must compute features from the images.
"""

from __future__ import annotations

import functools
import io
import math
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from lococo.data.staging import (
    SynthArgumentError,
    check_output_dir,
    move_into_place,
    staging_dir,
    worker_pool,
)
from lococo.io import write_json

PART_NAMES: tuple[str, ...] = (
    "back",
    "beak",
    "belly",
    "breast",
    "crown",
    "forehead",
    "left eye",
    "left leg",
    "left wing",
    "nape",
    "right eye",
    "right leg",
    "right wing",
    "tail",
    "throat",
)
CERTAINTIES: tuple[str, ...] = ("not visible", "guessing", "probably", "definitely")
PRESETS: tuple[str, ...] = ("simple", "realistic")
FOREIGN_PREFIX = "/BS/Deep_Fragments/work/MSc/CUB_200_2011/CUB_200_2011/images/"
JPEG_QUALITY = 90
_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (205, 35, 35),
    "blue": (35, 75, 210),
    "yellow": (235, 205, 30),
    "green": (40, 155, 55),
    "black": (25, 25, 25),
    "white": (240, 240, 240),
    "brown": (135, 80, 40),
    "grey": (130, 130, 135),
    "orange": (240, 125, 25),
}
COLOUR_GROUPS = ("crown_color", "wing_color", "breast_color", "upperparts_color")

# Every value the renderer can draw, per group, and the look used when a group is left out.
VOCABULARY: dict[str, tuple[str, ...]] = {
    **{name: tuple(PALETTE) for name in COLOUR_GROUPS},
    "wing_pattern": ("solid", "striped", "spotted"),
    "bill_shape": ("cone", "needle", "hooked", "curved"),
    "tail_shape": ("pointed", "forked", "rounded", "squared"),
    "size": ("small", "medium", "large"),
}
FIXED_LOOK: dict[str, str] = {
    "crown_color": "grey",
    "wing_color": "grey",
    "breast_color": "white",
    "upperparts_color": "brown",
    "wing_pattern": "solid",
    "bill_shape": "cone",
    "tail_shape": "pointed",
    "size": "medium",
}
_NOUNS = {
    "crown_color": "crown",
    "wing_color": "wing",
    "breast_color": "breast",
    "upperparts_color": "back",
    "wing_pattern": "wing",
    "bill_shape": "bill",
    "tail_shape": "tail",
    "size": "",
}


@dataclass(frozen=True)
class AttributeGroup:
    """An attribute group (``has_<name>::<value>`` in ``attributes.txt``), parts showing it."""

    name: str
    values: tuple[str, ...]
    parts: tuple[str, ...] = ()

    def attribute_names(self) -> list[str]:
        return [f"has_{self.name}::{value}" for value in self.values]


DEFAULT_GROUPS: tuple[AttributeGroup, ...] = (
    AttributeGroup(
        "crown_color",
        ("red", "blue", "yellow", "black", "white", "green"),
        ("crown", "forehead", "nape"),
    ),
    AttributeGroup(
        "wing_color",
        ("brown", "black", "blue", "red", "grey", "yellow"),
        ("left wing", "right wing"),
    ),
    AttributeGroup("wing_pattern", ("solid", "striped", "spotted"), ("left wing", "right wing")),
    AttributeGroup(
        "breast_color",
        ("white", "yellow", "red", "grey", "orange", "brown"),
        ("breast", "belly", "throat"),
    ),
    AttributeGroup(
        "upperparts_color",
        ("brown", "grey", "black", "green", "blue"),
        ("back", "tail", "nape"),
    ),
    AttributeGroup("bill_shape", ("cone", "needle", "hooked", "curved"), ("beak",)),
    AttributeGroup("tail_shape", ("pointed", "forked", "rounded", "squared"), ("tail",)),
    AttributeGroup("size", ("small", "medium", "large"), ()),
)


# ----------------------------------------------------------------------------------------------
# Geometry of the bird in a canonical frame: facing +x, y pointing down, body length 1.
# ----------------------------------------------------------------------------------------------


def _ellipse(
    cx: float,
    cy: float,
    a: float,
    b: float,
    t0: float = 0.0,
    t1: float = 360.0,
    n: int = 24,
    tilt: float = 0.0,
) -> np.ndarray:
    """Points of an (arc of an) ellipse, angles in degrees (y down: 90° is the bottom)."""
    t = np.deg2rad(np.linspace(t0, t1, n, endpoint=abs(t1 - t0) < 360.0))
    x, y = a * np.cos(t), b * np.sin(t)
    c, s = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


HEAD = (0.5, -0.3, 0.2)
WING = (-0.08, 0.0, 0.3, 0.13, -8.0)
_TAILS: dict[str, np.ndarray] = {
    "pointed": np.array([(-0.38, -0.15), (-0.95, -0.07), (-0.38, 0.06)]),
    "forked": np.array(
        [(-0.38, -0.15), (-0.95, -0.24), (-0.7, -0.05), (-0.95, 0.14), (-0.38, 0.06)]
    ),
    "rounded": np.concatenate(
        [[(-0.38, -0.06)], _ellipse(-0.38, -0.05, 0.5, 0.5, 145.0, 215.0, 12), [(-0.38, -0.04)]]
    ),
    "squared": np.array([(-0.38, -0.15), (-0.85, -0.17), (-0.85, 0.08), (-0.38, 0.06)]),
}


def _curved_bill() -> np.ndarray:
    t = np.linspace(0.0, 1.0, 10)
    x = 0.66 + 0.3 * t
    y = -0.31 + 0.14 * t**2
    half = 0.5 * (0.06 * (1.0 - t) + 0.012)
    return np.concatenate([np.stack([x, y - half], 1), np.stack([x, y + half], 1)[::-1]])


_BILLS: dict[str, np.ndarray] = {
    "cone": np.array([(0.66, -0.38), (0.84, -0.31), (0.66, -0.23)]),
    "needle": np.array([(0.67, -0.335), (1.04, -0.31), (0.67, -0.285)]),
    "hooked": np.array(
        [(0.66, -0.38), (0.83, -0.36), (0.9, -0.3), (0.86, -0.25), (0.82, -0.3), (0.66, -0.25)]
    ),
    "curved": _curved_bill(),
}
_SIZE_SCALE = {"small": 0.2, "medium": 0.245, "large": 0.29}  # body length / image size
# Canonical part centres (facing right: the right-side wing, eye and leg face the viewer).
_PART_XY: dict[str, tuple[float, float]] = {
    "back": (0.05, -0.22),
    "belly": (-0.1, 0.2),
    "breast": (0.28, 0.12),
    "crown": (0.5, -0.46),
    "forehead": (0.63, -0.4),
    "nape": (0.37, -0.39),
    "throat": (0.6, -0.17),
    "eye": (0.58, -0.32),
    "wing": (-0.08, 0.0),
    "near leg": (0.12, 0.42),
    "far leg": (0.0, 0.42),
    "tail": (-0.66, -0.04),
}
_LEG_COLOUR = (95, 70, 55)
_BILL_COLOUR = (70, 60, 50)


@dataclass(frozen=True)
class Pose:
    """Placement of a bird: ``facing`` +1 (right) or -1 (left), ``unit`` pixels per body length,
    ``angle`` tilt in degrees, centre ``(cx, cy)`` in pixels, whether the far leg shows."""

    facing: int
    unit: float
    angle: float
    cx: float
    cy: float
    far_leg: bool


@dataclass(frozen=True)
class BirdAnnotation:
    """``parts``: 15×3 (x, y, visible) in :data:`PART_NAMES` order, pixels (0, 0 when hidden);
    ``box``: (x, y, w, h) in pixels; ``pose``: the placement."""

    parts: np.ndarray
    box: tuple[float, float, float, float]
    pose: Pose


def look_of(values: Mapping[str, str]) -> dict[str, str]:
    """The full drawing specification: ``values`` over the fixed look of absent groups."""
    look = dict(FIXED_LOOK)
    look.update(values)
    return look


def _transform(points: np.ndarray, pose: Pose) -> np.ndarray:
    """Canonical points -> pixels (mirror for facing left, tilt, scale, translate)."""
    p = np.asarray(points, dtype=np.float64) * np.array([pose.facing, 1.0])
    a = math.radians(pose.angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return p @ rot.T * pose.unit + np.array([pose.cx, pose.cy])


def _leg(x: float, facing_foot: float = 0.09) -> np.ndarray:
    w = 0.02
    return np.array(
        [
            (x - w, 0.22),
            (x + w, 0.22),
            (x + w, 0.51),
            (x + facing_foot, 0.51),
            (x + facing_foot, 0.55),
            (x - w, 0.55),
        ]
    )


@functools.lru_cache(maxsize=64)
def _shapes(bill: str, tail: str, far_leg: bool) -> tuple[tuple[np.ndarray, str], ...]:
    """Canonical polygons in drawing order, each with a colour slot name."""
    hx, hy, hr = HEAD
    shapes: list[tuple[np.ndarray, str]] = []
    if far_leg:
        shapes.append((_leg(0.0), "far leg"))
    shapes.append((_leg(0.12), "leg"))
    shapes.append((_TAILS[tail], "upperparts_color"))
    shapes.append((_ellipse(0.0, 0.0, 0.5, 0.3, 180.0, 360.0, 16), "upperparts_color"))
    shapes.append((_ellipse(0.0, 0.0, 0.5, 0.3, 0.0, 180.0, 16), "breast_color"))
    shapes.append((_ellipse(hx, hy, hr, hr), "upperparts_color"))
    shapes.append((_ellipse(hx, hy, hr, hr, 195.0, 345.0, 14), "crown_color"))
    shapes.append((_ellipse(hx, hy, hr, hr, 10.0, 130.0, 10), "breast_color"))
    shapes.append((_BILLS[bill], "bill"))
    shapes.append((_ellipse(*_PART_XY["eye"], 0.035, 0.035, n=10), "eye"))
    shapes.append((_ellipse(*WING[:4], n=20, tilt=WING[4]), "wing_color"))
    return tuple(shapes)


@functools.lru_cache(maxsize=64)
def _model(bill: str, tail: str, pattern: str, far_leg: bool) -> tuple[np.ndarray, tuple, int]:
    """All canonical points stacked, the (start, stop, slot) of each polygon, and how many of
    the polygons are body shapes (the rest are wing-pattern marks)."""
    body = _shapes(bill, tail, far_leg)
    polys = [p for p, _ in body] + _pattern({"wing_pattern": pattern})
    slots = [s for _, s in body] + ["pattern"] * (len(polys) - len(body))
    bounds = np.cumsum([0] + [len(p) for p in polys])
    spans = tuple(
        (int(a), int(b), s) for a, b, s in zip(bounds[:-1], bounds[1:], slots, strict=True)
    )
    points = np.concatenate(polys)
    points.setflags(write=False)
    return points, spans, len(body)


def _model_of(look: Mapping[str, str], far_leg: bool) -> tuple[np.ndarray, tuple, int]:
    return _model(look["bill_shape"], look["tail_shape"], look["wing_pattern"], far_leg)


def _pattern(look: Mapping[str, str]) -> list[np.ndarray]:
    """Canonical polygons of the wing pattern (stripes or spots), drawn in a contrast colour."""
    cx, cy, a, b, tilt = WING
    if look["wing_pattern"] == "striped":
        bars = []
        for offset in (-0.17, -0.05, 0.07):
            bar = np.array(
                [(offset, -0.1), (offset + 0.05, -0.1), (offset + 0.05, 0.1), (offset, 0.1)]
            )
            bars.append(_ellipse_clip(bar, a, b) + np.array([cx, cy]))
        return [_rotate(bar - np.array([cx, cy]), tilt) + np.array([cx, cy]) for bar in bars]
    if look["wing_pattern"] == "spotted":
        spots = [(-0.18, -0.03), (-0.06, 0.04), (0.06, -0.04), (-0.1, -0.07), (0.12, 0.03)]
        return [
            _rotate(_ellipse(x, y, 0.03, 0.03, n=8), tilt) + np.array([cx, cy]) for x, y in spots
        ]
    return []


def _ellipse_clip(bar: np.ndarray, a: float, b: float) -> np.ndarray:
    """Shrink a vertical bar to lie inside the ellipse ``(x/a)²+(y/b)²<=1`` (0.9 margin)."""
    out = bar.copy()
    for i, (x, _) in enumerate(bar):
        half = 0.9 * b * math.sqrt(max(0.0, 1.0 - (x / a) ** 2))
        out[i, 1] = np.clip(bar[i, 1], -half, half)
    return out


def _rotate(points: np.ndarray, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return points @ np.array([[c, -s], [s, c]]).T


def _colours(look: Mapping[str, str], rng: np.random.Generator) -> dict[str, tuple[int, ...]]:
    """RGB per colour slot, with a small per-image jitter."""
    slots = [*COLOUR_GROUPS, "leg", "far leg", "bill", "eye"]
    base = np.array(
        [PALETTE[look[name]] for name in COLOUR_GROUPS]
        + [_LEG_COLOUR, _darker(_LEG_COLOUR, 0.7), _BILL_COLOUR, (10, 10, 10)]
    )
    rgb = np.clip(base + rng.integers(-12, 13, size=base.shape), 0, 255).tolist()
    return {slot: tuple(c) for slot, c in zip(slots, rgb, strict=True)}


def _darker(rgb: Sequence[int], f: float) -> tuple[int, int, int]:
    return (int(rgb[0] * f), int(rgb[1] * f), int(rgb[2] * f))


def _contrast(rgb: Sequence[int]) -> tuple[int, int, int]:
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (245, 245, 245) if lum < 120 else (20, 20, 20)


def _extent(look: Mapping[str, str], pose: Pose) -> np.ndarray:
    """(xmin, ymin, xmax, ymax) of the bird drawn with ``pose``, in pixels."""
    points, spans, n_body = _model_of(look, pose.far_leg)
    pts = _transform(points[: spans[n_body - 1][1]], pose)
    return np.concatenate([pts.min(0), pts.max(0)])


def sample_pose(look: Mapping[str, str], rng: np.random.Generator, image_size: int) -> Pose:
    """A random placement that keeps the whole bird inside the image with a small margin."""
    unit = _SIZE_SCALE[look["size"]] * image_size * rng.uniform(0.94, 1.06)
    facing = 1 if rng.random() < 0.5 else -1
    angle = float(rng.uniform(-15.0, 15.0))
    far_leg = bool(rng.random() < 0.5)
    probe = Pose(facing, unit, angle, 0.0, 0.0, far_leg)
    x0, y0, x1, y1 = _extent(look, probe)
    margin = 0.06 * image_size
    cx = rng.uniform(margin - x0, max(margin - x0, image_size - margin - x1))
    cy = rng.uniform(margin - y0, max(margin - y0, image_size - margin - y1))
    return Pose(facing, unit, angle, float(cx), float(cy), far_leg)


def part_locations(look: Mapping[str, str], pose: Pose) -> np.ndarray:
    """15×3 (x, y, visible) pixel locations of the parts for ``pose`` (0, 0 when hidden)."""
    near, far = ("right", "left") if pose.facing > 0 else ("left", "right")
    canon = {
        name: _PART_XY[name]
        for name in ("back", "belly", "breast", "crown", "forehead", "nape", "throat", "tail")
    }
    canon[f"{near} eye"] = _PART_XY["eye"]
    canon[f"{near} wing"] = _PART_XY["wing"]
    canon[f"{near} leg"] = _PART_XY["near leg"]
    if pose.far_leg:
        canon[f"{far} leg"] = _PART_XY["far leg"]
    out = np.zeros((len(PART_NAMES), 3))
    for i, name in enumerate(PART_NAMES):
        if name == "beak":
            xy = _transform(_BILLS[look["bill_shape"]].mean(0, keepdims=True), pose)[0]
        elif name in canon:
            xy = _transform(np.array([canon[name]]), pose)[0]
        else:
            continue
        out[i] = (xy[0], xy[1], 1.0)
    return out


def render_background(
    rng: np.random.Generator, size: int, avoid: Sequence[float] | None = None
) -> Image.Image:
    """A cluttered scene: muted gradient, foliage blobs, branches and distractor shapes in the
    bird palette (wing-like striped ellipses, beak-like triangles, blobs). Distractor centres
    avoid the box ``avoid`` = (x0, y0, x1, y1) so the bird itself stays recognisable."""
    top, bottom = np.array(_muted(rng)), np.array(_muted(rng))
    t = np.linspace(0.0, 1.0, size)[:, None]
    rows = ((1 - t) * top + t * bottom).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(np.broadcast_to(rows[:, None], (size, size, 3))))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(8, 16))):
        x, y = rng.uniform(0, size, 2)
        r = rng.uniform(0.04, 0.14) * size
        draw.ellipse([x - r, y - 0.6 * r, x + r, y + 0.6 * r], fill=_muted(rng))
    for _ in range(int(rng.integers(1, 3))):
        y0, y1 = rng.uniform(0.1, 0.95, 2) * size
        draw.line([(0, y0), (size, y1)], fill=(100, 75, 50), width=max(1, round(0.025 * size)))
    colours = list(PALETTE.values())
    for _ in range(int(rng.integers(5, 10))):
        _distractor(draw, rng, size, colours, avoid)
    return img


def _muted(rng: np.random.Generator) -> tuple[int, int, int]:
    colour = np.array(list(PALETTE.values())[int(rng.integers(len(PALETTE)))], dtype=float)
    grey = rng.uniform(90, 180)
    mix = rng.uniform(0.2, 0.45)
    return tuple(int(v) for v in mix * colour + (1 - mix) * grey)  # type: ignore[return-value]


def _distractor(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    size: int,
    colours: list[tuple[int, int, int]],
    avoid: Sequence[float] | None,
) -> None:
    for _ in range(20):
        x, y = rng.uniform(0, size, 2)
        if avoid is None or not (avoid[0] <= x <= avoid[2] and avoid[1] <= y <= avoid[3]):
            break
    else:
        return
    fill = colours[int(rng.integers(len(colours)))]
    r = rng.uniform(0.03, 0.1) * size
    kind = int(rng.integers(4))
    if kind == 0:
        draw.ellipse(
            [x - r, y - 0.5 * r, x + r, y + 0.5 * r], fill=fill, outline=_darker(fill, 0.5)
        )
        if rng.random() < 0.5:
            for k in (-0.5, 0.0, 0.5):
                draw.line(
                    [(x + k * r, y - 0.4 * r), (x + k * r, y + 0.4 * r)],
                    fill=_contrast(fill),
                    width=max(1, round(0.15 * r)),
                )
    elif kind == 1:
        a = rng.uniform(0, 2 * math.pi)
        pts = [(x + r * math.cos(a + k * 2.2), y + r * math.sin(a + k * 2.2)) for k in range(3)]
        draw.polygon(pts, fill=fill)
    elif kind == 2:
        draw.rectangle([x - r, y - 0.4 * r, x + r, y + 0.4 * r], fill=fill)
    else:
        draw.ellipse([x - 0.5 * r, y - 0.5 * r, x + 0.5 * r, y + 0.5 * r], fill=fill)


def draw_bird(
    img: Image.Image,
    look: Mapping[str, str],
    pose: Pose,
    rng: np.random.Generator,
    scale: float = 1.0,
) -> None:
    """Draw the bird of ``look`` at ``pose`` onto ``img``, which is ``scale`` times the size the
    pose was sampled for (pixel ``j`` of the reduced image is centred on coordinate ``j``)."""
    draw = ImageDraw.Draw(img)
    colours = _colours(look, rng)
    colours["pattern"] = _contrast(colours["wing_color"])
    width = max(1, round(scale * 0.5))
    points, spans, n_body = _model_of(look, pose.far_leg)
    xy = (_transform(points, pose) * scale + (scale - 1) / 2).tolist()
    for k, (start, stop, slot) in enumerate(spans):
        fill = colours[slot]
        poly = [tuple(p) for p in xy[start:stop]]
        if k < n_body:
            draw.polygon(poly, fill=fill, outline=_darker(fill, 0.55), width=width)
        else:
            draw.polygon(poly, fill=fill)


def render_bird(
    look: Mapping[str, str],
    seed: int | Sequence[int] | np.random.SeedSequence,
    image_size: int = 64,
    *,
    draw_object: bool = True,
    supersample: int = 2,
) -> tuple[Image.Image, BirdAnnotation]:
    """One image of the bird ``look`` (see :func:`look_of`) and its annotation.

    ``seed`` fixes everything: the pose, the background, the colour jitter and the pixel noise
    come from separate streams, so ``draw_object=False`` gives exactly the same image without the
    bird (useful to check where the bird's evidence lies).
    """
    look = look_of(look)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    pose_rng, bg_rng, ink_rng, noise_rng = (np.random.default_rng(s) for s in seq.spawn(4))
    pose = sample_pose(look, pose_rng, image_size)
    extent = _extent(look, pose)
    k = supersample
    img = render_background(bg_rng, image_size * k, avoid=extent * k + (k - 1) / 2)
    if draw_object:
        draw_bird(img, look, pose, ink_rng, scale=k)
    if k > 1:
        img = img.reduce(k)
    pixels = np.asarray(img, dtype=np.int16) + np.rint(
        noise_rng.normal(0.0, 4.0, (image_size, image_size, 3))
    ).astype(np.int16)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return img, BirdAnnotation(part_locations(look, pose), _box(extent, image_size), pose)


def _box(extent: np.ndarray, size: int) -> tuple[float, float, float, float]:
    x0, y0 = (max(0.0, math.floor(v)) for v in extent[:2])
    x1, y1 = (min(float(size - 1), math.ceil(v)) for v in extent[2:])
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


# ----------------------------------------------------------------------------------------------
# Classes: distinct combinations; unseen ones made only of values that seen classes show.
# ----------------------------------------------------------------------------------------------


def normalise_groups(
    groups: Sequence[AttributeGroup] | Mapping[str, Sequence[str]] | None,
) -> tuple[AttributeGroup, ...]:
    """Validate attribute groups (``None`` → :data:`DEFAULT_GROUPS`); a mapping name → values
    is accepted too. Raises ``ValueError`` on unknown groups or values."""
    if groups is None:
        return DEFAULT_GROUPS
    defaults = {g.name: g for g in DEFAULT_GROUPS}
    if isinstance(groups, Mapping):
        groups = [
            AttributeGroup(n, tuple(v), defaults[n].parts if n in defaults else ())
            for n, v in groups.items()
        ]
    out = tuple(AttributeGroup(g.name, tuple(g.values), tuple(g.parts)) for g in groups)
    if not out:
        raise SynthArgumentError("groups: at least one attribute group is needed")
    names = [g.name for g in out]
    if len(set(names)) != len(names):
        raise SynthArgumentError(f"groups: duplicate group names in {names}")
    for g in out:
        if g.name not in VOCABULARY:
            raise SynthArgumentError(
                f"groups: unknown group {g.name!r}; known: {sorted(VOCABULARY)}"
            )
        unknown = [v for v in g.values if v not in VOCABULARY[g.name]]
        if unknown:
            raise SynthArgumentError(
                f"groups: {g.name} cannot draw {unknown}; choose from {list(VOCABULARY[g.name])}"
            )
        if len(g.values) < 2 or len(set(g.values)) != len(g.values):
            raise SynthArgumentError(
                f"groups: {g.name} needs at least 2 distinct values, got {g.values}"
            )
    return out


def choose_classes(
    groups: Sequence[AttributeGroup],
    classes: int,
    unseen: int,
    rng: np.random.Generator,
    tries: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``classes`` distinct value combinations (C×G value indices) and the sorted ids of
    ``unseen`` classes such that every value of an unseen class appears in some seen class."""
    sizes = np.array([len(g.values) for g in groups])
    total = int(np.prod(sizes.astype(object)))
    if classes > total:
        raise SynthArgumentError(
            f"classes={classes} exceeds the {total} distinct attribute "
            "combinations of the groups; add groups or values"
        )
    for attempt in range(tries):
        combos = _distinct_combos(sizes, classes, rng)
        if attempt < tries // 2 and classes >= sizes.max() and not _all_values_used(combos, sizes):
            continue
        chosen = _greedy_unseen(combos, sizes, unseen, rng)
        if chosen is not None:
            return combos, chosen
    raise SynthArgumentError(
        f"could not choose {unseen} unseen classes among {classes} whose attribute "
        "values all appear in seen classes; use fewer unseen classes or values"
    )


def _distinct_combos(sizes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    seen: set[tuple[int, ...]] = set()
    rows: list[tuple[int, ...]] = []
    while len(rows) < n:
        row = tuple(int(rng.integers(s)) for s in sizes)
        if row not in seen:
            seen.add(row)
            rows.append(row)
    return np.array(rows, dtype=np.int64)


def _all_values_used(combos: np.ndarray, sizes: np.ndarray) -> bool:
    return all(len(np.unique(combos[:, g])) == s for g, s in enumerate(sizes))


def _greedy_unseen(
    combos: np.ndarray, sizes: np.ndarray, unseen: int, rng: np.random.Generator
) -> np.ndarray | None:
    """Move classes to the unseen set while each of their values stays in some seen class."""
    counts = [np.bincount(combos[:, g], minlength=s) for g, s in enumerate(sizes)]
    chosen: list[int] = []
    for c in rng.permutation(len(combos)):
        if all(counts[g][v] >= 2 for g, v in enumerate(combos[c])):
            for g, v in enumerate(combos[c]):
                counts[g][v] -= 1
            chosen.append(int(c))
            if len(chosen) == unseen:
                return np.sort(np.array(chosen))
    return None


def class_name(groups: Sequence[AttributeGroup], combo: Sequence[int]) -> str:
    """A readable, space-free class name such as ``Red_crown_Brown_wing_Striped_wing_...``."""
    tokens = []
    for g, v in zip(groups, combo, strict=True):
        noun = _NOUNS[g.name]
        value = g.values[int(v)].capitalize()
        tokens.append(f"{value}_{noun}" if noun else value)
    return "_".join(tokens)


# ----------------------------------------------------------------------------------------------
# Image-level annotations: noisy attributes and per-worker clicks.
# ----------------------------------------------------------------------------------------------

_FLIP = {2: 0.25, 3: 0.08, 4: 0.02}  # flip probability per certainty id


def image_attributes(
    groups: Sequence[AttributeGroup], combo: Sequence[int], rng: np.random.Generator
) -> np.ndarray:
    """A×3 (is_present, certainty_id, time) for one image: the class's values, each label
    flipped with a probability that falls with the certainty (one certainty per group);
    "not visible" (id 1) labels are all absent."""
    sizes = [len(g.values) for g in groups]
    truth = np.concatenate([np.arange(n) == v for n, v in zip(sizes, combo, strict=True)])
    certainty = np.repeat(rng.choice(4, size=len(groups), p=_CERTAINTY_P) + 1, sizes)
    flip = rng.random(truth.size) < _FLIP[certainty]
    present = np.where(certainty == 1, False, truth ^ flip)
    seconds = np.round(rng.gamma(2.0, 6.0, truth.size), 4)
    return np.stack([present.astype(np.float64), certainty.astype(np.float64), seconds], 1)


_CERTAINTY_P = (0.02, 0.1, 0.28, 0.6)
_FLIP = np.array([0.0, 0.0, 0.25, 0.08, 0.02])  # flip probability by certainty id
_MIRROR = np.array(
    [
        PART_NAMES.index(n.replace("left", "@").replace("right", "left").replace("@", "right"))
        for n in PART_NAMES
    ]
)


def worker_clicks(
    parts: np.ndarray, unit: float, image_size: int, rng: np.random.Generator
) -> np.ndarray:
    """W×P×4 (x, y, visible, time) clicks of 3–5 workers jittered around ``parts``.

    A worker marks a visible part visible with probability 0.96; a hidden left/right part is
    wrongly marked visible with probability 0.05, clicked on its visible mirror part."""
    workers = int(rng.integers(3, 6))
    vis = parts[:, 2] > 0
    target = np.where(vis[:, None], parts[:, :2], parts[_MIRROR, :2])
    claimable = vis | (vis[_MIRROR] & (np.arange(len(parts)) != _MIRROR))
    says = (rng.random((workers, len(parts))) < np.where(vis, 0.96, 0.05)) & claimable
    xy = np.clip(
        np.rint(target + rng.normal(0.0, 0.04 * unit, (workers, len(parts), 2))), 0, image_size - 1
    )
    out = np.zeros((workers, len(parts), 4))
    out[..., :2] = np.where(says[..., None], xy, 0.0)
    out[..., 2] = says
    out[..., 3] = np.round(rng.gamma(2.0, 1.5, (workers, len(parts))), 5)
    return out


# ----------------------------------------------------------------------------------------------
# The generator.
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthZSLInfo:
    """What :func:`synth_zsl` wrote. Class ids are 0-based (``class_names`` order)."""

    root: Path
    cub_dir: Path
    xlsa_dir: Path
    attributes_file: Path
    seed: int
    image_size: int
    num_images: int
    class_names: list[str]
    class_values: np.ndarray
    seen_classes: np.ndarray
    unseen_classes: np.ndarray
    groups: tuple[AttributeGroup, ...]
    attribute_names: list[str]
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.num_images / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class _Job:
    """What a worker needs to render a chunk of images (picklable)."""

    seed: int
    image_size: int
    groups: tuple[AttributeGroup, ...]
    items: tuple[tuple[int, tuple[int, ...], str], ...]  # (image index, combo, output path)
    preset: str = "simple"
    habitats: tuple[int, ...] = ()  # per item: the habitat index of its class (realistic)


def _render_chunk(job: _Job) -> list[tuple[np.ndarray, tuple[float, ...], np.ndarray, np.ndarray]]:
    """Render and save a chunk; return per image (parts, box, attributes, clicks)."""
    if job.preset == "realistic":
        return _render_chunk_realistic(job)
    out = []
    for index, combo, path in job.items:
        values = {g.name: g.values[v] for g, v in zip(job.groups, combo, strict=True)}
        img, ann = render_bird(values, np.random.SeedSequence([job.seed, 1, index]), job.image_size)
        img.save(path, format="JPEG", quality=JPEG_QUALITY)
        rng = np.random.default_rng([job.seed, 2, index])
        attrs = image_attributes(job.groups, combo, rng)
        clicks = worker_clicks(ann.parts, ann.pose.unit, job.image_size, rng)
        out.append((np.round(ann.parts), ann.box, attrs, clicks))
    return out


def _render_chunk_realistic(job: _Job) -> list[tuple]:
    from lococo.data.zsl import synth_realistic as real

    out = []
    for (index, combo, path), habitat in zip(job.items, job.habitats, strict=True):
        values = {g.name: g.values[v] for g, v in zip(job.groups, combo, strict=True)}
        seq = np.random.SeedSequence([job.seed, 1, index])
        scene = real.image_habitat(
            habitat, np.random.default_rng([job.seed, 6, index]), real.REALISTIC
        )
        img, ann = real.render_bird(values, seq, job.image_size, habitat=scene)
        img.save(path, format="JPEG", quality=JPEG_QUALITY)
        rng = np.random.default_rng([job.seed, 2, index])
        attrs = real.image_attributes(job.groups, combo, ann.parts, rng)
        clicks = worker_clicks(ann.parts, ann.pose.unit, job.image_size, rng)
        out.append((np.round(ann.parts), ann.box, attrs, clicks))
    return out


def synth_zsl(
    out: str | Path,
    *,
    seed: int = 0,
    classes: int = 50,
    unseen: int = 10,
    images_per_class: int = 40,
    image_size: int = 64,
    groups: Sequence[AttributeGroup] | Mapping[str, Sequence[str]] | None = None,
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    preset: str = "simple",
) -> SynthZSLInfo:
    """Write a compositional-birds ZSL dataset in the CUB-200-2011 + xlsa17 formats into ``out``.

    ``preset`` is one of :data:`PRESETS` (see the module docstring); ``simple`` writes exactly
    what earlier versions wrote for the same arguments.

    Same arguments ⇒ identical files (images are seeded one by one, so ``workers`` does not
    change the output). The dataset is written under ``out/.tmp-synth-zsl-*`` and renamed into
    place at the end; a non-empty ``out`` is refused unless ``overwrite``.
    """
    groups = normalise_groups(groups)
    _check_args(seed, classes, unseen, images_per_class, image_size, workers)
    if preset not in PRESETS:
        raise SynthArgumentError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    out = Path(out)
    check_output_dir(out, overwrite, _TMP_PREFIX)
    start = time.perf_counter()
    combos, unseen_ids = choose_classes(groups, classes, unseen, np.random.default_rng([seed, 0]))
    names = _class_folders(groups, combos)
    out.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(out, _TMP_PREFIX)
    try:
        layout = _Layout(tmp)
        labels = np.repeat(np.arange(classes), images_per_class)
        files = _image_files(names, images_per_class)
        layout.make_dirs(names)
        habitats = _habitats(preset, classes, seed)
        results = _render_all(
            seed, image_size, groups, combos, labels, files, layout, workers, progress,
            preset=preset, habitats=habitats,
        )  # fmt: skip
        attribute_names = [a for g in groups for a in g.attribute_names()]
        _write_cub(layout, names, labels, files, results, groups, attribute_names, seed)
        original_att = _class_continuous(results, labels, classes)
        _write_cub_class_attributes(layout, original_att)
        _write_xlsa(layout, names, labels, files, original_att, unseen_ids, seed)
        seen_ids = np.setdiff1d(np.arange(classes), unseen_ids)
        manifest = dict(
            seed=seed,
            classes=classes,
            unseen=unseen,
            images_per_class=images_per_class,
            image_size=image_size,
            groups={g.name: list(g.values) for g in groups},
            seen_classes=seen_ids.tolist(),
            unseen_classes=unseen_ids.tolist(),
        )
        if preset != "simple":  # the simple preset's manifest stays as it always was
            from lococo.data.zsl.synth_realistic import HABITATS

            manifest["preset"] = preset
            manifest["class_habitats"] = [HABITATS[int(h)] for h in habitats]
        write_json(tmp / "synth_zsl.json", manifest)
        move_into_place(tmp, out, _OURS)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return SynthZSLInfo(
        root=out,
        cub_dir=out / "CUB_200_2011",
        xlsa_dir=out / "xlsa17" / "data" / "CUB",
        attributes_file=out / "attributes.txt",
        seed=seed,
        image_size=image_size,
        num_images=len(labels),
        class_names=names,
        class_values=combos,
        seen_classes=seen_ids,
        unseen_classes=unseen_ids,
        groups=groups,
        attribute_names=attribute_names,
        seconds=time.perf_counter() - start,
    )


def _check_args(
    seed: int, classes: int, unseen: int, images_per_class: int, image_size: int, workers: int
) -> None:
    checks = [
        (isinstance(seed, int) and seed >= 0, f"seed must be a non-negative integer, got {seed}"),
        (classes >= 3, f"classes must be at least 3, got {classes}"),
        (unseen >= 1, f"unseen must be at least 1, got {unseen}"),
        (
            unseen <= classes - 2,
            f"unseen={unseen} must leave at least 2 seen classes out of classes={classes}",
        ),
        (images_per_class >= 2, f"images_per_class must be at least 2, got {images_per_class}"),
        (32 <= image_size <= 1024, f"image_size must be in 32..1024, got {image_size}"),
        (workers >= 1, f"workers must be at least 1, got {workers}"),
    ]
    for ok, message in checks:
        if not ok:
            raise SynthArgumentError(message)


_OURS = ("CUB_200_2011", "xlsa17", "attributes.txt", "synth_zsl.json")
_TMP_PREFIX = ".tmp-synth-zsl-"


@dataclass(frozen=True)
class _Layout:
    root: Path

    @property
    def cub(self) -> Path:
        return self.root / "CUB_200_2011"

    @property
    def xlsa(self) -> Path:
        return self.root / "xlsa17" / "data" / "CUB"

    def make_dirs(self, names: Sequence[str]) -> None:
        for sub in ("parts", "attributes"):
            (self.cub / sub).mkdir(parents=True)
        for name in names:
            (self.cub / "images" / name).mkdir(parents=True)
        self.xlsa.mkdir(parents=True)


def _class_folders(groups: Sequence[AttributeGroup], combos: np.ndarray) -> list[str]:
    width = max(3, len(str(len(combos))))
    return [f"{i + 1:0{width}d}.{class_name(groups, c)}" for i, c in enumerate(combos)]


def _image_files(names: Sequence[str], per_class: int) -> list[str]:
    """Relative paths ``<NNN.Class>/<Class>_<nnnn>_<image id>.jpg`` in image-id order."""
    files = []
    for c, folder in enumerate(names):
        stem = folder.split(".", 1)[1]
        for n in range(per_class):
            image_id = c * per_class + n + 1
            files.append(f"{folder}/{stem}_{n + 1:04d}_{image_id}.jpg")
    return files


def _habitats(preset: str, classes: int, seed: int) -> np.ndarray:
    """Each class's habitat index (realistic preset), else an empty array."""
    if preset != "realistic":
        return np.zeros(0, dtype=np.int64)
    from lococo.data.zsl.synth_realistic import class_habitats

    return class_habitats(classes, np.random.default_rng([seed, 5]))


def _render_all(
    seed: int,
    image_size: int,
    groups: tuple[AttributeGroup, ...],
    combos: np.ndarray,
    labels: np.ndarray,
    files: Sequence[str],
    layout: _Layout,
    workers: int,
    progress: bool,
    *,
    preset: str = "simple",
    habitats: np.ndarray | None = None,
) -> list[tuple]:
    items = [
        (i, tuple(int(v) for v in combos[labels[i]]), str(layout.cub / "images" / f))
        for i, f in enumerate(files)
    ]
    chunk = max(1, min(64, math.ceil(len(items) / (4 * workers))))
    per_item = (
        tuple(int(habitats[labels[i]]) for i in range(len(items)))
        if habitats is not None and len(habitats)
        else ()
    )
    jobs = [
        _Job(
            seed,
            image_size,
            groups,
            tuple(items[i : i + chunk]),
            preset,
            per_item[i : i + chunk] if per_item else (),
        )
        for i in range(0, len(items), chunk)
    ]
    bar = _progress(len(items), progress)
    results: list[tuple] = []
    try:
        if workers == 1:
            for job in jobs:
                results.extend(_render_chunk(job))
                bar.update(len(job.items))
        else:
            with worker_pool(workers, get_context(_START_METHOD)) as pool:
                for job, done in zip(jobs, pool.map(_render_chunk, jobs), strict=True):
                    results.extend(done)
                    bar.update(len(job.items))
    finally:
        bar.close()
    return results


def _progress(total: int, enabled: bool) -> Any:
    if enabled:
        from tqdm import tqdm

        return tqdm(total=total, desc="synth zsl", unit="img", file=sys.stderr)
    return _NoBar()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _f(v: float) -> str:
    return f"{v:.1f}"


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    with open(path, "w", newline="\n") as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")


def _write_cub(
    layout: _Layout,
    names: Sequence[str],
    labels: np.ndarray,
    files: Sequence[str],
    results: Sequence[tuple],
    groups: Sequence[AttributeGroup],
    attribute_names: Sequence[str],
    seed: int,
) -> None:
    cub = layout.cub
    n = len(files)
    _write_lines(cub / "images.txt", (f"{i + 1} {f}" for i, f in enumerate(files)))
    _write_lines(cub / "classes.txt", (f"{c + 1} {name}" for c, name in enumerate(names)))
    _write_lines(cub / "image_class_labels.txt", (f"{i + 1} {labels[i] + 1}" for i in range(n)))
    train = _cub_train_split(labels, np.random.default_rng([seed, 3]))
    _write_lines(cub / "train_test_split.txt", (f"{i + 1} {int(train[i])}" for i in range(n)))
    _write_lines(
        cub / "bounding_boxes.txt",
        (f"{i + 1} " + " ".join(_f(v) for v in r[1]) for i, r in enumerate(results)),
    )
    _write_lines(
        cub / "parts" / "parts.txt", (f"{p + 1} {name}" for p, name in enumerate(PART_NAMES))
    )
    _write_lines(cub / "parts" / "part_locs.txt", _part_lines(results))
    _write_lines(cub / "parts" / "part_click_locs.txt", _click_lines(results))
    _write_lines(
        cub / "attributes" / "certainties.txt",
        (f"{k + 1} {name}" for k, name in enumerate(CERTAINTIES)),
    )
    _write_lines(cub / "attributes" / "image_attribute_labels.txt", _attribute_lines(results))
    _write_lines(
        layout.root / "attributes.txt",
        (f"{a + 1} {name}" for a, name in enumerate(attribute_names)),
    )
    _write_readme(cub / "README", groups, len(names), n)


def _cub_train_split(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """CUB's own is_training_image flag: about half of each class."""
    train = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        train[rng.permutation(idx)[: (len(idx) + 1) // 2]] = True
    return train


def _part_lines(results: Sequence[tuple]) -> Iterable[str]:
    for i, r in enumerate(results):
        for p, (x, y, vis) in enumerate(r[0]):
            yield f"{i + 1} {p + 1} {_f(x)} {_f(y)} {int(vis)}"


def _click_lines(results: Sequence[tuple]) -> Iterable[str]:
    for i, r in enumerate(results):
        clicks = r[3]
        for p in range(clicks.shape[1]):
            for x, y, vis, t in clicks[:, p]:
                yield f"{i + 1} {p + 1} {_f(x)} {_f(y)} {int(vis)} {t:.5f}"


def _attribute_lines(results: Sequence[tuple]) -> Iterable[str]:
    for i, r in enumerate(results):
        for a, (present, certainty, t) in enumerate(r[2]):
            yield f"{i + 1} {a + 1} {int(present)} {int(certainty)} {t:.4f}"


def _class_continuous(results: Sequence[tuple], labels: np.ndarray, classes: int) -> np.ndarray:
    """C×A class attributes in 0–100: the per-class share of images labelled present."""
    present = np.stack([r[2][:, 0] for r in results])
    return np.stack([present[labels == c].mean(0) * 100.0 for c in range(classes)])


def _write_cub_class_attributes(layout: _Layout, original_att: np.ndarray) -> None:
    _write_lines(
        layout.cub / "attributes" / "class_attribute_labels_continuous.txt",
        (" ".join(f"{v:.12f}" for v in row) for row in original_att),
    )


def _write_readme(path: Path, groups: Sequence[AttributeGroup], classes: int, n: int) -> None:
    text = (
        f"""Synthetic "compositional birds" written by lococo in the CUB-200-2011 layout.
{classes} classes, {n} images. Every class is a combination of attribute values:
"""
        + "".join(f"  {g.name}: {', '.join(g.values)}\n" for g in groups)
        + """
Files (ids are 1-based; coordinates in pixels of the image):
  images.txt                    <image_id> <image_name>
  image_class_labels.txt        <image_id> <class_id>
  train_test_split.txt          <image_id> <is_training_image>
  classes.txt                   <class_id> <class_name>
  bounding_boxes.txt            <image_id> <x> <y> <width> <height>
  parts/parts.txt               <part_id> <part_name>
  parts/part_locs.txt           <image_id> <part_id> <x> <y> <visible>
  parts/part_click_locs.txt     <image_id> <part_id> <x> <y> <visible> <time>
  attributes/certainties.txt    <certainty_id> <certainty_name>
  attributes/image_attribute_labels.txt
                                <image_id> <attribute_id> <is_present> <certainty_id> <time>
  attributes/class_attribute_labels_continuous.txt
                                one line per class, one value (0-100) per attribute
The attribute names are in ../attributes.txt.
"""
    )
    path.write_text(text)


def _write_xlsa(
    layout: _Layout,
    names: Sequence[str],
    labels: np.ndarray,
    files: Sequence[str],
    original_att: np.ndarray,
    unseen_ids: np.ndarray,
    seed: int,
) -> None:
    splits = xlsa_splits(labels, unseen_ids, np.random.default_rng([seed, 4]))
    norms = np.linalg.norm(original_att, axis=1, keepdims=True)
    att = (original_att / np.where(norms > 0, norms, 1.0)).T
    _savemat(
        layout.xlsa / "att_splits.mat",
        {
            "allclasses_names": _cell(names),
            "att": att.astype(np.float64),
            "original_att": original_att.T.astype(np.float64),
            **{f"{k}_loc": _column(v + 1) for k, v in splits.items()},
        },
    )
    _savemat(
        layout.xlsa / "res101.mat",
        {
            "image_files": _cell([FOREIGN_PREFIX + f for f in files]),
            "labels": _column(labels + 1),
        },
    )
    seen = np.unique(labels[splits["trainval"]])
    train_classes = np.unique(labels[splits["train"]])
    val_classes = np.unique(labels[splits["val"]])
    for fname, ids in (
        ("trainvalclasses.txt", seen),
        ("testclasses.txt", unseen_ids),
        ("trainclasses1.txt", train_classes),
        ("valclasses1.txt", val_classes),
    ):
        _write_lines(layout.xlsa / fname, (names[c] for c in ids))


_MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, written by lococo synth_zsl"


def _savemat(path: Path, variables: Mapping[str, np.ndarray]) -> None:
    """``scipy.io.savemat`` (format 5, uncompressed) with a fixed header text instead of the
    creation time, so the same data gives the same bytes."""
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, dict(variables), format="5", do_compression=False, oned_as="column")
    data = bytearray(buffer.getvalue())
    data[:116] = _MAT_HEADER.ljust(116, b" ")
    path.write_bytes(bytes(data))


def xlsa_splits(
    labels: np.ndarray, unseen_ids: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """0-based image indices of the xlsa17 splits: ``trainval`` 80% of each seen class's images,
    ``test_seen`` the rest, ``test_unseen`` all unseen-class images; ``train``/``val`` all images
    of a 2:1 split of the seen classes."""
    classes = np.unique(labels)
    seen = np.setdiff1d(classes, unseen_ids)
    trainval, test_seen = [], []
    for c in seen:
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = max(1, round(0.2 * len(idx)))
        test_seen.append(idx[:n_test])
        trainval.append(idx[n_test:])
    val_classes = rng.permutation(seen)[: max(1, round(len(seen) / 3))]
    in_seen = np.isin(labels, seen)
    in_val = np.isin(labels, val_classes)
    return {
        "trainval": np.sort(np.concatenate(trainval)),
        "test_seen": np.sort(np.concatenate(test_seen)),
        "test_unseen": np.flatnonzero(np.isin(labels, unseen_ids)),
        "train": np.flatnonzero(in_seen & ~in_val),
        "val": np.flatnonzero(in_val),
    }


def _cell(strings: Sequence[str]) -> np.ndarray:
    """An N×1 MATLAB cell array of char rows."""
    cell = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        cell[i, 0] = s
    return cell


def _column(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    dtype = np.uint16 if values.size == 0 or values.max() < 2**16 else np.uint32
    return values.astype(dtype).reshape(-1, 1)
