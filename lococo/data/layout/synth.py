"""Synthetic scenes: layout-to-image data written in the COCO-Stuff 2017 format.

Every image is a small scene: stuff background regions (sky above a wavy horizon; one or two
kinds of ground below it, split by a wavy boundary) and 3–8 counted objects in all. Things come
from eight classes, each with its own shape *and* its own texture (disc/concentric rings,
square/horizontal stripes, triangle/vertical stripes, ring/checkerboard, cross/diagonal stripes,
star/rimmed solid, diamond/dots, bar/grid); the two colours of every instance are drawn from one
palette shared by all classes, so a crop's class is recognisable from shape and texture but not
from colour (with ``class_colours=True`` every class instead keeps its own colour pair,
:data:`CLASS_COLOURS`: classes then differ by shape, texture *and* colour in otherwise identical
scenes). About a third of the images contain two instances of one class whose boxes overlap
(the "donut" case of thesis fig. 6.1), and some contain tiny objects (box ≤ 2% of the image) that
the sg2im preprocessing drops. Objects occlude earlier ones; every instance mask is the exact set
of its visible pixels, and no object keeps less than half of its drawn pixels.

Output under ``out`` (the real layout, read back by :mod:`lococo.data.layout.coco_stuff`)::

    annotations/instances_{train,val}2017.json   things: uncompressed-RLE masks, ids with gaps
    annotations/stuff_{train,val}2017.json       stuff (compressed RLE) + "other" (thing pixels)
    train2017/*.png, val2017/*.png
    synth_layout.json                            the generator's parameters (not in the format)
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lococo.data.staging import (
    SynthArgumentError,
    check_output_dir,
    move_into_place,
    staging_dir,
    worker_pool,
)
from lococo.io import atomic_open, write_json

_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"
MIN_AREA = 0.02  # the sg2im rule the generated counts must satisfy
MIN_VISIBLE = 0.5  # an object keeps at least this fraction of its drawn pixels
DONUT_PROB = 0.35
TINY_PROB = 0.3
SPLIT_GROUND_PROB = 0.5
NOISE_SIGMA = 4.0
STUFF_ID_OFFSET = 10_000_000


@dataclass(frozen=True)
class ThingClass:
    id: int
    name: str
    shape: str
    texture: str


#: Thing classes: real-style COCO ids with gaps, one shape and one texture each.
THINGS: tuple[ThingClass, ...] = (
    ThingClass(2, "disc", "disc", "concentric"),
    ThingClass(5, "square", "square", "hstripes"),
    ThingClass(9, "triangle", "triangle", "vstripes"),
    ThingClass(13, "ring", "ring", "checker"),
    ThingClass(18, "cross", "cross", "diagonal"),
    ThingClass(22, "star", "star", "rimmed"),
    ThingClass(27, "diamond", "diamond", "dots"),
    ThingClass(35, "bar", "bar", "grid"),
)
#: Stuff classes (COCO-Stuff ids) and the "other" class of thing pixels (dropped by readers).
SKY = (157, "sky-other")
GROUNDS: tuple[tuple[int, str], ...] = ((124, "grass"), (154, "sand"), (178, "water-other"))
OTHER = (183, "other")
PALETTE = np.asarray(
    [
        (210, 40, 40),
        (240, 140, 20),
        (235, 215, 40),
        (40, 170, 60),
        (40, 190, 200),
        (40, 70, 210),
        (150, 60, 190),
        (245, 245, 245),
        (30, 30, 30),
    ],
    dtype=np.float32,
)


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shape in local coordinates ``u, v`` (the shape's half-extent is 1, ``v`` points down)."""
    if shape == "disc":
        return u * u + v * v <= 1.0
    if shape == "square":
        return (np.abs(u) <= 0.9) & (np.abs(v) <= 0.9)
    if shape == "triangle":
        return (v <= 0.9) & (np.abs(u) <= (v + 1.0) * 0.5)
    if shape == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.25)
    if shape == "cross":
        return ((np.abs(u) <= 0.34) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.34) & (np.abs(u) <= 1))
    if shape == "star":
        theta = np.arctan2(v, u)
        radius = 0.42 + 0.58 * ((np.cos(5.0 * (theta + math.pi / 2)) + 1.0) * 0.5) ** 2
        return np.sqrt(u * u + v * v) <= radius
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    if shape == "bar":
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 0.38)
    raise ValueError(f"unknown shape {shape!r}")


