"""The ``realistic`` preset of the compositional birds (:mod:`lococo.data.zsl.synth`).

The ``simple`` preset draws flat-coloured birds in a small range of poses on muted clutter, so
a bird's parts stand out from the background by raw colour and random convolutional features
already find them. This preset removes those shortcuts and adds the nuisances of real data:

* **Shared colours and part-like clutter.** Background objects use the birds' saturated
  palette, and some are bird pieces: heads with a coloured crown and a bill, wings with
  stripes or spots, tails (decoys drawn with the bird's own shapes).
* **Texture.** Every surface is modulated by a random feather/bark-like texture (oriented
  stripes and blotches), so colour is never flat.
* **Within-class variation.** Wider scale and tilt ranges, articulation (head turned, wing
  raised, tail swung, each part moving with its annotation), illumination changes.
* **Occlusion.** With probability :attr:`Realism.occlusion` a foreground leaf or branch
  covers part of the bird; parts under it are annotated not visible, and an attribute group
  whose parts are all hidden gets the certainty "not visible" (labelled absent).
* **Habitat.** Every class has a habitat (water, forest, sky, ground, reeds); an image shows
  its class's habitat with probability :attr:`Realism.habitat` and a random one otherwise, as
  water birds sit on water in CUB. Habitats are not attributes: a class-correlated nuisance.
* **Noisier image attributes**: label flips are more frequent at every certainty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from lococo.data.zsl import synth as base

HABITATS: tuple[str, ...] = ("water", "forest", "sky", "ground", "reeds")
_HABITAT_COLOURS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "water": ((95, 150, 200), (30, 70, 130)),
    "forest": ((60, 110, 50), (35, 70, 30)),
    "sky": ((185, 210, 235), (120, 160, 210)),
    "ground": ((170, 140, 95), (110, 85, 55)),
    "reeds": ((160, 165, 90), (90, 110, 60)),
}


@dataclass(frozen=True)
class Realism:
    """Knobs of the realistic preset (see the module docstring)."""

    habitat: float = 0.7  # probability that an image shows its class's habitat
    occlusion: float = 0.35  # probability of a foreground occluder over the bird
    decoys: tuple[int, int] = (3, 6)  # part-like clutter objects per image (low, high + 1)
    blobs: tuple[int, int] = (3, 7)  # saturated plain clutter objects per image
    texture: float = 0.22  # amplitude of the multiplicative texture
    scale: tuple[float, float] = (0.85, 1.18)  # bird size jitter
    tilt: float = 25.0  # degrees
    head_turn: float = 25.0  # degrees, head rotation about the neck
    wing_raise: tuple[float, float] = (-45.0, 12.0)  # degrees, wing rotation at the shoulder
    tail_swing: float = 22.0  # degrees
    colour_jitter: int = 22
    light: tuple[float, float] = (0.75, 1.2)  # global brightness factor
    flip: tuple[float, ...] = (0.0, 0.0, 0.3, 0.12, 0.04)  # label flips by certainty id


REALISTIC = Realism()

# Indices of the body polygons of base._shapes (after the optional far leg).
_TAIL, _HEAD_FIRST, _HEAD_LAST, _WING = 1, 4, 8, 9
_NECK = (0.36, -0.18)
_SHOULDER = (0.12, -0.06)
_TAIL_BASE = (-0.38, -0.05)
_HEAD_PARTS = ("crown", "forehead", "nape", "throat", "eye", "beak")


@dataclass(frozen=True)
class Articulation:
    """Rotations (degrees) of the head about the neck, the wing about the shoulder and the tail
    about its base, in the canonical frame."""

    head: float
    wing: float
    tail: float


def sample_articulation(rng: np.random.Generator, realism: Realism) -> Articulation:
    return Articulation(
        head=float(rng.uniform(-realism.head_turn, realism.head_turn)),
        wing=float(rng.uniform(*realism.wing_raise)),
        tail=float(rng.uniform(-realism.tail_swing, realism.tail_swing)),
    )


def _rotate_about(points: np.ndarray, centre: Sequence[float], degrees: float) -> np.ndarray:
    c = np.asarray(centre, dtype=np.float64)
    return base._rotate(np.asarray(points, dtype=np.float64) - c, degrees) + c


def articulated_model(
    look: Mapping[str, str], far_leg: bool, art: Articulation
) -> tuple[np.ndarray, tuple, int]:
    """:func:`base._model_of` with the head, wing (and its pattern) and tail rotated."""
    points, spans, n_body = base._model_of(look, far_leg)
    points = points.copy()
    offset = 1 if far_leg else 0
    for k, (start, stop, _) in enumerate(spans):
        j = k - offset
        if j == _TAIL:
            points[start:stop] = _rotate_about(points[start:stop], _TAIL_BASE, art.tail)
        elif _HEAD_FIRST <= j <= _HEAD_LAST:
            points[start:stop] = _rotate_about(points[start:stop], _NECK, art.head)
        elif j == _WING or k >= n_body:
            points[start:stop] = _rotate_about(points[start:stop], _SHOULDER, art.wing)
    return points, spans, n_body


def _canonical_part(name: str, look: Mapping[str, str], art: Articulation) -> np.ndarray | None:
    """Canonical (articulated) centre of part ``name`` for a bird facing right, or None."""
    generic = name.replace("left ", "").replace("right ", "")
    if name == "beak":
        xy = base._BILLS[look["bill_shape"]].mean(0)
    elif generic in ("eye", "wing"):
        xy = np.array(base._PART_XY[generic])
    elif generic == "leg":
        return None  # legs are placed by the caller (near / far)
    else:
        xy = np.array(base._PART_XY[name])
    if generic in _HEAD_PARTS:
        return _rotate_about(xy[None], _NECK, art.head)[0]
    if generic == "wing":
        return _rotate_about(xy[None], _SHOULDER, art.wing)[0]
    if generic == "tail":
        return _rotate_about(xy[None], _TAIL_BASE, art.tail)[0]
    return xy


def part_locations(look: Mapping[str, str], pose: base.Pose, art: Articulation) -> np.ndarray:
    """15×3 (x, y, visible) pixel locations of the parts of an articulated bird."""
    near, far = ("right", "left") if pose.facing > 0 else ("left", "right")
    out = np.zeros((len(base.PART_NAMES), 3))
    for i, name in enumerate(base.PART_NAMES):
        side = name.split(" ", 1)[0] if name.startswith(("left", "right")) else None
        generic = name.replace("left ", "").replace("right ", "")
        if side == far and generic in ("eye", "wing"):
            continue
        if generic == "leg":
            if side == near:
                xy = np.array(base._PART_XY["near leg"])
            elif pose.far_leg:
                xy = np.array(base._PART_XY["far leg"])
            else:
                continue
        else:
            xy = _canonical_part(name, look, art)
            assert xy is not None
        out[i] = (*base._transform(xy[None], pose)[0], 1.0)
    return out


def sample_pose(
    look: Mapping[str, str],
    art: Articulation,
    rng: np.random.Generator,
    image_size: int,
    realism: Realism,
) -> base.Pose:
    """A random placement keeping the articulated bird inside the image."""
    unit = base._SIZE_SCALE[look["size"]] * image_size * rng.uniform(*realism.scale)
    facing = 1 if rng.random() < 0.5 else -1
    angle = float(rng.uniform(-realism.tilt, realism.tilt))
    far_leg = bool(rng.random() < 0.5)
    probe = base.Pose(facing, unit, angle, 0.0, 0.0, far_leg)
    x0, y0, x1, y1 = _extent(look, probe, art)
    margin = 0.04 * image_size
    cx = rng.uniform(margin - x0, max(margin - x0, image_size - margin - x1))
    cy = rng.uniform(margin - y0, max(margin - y0, image_size - margin - y1))
    return base.Pose(facing, unit, angle, float(cx), float(cy), far_leg)


def _extent(look: Mapping[str, str], pose: base.Pose, art: Articulation) -> np.ndarray:
    points, spans, n_body = articulated_model(look, pose.far_leg, art)
    pts = base._transform(points[: spans[n_body - 1][1]], pose)
    return np.concatenate([pts.min(0), pts.max(0)])


# ------------------------------------------------------------------------------- background


def _habitat_background(habitat: str, rng: np.random.Generator, size: int) -> Image.Image:
    """The habitat's gradient with its typical structures (waves, trunks, clouds, stones,
    reeds)."""
    top, bottom = (np.array(c, dtype=float) for c in _HABITAT_COLOURS[habitat])
    shift = rng.uniform(-20, 20, 3)
    t = np.linspace(0.0, 1.0, size)[:, None]
    rows = np.clip((1 - t) * top + t * bottom + shift, 0, 255).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(np.broadcast_to(rows[:, None], (size, size, 3))))
    draw = ImageDraw.Draw(img)
    dark = tuple(int(v * 0.7) for v in bottom)
    light = tuple(int(min(255, v * 1.2)) for v in top)
    w = max(1, round(0.02 * size))
    if habitat == "water":
        for _ in range(int(rng.integers(6, 12))):
            x, y = rng.uniform(0, size), rng.uniform(0.3, 1.0) * size
            r = rng.uniform(0.05, 0.2) * size
            draw.arc([x - r, y - 0.2 * r, x + r, y + 0.2 * r], 180, 360, fill=light, width=w)
    elif habitat == "forest":
        for _ in range(int(rng.integers(2, 5))):
            x = rng.uniform(0, size)
            half = rng.uniform(0.02, 0.06) * size
            draw.rectangle([x - half, 0, x + half, size], fill=(90, 65, 40))
        for _ in range(int(rng.integers(6, 12))):
            x, y = rng.uniform(0, size, 2)
            r = rng.uniform(0.05, 0.15) * size
            draw.ellipse([x - r, y - 0.7 * r, x + r, y + 0.7 * r], fill=dark)
    elif habitat == "sky":
        for _ in range(int(rng.integers(2, 6))):
            x, y = rng.uniform(0, size, 2)
            r = rng.uniform(0.08, 0.2) * size
            draw.ellipse([x - r, y - 0.4 * r, x + r, y + 0.4 * r], fill=(235, 235, 240))
    elif habitat == "ground":
        for _ in range(int(rng.integers(6, 14))):
            x, y = rng.uniform(0, size, 2)
            r = rng.uniform(0.02, 0.07) * size
            draw.ellipse([x - r, y - 0.6 * r, x + r, y + 0.6 * r], fill=(120, 115, 110))
    else:  # reeds
        for _ in range(int(rng.integers(8, 16))):
            x = rng.uniform(0, size)
            y0 = rng.uniform(0.0, 0.5) * size
            lean = rng.uniform(-0.1, 0.1) * size
            draw.line([(x, size), (x + lean, y0)], fill=dark, width=w)
    return img


def _decoy(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    size: int,
    avoid: Sequence[float],
    colours: list[tuple[int, int, int]],
) -> None:
    """A bird piece (head with crown and bill, patterned wing, tail) or a plain saturated
    shape, in the birds' palette, away from the bird's box."""
    for _ in range(20):
        x, y = rng.uniform(0, size, 2)
        if not (avoid[0] <= x <= avoid[2] and avoid[1] <= y <= avoid[3]):
            break
    else:
        return
    unit = rng.uniform(0.16, 0.3) * size
    pose = base.Pose(
        1 if rng.random() < 0.5 else -1, unit, float(rng.uniform(-60, 60)), x, y, False
    )

    def poly(points: np.ndarray, fill: tuple[int, int, int]) -> None:
        xy = base._transform(points, pose)
        draw.polygon([tuple(p) for p in xy.tolist()], fill=fill, outline=base._darker(fill, 0.55))

    def colour() -> tuple[int, int, int]:
        return colours[int(rng.integers(len(colours)))]

    kind = int(rng.integers(4))
    hx, hy, hr = base.HEAD
    centre = np.array([hx, hy])
    if kind == 0:  # head: circle, crown cap, bill
        poly(base._ellipse(hx, hy, hr, hr) - centre, colour())
        poly(base._ellipse(hx, hy, hr, hr, 195.0, 345.0, 14) - centre, colour())
        bill = list(base._BILLS)[int(rng.integers(len(base._BILLS)))]
        poly(base._BILLS[bill] - centre, base._BILL_COLOUR)
    elif kind == 1:  # wing with a pattern
        wing = base._ellipse(*base.WING[:4], n=20, tilt=base.WING[4])
        fill = colour()
        poly(wing - np.array(base.WING[:2]), fill)
        pattern = ("solid", "striped", "spotted")[int(rng.integers(3))]
        for mark in base._pattern({"wing_pattern": pattern}):
            xy = base._transform(mark - np.array(base.WING[:2]), pose)
            draw.polygon([tuple(p) for p in xy.tolist()], fill=base._contrast(fill))
    elif kind == 2:  # tail
        tail = list(base._TAILS)[int(rng.integers(len(base._TAILS)))]
        poly(base._TAILS[tail] - np.array([-0.6, -0.05]), colour())
    else:  # a plain saturated blob
        r = 0.25 * unit
        draw.ellipse([x - r, y - 0.7 * r, x + r, y + 0.7 * r], fill=colour())


def _occluder(
    rng: np.random.Generator, size: int, box: Sequence[float], habitat: str
) -> tuple[list[tuple[str, list, dict]], Image.Image]:
    """Drawing commands of a leaf cluster or branch crossing the bird's box, and its mask."""
    x0, y0, x1, y1 = box
    cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
    extent = max(x1 - x0, y1 - y0)
    mask = Image.new("L", (size, size), 0)
    mdraw = ImageDraw.Draw(mask)
    commands: list[tuple[str, list, dict]] = []
    leaf = _HABITAT_COLOURS["forest"][int(rng.integers(2))] if habitat != "water" else (60, 100, 55)
    if rng.random() < 0.5:  # branch with leaves
        a = rng.uniform(0, math.pi)
        dx, dy = math.cos(a) * size, math.sin(a) * size
        width = max(1, round(rng.uniform(0.05, 0.09) * size))
        line = [(cx - dx, cy - dy), (cx + dx, cy + dy)]
        commands.append(("line", line, {"fill": (95, 70, 45), "width": width}))
        mdraw.line(line, fill=255, width=width)
        for _ in range(int(rng.integers(1, 4))):
            t = rng.uniform(-0.25, 0.25)
            lx, ly = cx + t * dx, cy + t * dy
            r = rng.uniform(0.15, 0.3) * extent
            ell = [lx - r, ly - 0.55 * r, lx + r, ly + 0.55 * r]
            commands.append(("ellipse", ell, {"fill": leaf}))
            mdraw.ellipse(ell, fill=255)
    else:  # a cluster of leaves
        for _ in range(int(rng.integers(2, 5))):
            lx, ly = cx + rng.normal(0, 0.12 * extent, 2)
            r = rng.uniform(0.15, 0.3) * extent
            ell = [lx - r, ly - 0.6 * r, lx + r, ly + 0.6 * r]
            commands.append(("ellipse", ell, {"fill": leaf}))
            mdraw.ellipse(ell, fill=255)
    return commands, mask


