"""Synthetic scenes: COCO-Stuff files that read back through the reader, exact masks,
determinism, the donut case, and classes that colour alone does not give away."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from sklearn.linear_model import LogisticRegression

from lococo.cli.main import main
from lococo.data.layout import load_layout
from lococo.data.layout import synth as sl
from lococo.data.layout.dataset import decode_segmentation


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> sl.SynthLayoutInfo:
    out = tmp_path_factory.mktemp("scenes")
    return sl.synth_layout(out, seed=5, images=160, image_size=64, progress=False)


def _json(root: Path, name: str) -> dict:
    return json.loads((root / "annotations" / name).read_text())


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_files_whatever_the_workers(tmp_path: Path) -> None:
    a = sl.synth_layout(tmp_path / "a", seed=1, images=12, progress=False)
    b = sl.synth_layout(tmp_path / "b", seed=1, images=12, workers=2, progress=False)
    c = sl.synth_layout(tmp_path / "c", seed=2, images=12, progress=False)
    assert _tree(a.root) == _tree(b.root)
    assert _tree(a.root) != _tree(c.root)


def test_reads_back_through_the_coco_stuff_reader(scenes: sl.SynthLayoutInfo) -> None:
    data = load_layout(scenes.root, "coco-stuff")
    assert len(data.splits["train"]) == scenes.split_images["train"] == 128
    assert len(data.splits["val"]) + len(data.splits["test"]) == scenes.split_images["val"]
    counts = [s.num_objects for split in ("train", "val", "test") for s in data.splits[split]]
    assert sorted(counts) == sorted(scenes.objects_per_image)
    assert min(counts) >= 3 and max(counts) <= 8
    things = [c.id for c in sl.THINGS]
    assert len(things) >= 8 and len(data.class_names) - len(things) >= 3  # >= 3 stuff classes
    assert data.category_ids[: len(things)] == things and np.diff(things).min() > 1  # gaps
    assert "other" not in data.class_names


def test_masks_are_exact_and_partition_the_image(scenes: sl.SynthLayoutInfo) -> None:
    inst, stuff = (
        _json(scenes.root, "instances_val2017.json"),
        _json(scenes.root, "stuff_val2017.json"),
    )
    for image in inst["images"][:10]:
        iid, size = image["id"], (image["height"], image["width"])
        thing = [a for a in inst["annotations"] if a["image_id"] == iid]
        back = [a for a in stuff["annotations"] if a["image_id"] == iid]
        masks = [decode_segmentation(a["segmentation"], *size) for a in thing]
        covered = np.sum(masks, axis=0) if masks else np.zeros(size)
        assert covered.max() == 1  # instances are disjoint (visible pixels)
        back_masks = [decode_segmentation(a["segmentation"], *size) for a in back]
        is_other = [a["category_id"] == 183 for a in back]
        assert sum(is_other) == 1
        other = back_masks[is_other.index(True)]
        np.testing.assert_array_equal(other, covered)  # "other" = thing pixels
        regions = [m for m, o in zip(back_masks, is_other, strict=True) if not o]
        np.testing.assert_array_equal(np.sum(regions, axis=0) + covered, np.ones(size))
        for ann, mask in zip(thing + back, masks + back_masks, strict=True):
            ys, xs = np.nonzero(mask)
            box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            assert ann["bbox"] == [float(v) for v in box] and ann["area"] == mask.sum()


def test_uncompressed_rle_matches_pycocotools() -> None:
    rng = np.random.default_rng(0)
    for shape in [(5, 7), (16, 16), (3, 1)]:
        mask = (rng.random(shape) < 0.4).astype(np.uint8)
        mask[0, 0] = 1  # also the case of a leading 1
        rle = mask_utils.frPyObjects({"size": list(shape), "counts": sl.rle_counts(mask)}, *shape)
        np.testing.assert_array_equal(mask_utils.decode(rle), mask)


def test_regular_donut_cases(scenes: sl.SynthLayoutInfo) -> None:
    """Many images hold two instances of one class whose boxes overlap."""
    inst = _json(scenes.root, "instances_train2017.json")
    by_image: dict[int, list[dict]] = {}
    for ann in inst["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)

    def overlap(a: list[float], b: list[float]) -> bool:
        return (
            a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
        )

    donuts = sum(
        any(
            a["category_id"] == b["category_id"] and overlap(a["bbox"], b["bbox"])
            for i, a in enumerate(anns)
            for b in anns[i + 1 :]
        )
        for anns in by_image.values()
    )
    assert donuts >= 0.2 * len(inst["images"])
    assert scenes.donut_images >= 0.2 * scenes.num_images


def test_colour_does_not_give_the_class_away_but_shape_does(scenes: sl.SynthLayoutInfo) -> None:
    """Per instance: mean colour vs. the mask resized to 12×12 (shape), 8 classes (chance 1/8)."""
    inst = _json(scenes.root, "instances_train2017.json")
    files = {i["id"]: i["file_name"] for i in inst["images"]}
    colour, shape, labels = [], [], []
    for ann in inst["annotations"]:
        x, y, w, h = (int(v) for v in ann["bbox"])
        if w * h < 0.02 * 64 * 64:
            continue
        pixels = np.asarray(Image.open(scenes.root / "train2017" / files[ann["image_id"]]))
        mask = decode_segmentation(ann["segmentation"], 64, 64).astype(bool)
        colour.append(pixels[mask].mean(axis=0) / 255.0)
        crop = Image.fromarray(mask[y : y + h, x : x + w].astype(np.uint8) * 255)
        shape.append(np.asarray(crop.resize((12, 12), Image.Resampling.BILINEAR)) / 255.0)
        labels.append(ann["category_id"])
    labels = np.asarray(labels)
    half = len(labels) // 2

    def accuracy(features: np.ndarray) -> float:
        model = LogisticRegression(max_iter=2000).fit(features[:half], labels[:half])
        return float(model.score(features[half:], labels[half:]))

    assert len(labels) > 300
    assert accuracy(np.asarray(colour)) < 0.3
    assert accuracy(np.asarray(shape).reshape(len(labels), -1)) > 0.6


def test_cli_writes_checks_and_refuses_bad_options(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    args = ["data", "synth", "layout", "--out", str(out), "--images", "12", "--no-progress"]
    assert main(args) == 0
    assert "wrote 12 scenes" in capsys.readouterr().out
    assert main(["data", "check", str(out), "--format", "coco-stuff", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == 12
    assert main(args) == 1  # non-empty output
    assert "not empty" in capsys.readouterr().err
    assert main([*args[:-3], "--out", str(tmp_path / "x"), "--images", "3"]) == 1
    assert "images must be at least 10" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_a_failed_run_leaves_no_half_dataset(tmp_path: Path, monkeypatch) -> None:
    def boom(*args, **kwargs) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(sl, "_write_annotations", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        sl.synth_layout(tmp_path / "out", images=10, progress=False)
    assert list((tmp_path / "out").iterdir()) == []