def _texture(
    texture: str, x: np.ndarray, y: np.ndarray, r: np.ndarray, period: float
) -> np.ndarray:
    """Two-colour pattern (True = first colour) in pixel coordinates local to the object."""
    half = period / 2.0
    if texture == "concentric":
        return np.floor(np.sqrt(x * x + y * y) / half) % 2 == 0
    if texture == "hstripes":
        return np.floor(y / half) % 2 == 0
    if texture == "vstripes":
        return np.floor(x / half) % 2 == 0
    if texture == "checker":
        return (np.floor(x / half) + np.floor(y / half)) % 2 == 0
    if texture == "diagonal":
        return np.floor((x + y) / (half * 1.41)) % 2 == 0
    if texture == "rimmed":
        return r <= 0.62
    if texture == "dots":
        dx = np.mod(x, period) - half
        dy = np.mod(y, period) - half
        return dx * dx + dy * dy > (0.32 * period) ** 2
    if texture == "grid":
        return (np.mod(x, period) >= 1.2) & (np.mod(y, period) >= 1.2)
    raise ValueError(f"unknown texture {texture!r}")


@dataclass
class _Drawn:
    category_id: int
    mask: np.ndarray  # drawn pixels (full image, before later occlusion)
    colours: np.ndarray  # H×W×3 colours of the drawn pixels (valid where mask)
    main: bool  # counted object (False: tiny distractor)


#: Palette indices of each thing class's two colours under ``class_colours`` (by class order).
CLASS_COLOURS = ((0, 7), (1, 8), (2, 5), (3, 7), (4, 8), (5, 2), (6, 7), (7, 0))