def _texture(rng: np.random.Generator, size: int, amplitude: float) -> np.ndarray:
    """``size×size`` multiplicative texture around 1: oriented stripes plus smooth blotches."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a = rng.uniform(0, math.pi)
    freq = rng.uniform(8.0, 18.0)
    stripes = np.sin(2 * math.pi * freq * (x * math.cos(a) + y * math.sin(a)) + rng.uniform(0, 6))
    coarse = rng.normal(0.0, 1.0, (6, 6)).astype(np.float32)
    blotch = np.asarray(Image.fromarray(coarse, mode="F").resize((size, size), Image.BILINEAR))
    field = 0.5 * stripes + 0.5 * np.clip(blotch, -2, 2)
    return 1.0 + amplitude * field


def render_bird(
    look: Mapping[str, str],
    seed: int | Sequence[int] | np.random.SeedSequence,
    image_size: int = 64,
    *,
    habitat: str = "forest",
    realism: Realism = REALISTIC,
    draw_object: bool = True,
    supersample: int = 2,
) -> tuple[Image.Image, base.BirdAnnotation]:
    """One realistic image of the bird ``look`` and its annotation (hidden parts not visible).

    ``habitat`` is the scene shown (:data:`HABITATS`); the choice between the class's habitat
    and a random one is the caller's. ``seed`` fixes everything else; ``draw_object=False``
    gives the same scene without the bird (the occluder stays).
    """
    look = base.look_of(look)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    pose_rng, bg_rng, ink_rng, noise_rng, occ_rng, tex_rng = (
        np.random.default_rng(s) for s in seq.spawn(6)
    )
    art = sample_articulation(pose_rng, realism)
    pose = sample_pose(look, art, pose_rng, image_size, realism)
    extent = _extent(look, pose, art)
    k = supersample
    big = image_size * k
    avoid = extent * k + (k - 1) / 2
    img = _habitat_background(habitat, bg_rng, big)
    draw = ImageDraw.Draw(img)
    palette = list(base.PALETTE.values())
    for _ in range(int(bg_rng.integers(*realism.blobs))):
        base._distractor(draw, bg_rng, big, palette, avoid)
    for _ in range(int(bg_rng.integers(*realism.decoys))):
        _decoy(draw, bg_rng, big, avoid, palette)
    bird_mask = Image.new("L", (big, big), 0)
    if draw_object:
        _draw_articulated(img, bird_mask, look, pose, art, ink_rng, realism, scale=k)
    occluded = occ_rng.random() < realism.occlusion
    occ_mask = None
    if occluded:
        commands, occ_mask = _occluder(occ_rng, big, avoid, habitat)
        for kind, xy, style in commands:
            getattr(draw, kind)(xy, **style)
    pixels = np.asarray(img, dtype=np.float32)
    inside = np.asarray(bird_mask, dtype=np.float32)[..., None] / 255.0
    tex_bird = _texture(tex_rng, big, realism.texture)[..., None]
    tex_rest = _texture(tex_rng, big, realism.texture)[..., None]
    pixels = pixels * (inside * tex_bird + (1 - inside) * tex_rest)
    pixels *= tex_rng.uniform(*realism.light)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if k > 1:
        img = img.reduce(k)
    noisy = np.asarray(img, dtype=np.int16) + np.rint(
        noise_rng.normal(0.0, 4.0, (image_size, image_size, 3))
    ).astype(np.int16)
    img = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    parts = part_locations(look, pose, art)
    if occ_mask is not None:
        parts = _hide_occluded(parts, np.asarray(occ_mask), k)
    return img, base.BirdAnnotation(parts, base._box(extent, image_size), pose)


def _draw_articulated(
    img: Image.Image,
    mask: Image.Image,
    look: Mapping[str, str],
    pose: base.Pose,
    art: Articulation,
    rng: np.random.Generator,
    realism: Realism,
    scale: float,
) -> None:
    draw, mdraw = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    colours = base._colours(look, rng)
    jitter = realism.colour_jitter - 12
    if jitter > 0:  # wider per-image colour variation than the simple preset's ±12
        colours = {
            s: tuple(int(np.clip(v + rng.integers(-jitter, jitter + 1), 0, 255)) for v in c)
            for s, c in colours.items()
        }
    colours["pattern"] = base._contrast(colours["wing_color"])
    width = max(1, round(scale * 0.5))
    points, spans, n_body = articulated_model(look, pose.far_leg, art)
    xy = (base._transform(points, pose) * scale + (scale - 1) / 2).tolist()
    for k, (start, stop, slot) in enumerate(spans):
        fill = colours[slot]
        poly = [tuple(p) for p in xy[start:stop]]
        if k < n_body:
            draw.polygon(poly, fill=fill, outline=base._darker(fill, 0.55), width=width)
            mdraw.polygon(poly, fill=255)
        else:
            draw.polygon(poly, fill=fill)


def _hide_occluded(parts: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Parts whose (supersampled) location lies under the occluder become not visible."""
    out = parts.copy()
    size = mask.shape[0]
    for i, (x, y, vis) in enumerate(parts):
        if vis <= 0:
            continue
        px = int(np.clip(round(x * k + (k - 1) / 2), 0, size - 1))
        py = int(np.clip(round(y * k + (k - 1) / 2), 0, size - 1))
        if mask[py, px] > 127:
            out[i] = (0.0, 0.0, 0.0)
    return out


