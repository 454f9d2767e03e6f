"""Presets of the synthetic birds: ``simple`` is the original generator bit for bit;
``realistic`` adds articulation, occlusion, habitats, textures and noisier attributes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from lococo.data.zsl import synth as sz
from lococo.data.zsl import synth_realistic as real
from lococo.errors import LococoError

# sha256 over (relative path, bytes) of every file synth_zsl wrote, computed with the generator
# as it was before presets existed (same Pillow/libjpeg and SciPy as this environment; a
# different JPEG encoder would change the bytes, not the generator).
SIMPLE_HASHES = {
    (0, 8, 2, 32): "6021552594a61fcd1b3dc4f4d35d27447411e5819a9997be682f0ad33e2cfea6",
    (0, 12, 2, 32): "24e7b762e64ba7eadcd0b87ba81c9374b5b363b007488d67a919a1edebd77e23",
}


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize(("key", "digest"), list(SIMPLE_HASHES.items()))
def test_simple_preset_writes_exactly_what_the_original_generator_wrote(tmp_path, key, digest):
    seed, classes, per_class, size = key
    out = tmp_path / "simple"
    sz.synth_zsl(
        out, seed=seed, classes=classes, unseen=2, images_per_class=per_class,
        image_size=size, progress=False, preset="simple",
    )  # fmt: skip
    assert _tree_hash(out) == digest


def _realistic(out: Path, seed: int = 1, workers: int = 1) -> sz.SynthZSLInfo:
    return sz.synth_zsl(
        out, seed=seed, classes=12, unseen=3, images_per_class=3, image_size=32,
        workers=workers, progress=False, preset="realistic",
    )  # fmt: skip


def test_realistic_preset_is_reproducible_and_records_its_habitats(tmp_path):
    a = _realistic(tmp_path / "a")
    b = _realistic(tmp_path / "b", workers=2)
    assert _tree_hash(a.root) == _tree_hash(b.root)
    manifest = json.loads((a.root / "synth_zsl.json").read_text())
    assert manifest["preset"] == "realistic"
    assert len(manifest["class_habitats"]) == 12
    assert set(manifest["class_habitats"]) <= set(real.HABITATS)
    simple = sz.synth_zsl(
        tmp_path / "s", seed=1, classes=12, unseen=3, images_per_class=3, image_size=32,
        progress=False,
    )  # fmt: skip
    assert "preset" not in json.loads((simple.root / "synth_zsl.json").read_text())
    assert _tree_hash(simple.root) != _tree_hash(a.root)


def test_unknown_preset_is_refused(tmp_path):
    with pytest.raises(LococoError, match="preset"):
        sz.synth_zsl(tmp_path / "x", classes=12, unseen=3, preset="fancy", progress=False)


LOOK = {
    "crown_color": "red",
    "wing_color": "blue",
    "wing_pattern": "striped",
    "breast_color": "yellow",
    "upperparts_color": "green",
    "bill_shape": "hooked",
    "tail_shape": "forked",
    "size": "large",
}
NO_OCCLUSION = dataclasses.replace(real.REALISTIC, occlusion=0.0)


def test_articulated_parts_are_drawn_where_they_are_annotated():
    """Every visible part's annotated location is covered by the drawn bird (the image with
    and without the bird differ there), whatever the head, wing and tail articulation."""
    hits = total = 0
    arts = set()
    for seed in range(12):
        kwargs = dict(habitat=real.HABITATS[seed % 5], realism=NO_OCCLUSION)
        img, ann = real.render_bird(LOOK, seed, 64, **kwargs)
        bg, ann_bg = real.render_bird(LOOK, seed, 64, draw_object=False, **kwargs)
        np.testing.assert_array_equal(ann.parts, ann_bg.parts)
        diff = np.abs(np.asarray(img, dtype=int) - np.asarray(bg, dtype=int)).sum(2)
        x, y, w, h = (int(v) for v in ann.box)
        outside = np.ones_like(diff, dtype=bool)
        outside[max(0, y - 1) : y + h + 2, max(0, x - 1) : x + w + 2] = False
        assert diff[outside].max() == 0  # the bird changes nothing outside its box
        for px, py, vis in ann.parts:
            if vis:
                total += 1
                r, c = round(py), round(px)
                hits += diff[r - 1 : r + 2, c - 1 : c + 2].mean() > 20
        art = real.sample_articulation(
            np.random.default_rng(np.random.SeedSequence(seed).spawn(6)[0]), NO_OCCLUSION
        )
        arts.add((round(art.head), round(art.wing), round(art.tail)))
    assert hits >= 0.95 * total and total > 12 * 8
    assert len(arts) == 12  # every image has its own articulation


def test_occluders_hide_parts_and_make_attribute_groups_not_visible():
    always = dataclasses.replace(real.REALISTIC, occlusion=1.0)
    visible_clear = visible_occluded = 0
    for seed in range(20):
        _, clear = real.render_bird(LOOK, seed, 64, realism=NO_OCCLUSION)
        _, occluded = real.render_bird(LOOK, seed, 64, realism=always)
        np.testing.assert_array_equal(
            clear.parts[:, :2][occluded.parts[:, 2] > 0],
            occluded.parts[:, :2][occluded.parts[:, 2] > 0],
        )
        assert not (occluded.parts[:, 2] > clear.parts[:, 2]).any()  # only hides
        visible_clear += int(clear.parts[:, 2].sum())
        visible_occluded += int(occluded.parts[:, 2].sum())
    assert visible_occluded < 0.9 * visible_clear
    groups = sz.DEFAULT_GROUPS
    combo = [0] * len(groups)
    hidden = np.zeros((15, 3))
    hidden[sz.PART_NAMES.index("tail")] = (10, 10, 1)  # only the tail shows
    attrs = real.image_attributes(groups, combo, hidden, np.random.default_rng(0))
    sizes = [len(g.values) for g in groups]
    certainty = attrs[np.cumsum([0, *sizes[:-1]]), 1]
    for g, group in enumerate(groups):
        shows = not group.parts or bool({"tail"} & set(group.parts))
        assert (certainty[g] == 1) != shows, group.name  # 1: "not visible"
    assert not attrs[:, 0][np.repeat(certainty == 1, sizes)].any()  # not visible -> absent


def test_images_show_their_class_habitat_most_of_the_time():
    rng = np.random.default_rng(0)
    shown = [real.image_habitat(2, rng, real.REALISTIC) for _ in range(4000)]
    share = np.mean([s == real.HABITATS[2] for s in shown])
    expected = real.REALISTIC.habitat + (1 - real.REALISTIC.habitat) / len(real.HABITATS)
    assert share == pytest.approx(expected, abs=0.03)
    assert set(shown) == set(real.HABITATS)


def test_realistic_attributes_are_noisier_than_simple_ones():
    groups = sz.DEFAULT_GROUPS
    combo = [1] * len(groups)
    parts = np.ones((15, 3))
    truth = np.concatenate([np.arange(len(g.values)) == 1 for g in groups])

    def agreement(draw) -> float:
        rng = np.random.default_rng(0)
        return float(np.mean([(draw(rng)[:, 0] > 0) == truth for _ in range(400)]))

    simple = agreement(lambda rng: sz.image_attributes(groups, combo, rng))
    realistic = agreement(lambda rng: real.image_attributes(groups, combo, parts, rng))
    assert 0.8 < realistic < simple - 0.005