def _draw_thing(
    cls: ThingClass,
    centre: tuple[float, float],
    half: float,
    rng: np.random.Generator,
    size: int,
    class_colours: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Mask and colours of one thing instance on a ``size × size`` canvas."""
    aspect = rng.uniform(0.85, 1.15)
    hx, hy = half * aspect, half / aspect
    angle = math.radians(rng.uniform(-20.0, 20.0))
    cos, sin = math.cos(angle), math.sin(angle)
    reach = math.hypot(hx, hy) + 1.0  # the shape lies within this distance of its centre
    x0, x1 = max(0, math.floor(centre[0] - reach)), min(size, math.ceil(centre[0] + reach))
    y0, y1 = max(0, math.floor(centre[1] - reach)), min(size, math.ceil(centre[1] + reach))
    mask = np.zeros((size, size), dtype=bool)
    colours = np.zeros((size, size, 3), dtype=np.float32)
    a, b = rng.choice(len(PALETTE), size=2, replace=False)
    if class_colours:  # the random draw stays, so the scenes are otherwise the same
        a, b = CLASS_COLOURS[THINGS.index(cls)]
    if x1 <= x0 or y1 <= y0:
        return mask, colours
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx + 0.5 - centre[0], yy + 0.5 - centre[1]
    lx, ly = cos * dx + sin * dy, -sin * dx + cos * dy  # rotated local pixel coordinates
    u, v = lx / hx, ly / hy
    mask[y0:y1, x0:x1] = _shape_mask(cls.shape, u, v)
    period = max(4.0, size / 12.0)
    first = _texture(cls.texture, lx, ly, np.sqrt(u * u + v * v), period)
    colours[y0:y1, x0:x1] = np.where(first[..., None], PALETTE[a], PALETTE[b])
    return mask, colours


def _box_area(mask: np.ndarray) -> float:
    """Area of the tight box of ``mask`` as a fraction of the image (0 for an empty mask)."""
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    if not len(cols):
        return 0.0
    return (cols[-1] - cols[0] + 1) * (rows[-1] - rows[0] + 1) / mask.size


def _tight_box(mask: np.ndarray) -> list[int]:
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    return [
        int(cols[0]),
        int(rows[0]),
        int(cols[-1] - cols[0] + 1),
        int(rows[-1] - rows[0] + 1),
    ]


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> np.ndarray:
    """``2×size×size`` pixel row and column indices (read-only, shared)."""
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    grid.flags.writeable = False
    return grid


def _stuff_regions(
    rng: np.random.Generator, size: int
) -> tuple[list[tuple[int, str]], list[np.ndarray]]:
    """Sky above a wavy horizon, then one or two grounds split by a wavy boundary."""
    yy, xx = _grid(size) + 0.5
    horizon = rng.uniform(0.3, 0.55) * size + rng.uniform(0.02, 0.06) * size * np.sin(
        2 * math.pi * xx / (size * rng.uniform(0.6, 1.4)) + rng.uniform(0, 2 * math.pi)
    )
    sky = yy < horizon
    grounds = rng.permutation(len(GROUNDS))
    classes, regions = [SKY], [sky]
    if rng.random() < SPLIT_GROUND_PROB:
        border = rng.uniform(0.35, 0.65) * size + 0.05 * size * np.sin(
            2 * math.pi * yy / size + rng.uniform(0, 2 * math.pi)
        )
        left = (~sky) & (xx < border)
        classes += [GROUNDS[grounds[0]], GROUNDS[grounds[1]]]
        regions += [left, (~sky) & ~left]
    else:
        classes.append(GROUNDS[grounds[0]])
        regions.append(~sky)
    return classes, regions


def _stuff_pixels(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """Colours of a stuff texture over the whole canvas."""
    yy, xx = _grid(size) / size
    if name == "sky-other":
        top = np.asarray([120, 170, 235]) + rng.uniform(-20, 20, 3)
        bottom = np.asarray([215, 230, 245]) + rng.uniform(-15, 10, 3)
        return top + (bottom - top) * yy[..., None]
    if name == "grass":
        base = np.asarray([70, 150, 60]) + rng.uniform(-15, 15, 3)
        streak = rng.normal(0.0, 1.0, size)[None, :] * 0.5 + rng.normal(0, 1, (size, size)) * 0.5
        return base * (1.0 + 0.18 * streak)[..., None]
    if name == "sand":
        base = np.asarray([215, 190, 135]) + rng.uniform(-15, 15, 3)
        speck = (rng.random((size, size)) < 0.08) * -45.0
        return base + speck[..., None]
    if name == "water-other":
        base = np.asarray([40, 110, 160]) + rng.uniform(-15, 15, 3)
        wave = np.sin(2 * math.pi * (yy * 10 + 0.4 * np.sin(2 * math.pi * xx * 2)))
        return base * (1.0 + 0.2 * wave)[..., None]
    raise ValueError(f"unknown stuff {name!r}")


@dataclass
class SceneSample:
    """One rendered scene: the image and its annotations (COCO fields, pixel ``[x, y, w, h]``)."""

    image: np.ndarray
    things: list[dict[str, Any]]
    stuff: list[dict[str, Any]]
    donut: bool
    counted: int


def render_scene(seed: Sequence[int], size: int, class_colours: bool = False) -> SceneSample:
    """Render one scene from the seed sequence ``seed`` on a ``size × size`` canvas."""
    rng = np.random.default_rng(list(seed))
    for _ in range(100):
        sample = _try_scene(rng, size, class_colours)
        if sample is not None:
            return sample
    raise RuntimeError("could not place the objects of a scene")  # pragma: no cover


def _try_scene(
    rng: np.random.Generator, size: int, class_colours: bool = False
) -> SceneSample | None:
    stuff_classes, regions = _stuff_regions(rng, size)
    n_things = int(rng.integers(1, 8 - len(stuff_classes) + 1))
    donut = n_things >= 2 and rng.random() < DONUT_PROB
    owner = np.full((size, size), -1, dtype=np.int32)
    drawn: list[_Drawn] = []
    first_class = THINGS[int(rng.integers(len(THINGS)))]
    plan = [first_class] + [THINGS[int(rng.integers(len(THINGS)))] for _ in range(n_things - 1)]
    if donut:
        plan[1] = first_class
    for k, cls in enumerate(plan):
        placed = False
        for _ in range(30):
            half = rng.uniform(0.12, 0.24) * size
            if donut and k == 1:  # overlapping box of the same class
                prev = drawn[0]
                box = _tight_box(prev.mask)
                pc = (box[0] + box[2] / 2, box[1] + box[3] / 2)
                reach = rng.uniform(0.55, 0.85) * (max(box[2], box[3]) / 2 + half)
                angle = rng.uniform(0, 2 * math.pi)
                centre = (pc[0] + reach * math.cos(angle), pc[1] + reach * math.sin(angle))
            else:
                centre = tuple(rng.uniform(0.6 * half, size - 0.6 * half, 2))
            mask, colours = _draw_thing(cls, centre, half, rng, size, class_colours)
            if _accept(mask, owner, drawn, MIN_AREA):
                owner[mask] = len(drawn)
                drawn.append(_Drawn(cls.id, mask, colours, True))
                placed = True
                break
        if not placed:
            return None
    if donut and not _boxes_overlap(drawn[0].mask & (owner == 0), drawn[1].mask):
        return None
    if rng.random() < TINY_PROB:  # a small object under the others, dropped by the 2% rule
        cls = THINGS[int(rng.integers(len(THINGS)))]
        half = rng.uniform(0.045, 0.06) * size
        centre = tuple(rng.uniform(half, size - half, 2))
        mask, colours = _draw_thing(cls, centre, half, rng, size, class_colours)
        mask &= owner < 0
        if mask.sum() >= 4 and _box_area(mask) <= MIN_AREA:
            owner[mask] = len(drawn)
            drawn.append(_Drawn(cls.id, mask, colours, False))
    image = np.zeros((size, size, 3), dtype=np.float32)
    things_px = owner >= 0
    stuff: list[dict[str, Any]] = []
    counted = 0
    for (cid, name), region in zip(stuff_classes, regions, strict=True):
        np.copyto(image, _stuff_pixels(name, rng, size), where=region[..., None])
        visible = region & ~things_px
        if visible.any():
            stuff.append({"category_id": cid, "mask": visible})
            counted += _box_area(visible) > MIN_AREA
    if things_px.any():
        stuff.append({"category_id": OTHER[0], "mask": things_px})
    things: list[dict[str, Any]] = []
    for j, obj in enumerate(drawn):
        visible = owner == j
        np.copyto(image, obj.colours, where=visible[..., None])
        things.append({"category_id": obj.category_id, "mask": visible})
        counted += obj.main and _box_area(visible) > MIN_AREA
    if not 3 <= counted <= 8:
        return None
    image += rng.normal(0.0, NOISE_SIGMA, image.shape).astype(np.float32)
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return SceneSample(pixels, things, stuff, donut, int(counted))


def _accept(mask: np.ndarray, owner: np.ndarray, drawn: list[_Drawn], min_area: float) -> bool:
    if _box_area(mask) <= min_area * 1.25:
        return False
    for j, obj in enumerate(drawn):
        kept = (owner == j) & ~mask
        if kept.sum() < MIN_VISIBLE * obj.mask.sum() or _box_area(kept) <= min_area * 1.25:
            return False
    return True


def _boxes_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    ax, ay, aw, ah = _tight_box(a)
    bx, by, bw, bh = _tight_box(b)
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def rle_counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE counts of ``mask`` (column-major runs, starting with zeros)."""
    flat = np.asarray(mask, dtype=np.uint8).reshape(-1, order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return runs if flat[0] == 0 else [0, *runs]


def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE (``counts`` a string), as in the COCO-Stuff annotation files."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": rle["counts"].decode()}


@dataclass(frozen=True)
class _Job:
    seed: int
    size: int
    items: tuple[tuple[int, str], ...]  # (image index, output path)
    class_colours: bool = False


def _render_chunk(job: _Job) -> list[tuple[list[dict], list[dict], bool, int]]:
    out = []
    for index, path in job.items:
        sample = render_scene((job.seed, 1, index), job.size, job.class_colours)
        Image.fromarray(sample.image).save(path, format="PNG", compress_level=1)
        things = [_annotation(a, iscrowd=0, rle=False) for a in sample.things]
        stuff = [_annotation(a, iscrowd=0, rle=True) for a in sample.stuff]
        out.append((things, stuff, sample.donut, sample.counted))
    return out


def _annotation(found: dict[str, Any], iscrowd: int, rle: bool) -> dict[str, Any]:
    mask = found["mask"]
    h, w = mask.shape
    seg = compressed_rle(mask) if rle else {"size": [int(h), int(w)], "counts": rle_counts(mask)}
    return {
        "category_id": int(found["category_id"]),
        "bbox": [float(v) for v in _tight_box(mask)],
        "area": float(mask.sum()),
        "iscrowd": iscrowd,
        "segmentation": seg,
    }


@dataclass
class SynthLayoutInfo:
    """What :func:`synth_layout` wrote."""

    root: Path
    seed: int
    image_size: int
    num_images: int
    split_images: dict[str, int]
    thing_names: list[str]
    stuff_names: list[str]
    donut_images: int
    seconds: float = 0.0
    objects_per_image: list[int] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.num_images / self.seconds if self.seconds > 0 else float("inf")


_OURS = ("annotations", "train2017", "val2017", "synth_layout.json")
_TMP_PREFIX = ".tmp-synth-layout-"


def synth_layout(
    out: str | Path,
    *,
    seed: int = 0,
    images: int = 1000,
    image_size: int = 64,
    val_fraction: float = 0.2,
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    class_colours: bool = False,
) -> SynthLayoutInfo:
    """Write ``images`` synthetic scenes in the COCO-Stuff 2017 layout into ``out``.

    ``round(val_fraction · images)`` (at least 3) go to ``val2017``, the rest to ``train2017``.
    Same arguments ⇒ identical files (each image has its own seed, so ``workers`` does not
    change the output). Files are written under ``out/.tmp-synth-layout-*`` and renamed into
    place at the end; a non-empty ``out`` is refused unless ``overwrite``. ``class_colours``:
    each thing class keeps its own colours (see the module docstring).
    """
    _check_args(seed, images, image_size, val_fraction, workers)
    out = Path(out)
    check_output_dir(out, overwrite, _TMP_PREFIX)
    start = time.perf_counter()
    n_val = max(3, round(val_fraction * images))
    counts = {"train": images - n_val, "val": n_val}
    out.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(out, _TMP_PREFIX)
    try:
        (tmp / "annotations").mkdir(parents=True)
        items: list[tuple[int, str, str, int]] = []  # (index, split, path, image id)
        for split in ("train", "val"):
            (tmp / f"{split}2017").mkdir()
            for _ in range(counts[split]):
                index = len(items)
                image_id = _image_id(index)
                path = tmp / f"{split}2017" / f"{image_id:012d}.png"
                items.append((index, split, str(path), image_id))
        results = _render_all(
            seed, image_size, [(i, p) for i, _, p, _ in items], workers, progress, class_colours
        )
        _write_annotations(tmp, items, results, image_size)
        write_json(
            tmp / "synth_layout.json",
            {
                "seed": seed,
                "images": images,
                "image_size": image_size,
                "split_images": counts,
                "class_colours": class_colours,
            },
        )
        move_into_place(tmp, out, _OURS)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return SynthLayoutInfo(
        root=out,
        seed=seed,
        image_size=image_size,
        num_images=images,
        split_images=counts,
        thing_names=[c.name for c in THINGS],
        stuff_names=[SKY[1], *(g[1] for g in GROUNDS)],
        donut_images=sum(r[2] for r in results),
        seconds=time.perf_counter() - start,
        objects_per_image=[r[3] for r in results],
    )


def _image_id(index: int) -> int:
    """Real-style image ids: increasing, with gaps."""
    return 1000 + 7 * index


def _render_all(
    seed: int,
    size: int,
    items: list[tuple[int, str]],
    workers: int,
    progress: bool,
    class_colours: bool = False,
) -> list[tuple[list[dict], list[dict], bool, int]]:
    chunk = max(1, min(64, math.ceil(len(items) / (4 * workers))))
    jobs = [
        _Job(seed, size, tuple(items[i : i + chunk]), class_colours)
        for i in range(0, len(items), chunk)
    ]
    from tqdm.auto import tqdm

    results: list[tuple[list[dict], list[dict], bool, int]] = []
    with tqdm(total=len(items), desc="synth layout", unit="img", disable=not progress) as bar:
        if workers == 1:
            runner: Callable[[_Job], list] = _render_chunk
            for job in jobs:
                results.extend(runner(job))
                bar.update(len(job.items))
        else:
            with worker_pool(workers, get_context(_START_METHOD)) as pool:
                for job, done in zip(jobs, pool.map(_render_chunk, jobs), strict=True):
                    results.extend(done)
                    bar.update(len(job.items))
    return results


def _categories() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    things = [{"id": c.id, "name": c.name, "supercategory": "shape"} for c in THINGS]
    stuff = [
        {"id": cid, "name": name, "supercategory": "ground" if name != SKY[1] else "sky"}
        for cid, name in sorted([SKY, *GROUNDS])
    ]
    stuff.append({"id": OTHER[0], "name": OTHER[1], "supercategory": "other"})
    return things, stuff


def _write_annotations(
    tmp: Path,
    items: Sequence[tuple[int, str, str, int]],
    results: Sequence[tuple[list[dict], list[dict], bool, int]],
    size: int,
) -> None:
    thing_cats, stuff_cats = _categories()
    info = {"description": "lococo synthetic scenes (COCO-Stuff 2017 layout)", "version": "1.0"}
    for split in ("train", "val"):
        images, thing_anns, stuff_anns = [], [], []
        for (_, item_split, path, image_id), (things, stuff, _, _) in zip(
            items, results, strict=True
        ):
            if item_split != split:
                continue
            images.append(
                {"id": image_id, "file_name": Path(path).name, "width": size, "height": size}
            )
            for ann in things:
                thing_anns.append({"id": len(thing_anns) + 1, "image_id": image_id, **ann})
            for ann in stuff:
                sid = STUFF_ID_OFFSET + len(stuff_anns) + 1
                stuff_anns.append({"id": sid, "image_id": image_id, **ann})
        for name, cats, anns in (
            ("instances", thing_cats, thing_anns),
            ("stuff", stuff_cats, stuff_anns),
        ):
            payload = {
                "info": info,
                "licenses": [],
                "images": images,
                "annotations": anns,
                "categories": cats,
            }
            with atomic_open(tmp / "annotations" / f"{name}_{split}2017.json") as handle:
                handle.write(json.dumps(payload, separators=(",", ":")))


def _check_args(seed: int, images: int, size: int, val_fraction: float, workers: int) -> None:
    checks = [
        (isinstance(seed, int) and seed >= 0, f"seed must be a non-negative integer, got {seed}"),
        (images >= 10, f"images must be at least 10, got {images}"),
        (32 <= size <= 1024, f"image_size must be in 32..1024, got {size}"),
        (0.0 < val_fraction < 1.0, f"val_fraction must lie in (0, 1), got {val_fraction}"),
        (workers >= 1, f"workers must be at least 1, got {workers}"),
    ]
    for ok, message in checks:
        if not ok:
            raise SynthArgumentError(message)