def image_attributes(
    groups: Sequence[base.AttributeGroup],
    combo: Sequence[int],
    parts: np.ndarray,
    rng: np.random.Generator,
    realism: Realism = REALISTIC,
) -> np.ndarray:
    """A×3 (is_present, certainty_id, time): like :func:`base.image_attributes` with the
    preset's flip rates, and every group whose parts are all hidden "not visible" (absent)."""
    sizes = [len(g.values) for g in groups]
    truth = np.concatenate([np.arange(n) == v for n, v in zip(sizes, combo, strict=True)])
    certainty = rng.choice(4, size=len(groups), p=base._CERTAINTY_P) + 1
    visible = {name for name, p in zip(base.PART_NAMES, parts, strict=True) if p[2] > 0}
    for g, group in enumerate(groups):
        if group.parts and not visible.intersection(group.parts):
            certainty[g] = 1
    certainty = np.repeat(certainty, sizes)
    flip = rng.random(truth.size) < np.asarray(realism.flip)[certainty]
    present = np.where(certainty == 1, False, truth ^ flip)
    seconds = np.round(rng.gamma(2.0, 6.0, truth.size), 4)
    return np.stack([present.astype(np.float64), certainty.astype(np.float64), seconds], 1)


def class_habitats(classes: int, rng: np.random.Generator) -> np.ndarray:
    """The habitat index of every class (uniform over :data:`HABITATS`)."""
    return rng.integers(len(HABITATS), size=classes)


def image_habitat(class_habitat: int, rng: np.random.Generator, realism: Realism) -> str:
    """The habitat an image shows: its class's with probability ``realism.habitat``."""
    if rng.random() < realism.habitat:
        return HABITATS[int(class_habitat)]
    return HABITATS[int(rng.integers(len(HABITATS)))]
