"""Layout readers (COCO-Stuff 2017, sg2im Visual Genome) on hand-made fixtures, their bad-input
errors, and ``lococo data check --format coco-stuff|vg``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from lococo.cli.main import main
from lococo.data.layout import load_layout
from lococo.data.layout.check import check_dataset, summary_lines
from lococo.data.layout.coco_stuff import val_test_division
from lococo.data.layout.dataset import decode_segmentation
from lococo.errors import DataError

THINGS = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"}]
STUFF = [
    {"id": 124, "name": "grass"},
    {"id": 157, "name": "sky-other"},
    {"id": 183, "name": "other"},
]


def _poly(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _rect_mask(width: int, height: int, x: int, y: int, w: int, h: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[y : y + h, x : x + w] = 1
    return mask


def _rle(mask: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode()}


def _uncompressed(mask: np.ndarray) -> dict[str, Any]:
    flat = mask.reshape(-1, order="F")
    runs, current, n = [], 0, 0
    for v in flat:
        if v != current:
            runs.append(n)
            current, n = v, 0
        n += 1
    runs.append(n)
    return {"size": list(mask.shape), "counts": runs}


def _ann(image_id: int, cid: int, box: list[float], seg: Any, crowd: int = 0) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": cid, "bbox": box, "iscrowd": crowd,
            "segmentation": seg, "area": box[2] * box[3]}  # fmt: skip


def coco_payloads() -> dict[str, dict[str, Any]]:
    """JSON payloads of a small COCO-Stuff tree (train and val).

    train: image 10 (100×80) keeps person (polygon), car (crowd, uncompressed RLE), the larger
    dog, sky and grass (compressed RLE); its tiny dog (exactly 2%) and "other" are dropped.
    Image 12 (60×50) keeps 3 objects; 15 is absent from the stuff file; 20 has too few and 21
    too many objects. val: seven 40×40 images with 3 objects each, listed out of id order.
    """
    train_images = [
        {"id": 10, "file_name": "a.png", "width": 100, "height": 80},
        {"id": 12, "file_name": "b.png", "width": 60, "height": 50},
        {"id": 15, "file_name": "c.png", "width": 50, "height": 50},
        {"id": 20, "file_name": "d.png", "width": 50, "height": 50},
        {"id": 21, "file_name": "e.png", "width": 50, "height": 50},
    ]
    car = _rect_mask(100, 80, 50, 20, 30, 20)
    things = [
        _ann(10, 1, [10, 10, 20, 30], _poly(10, 10, 20, 30)),
        _ann(10, 3, [50, 20, 30, 20], _uncompressed(car), crowd=1),
        _ann(10, 18, [0, 0, 10, 16], _poly(0, 0, 10, 16)),  # 160 / 8000 = 2%: dropped
        _ann(10, 18, [60, 50, 12, 14], _poly(60, 50, 12, 14)),
        _ann(12, 1, [5, 5, 10, 10], _poly(5, 5, 10, 10)),
        _ann(15, 1, [5, 5, 20, 20], _poly(5, 5, 20, 20)),
        _ann(15, 3, [25, 25, 20, 20], _poly(25, 25, 20, 20)),
        _ann(15, 18, [0, 25, 20, 20], _poly(0, 25, 20, 20)),
        _ann(20, 1, [0, 0, 20, 20], _poly(0, 0, 20, 20)),
    ]
    things += [_ann(21, 3, [i * 5, 0, 5, 40], _poly(i * 5, 0, 5, 40)) for i in range(9)]
    stuff = [
        _ann(10, 157, [0, 0, 100, 40], _rle(_rect_mask(100, 80, 0, 0, 100, 40))),
        _ann(10, 183, [10, 10, 70, 40], _rle(_rect_mask(100, 80, 10, 10, 70, 40))),
        _ann(10, 124, [0, 40, 100, 40], _rle(_rect_mask(100, 80, 0, 40, 100, 40))),
        _ann(12, 157, [0, 0, 60, 20], _rle(_rect_mask(60, 50, 0, 0, 60, 20))),
        _ann(12, 124, [0, 20, 60, 30], _rle(_rect_mask(60, 50, 0, 20, 60, 30))),
        _ann(20, 124, [0, 20, 50, 30], _rle(_rect_mask(50, 50, 0, 20, 50, 30))),
    ]
    val_ids = [36, 31, 35, 30, 34, 33, 32]
    val_images = [{"id": i, "file_name": f"v{i}.png", "width": 40, "height": 40} for i in val_ids]
    val_things = [_ann(i, 3, [0, 0, 10, 10], _poly(0, 0, 10, 10)) for i in val_ids]
    val_stuff = [
        _ann(i, cid, box, _rle(_rect_mask(40, 40, *box)))
        for i in val_ids
        for cid, box in ((157, [0, 0, 40, 20]), (124, [0, 20, 40, 20]))
    ]

    def payload(images: list, anns: list, cats: list) -> dict[str, Any]:
        numbered = [{"id": k + 1, **a} for k, a in enumerate(anns)]
        return {"images": images, "annotations": numbered, "categories": copy.deepcopy(cats)}

    return {
        "instances_train2017.json": payload(train_images, things, THINGS),
        "stuff_train2017.json": payload(train_images, stuff, STUFF),
        "instances_val2017.json": payload(val_images, val_things, THINGS),
        "stuff_val2017.json": payload(val_images, val_stuff, STUFF),
    }


def write_coco(root: Path, payloads: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write ``payloads`` (default :func:`coco_payloads`) and the images of the pristine ones."""
    pristine = coco_payloads()
    payloads = pristine if payloads is None else payloads
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for name, data in payloads.items():
        (root / "annotations" / name).write_text(json.dumps(data))
    for split in ("train", "val"):
        folder = root / f"{split}2017"
        folder.mkdir(exist_ok=True)
        for img in pristine[f"instances_{split}2017.json"]["images"]:
            pixels = np.full((img["height"], img["width"], 3), img["id"] % 255, dtype=np.uint8)
            Image.fromarray(pixels).save(folder / img["file_name"])
    return root


@pytest.fixture
def coco(tmp_path: Path) -> Path:
    return write_coco(tmp_path / "coco")


def _expected_objects(payloads: dict[str, dict[str, Any]], split: str) -> dict[int, list[int]]:
    """The sg2im rules, applied by a direct loop: kept image id -> category ids."""
    inst, stuff = payloads[f"instances_{split}2017.json"], payloads[f"stuff_{split}2017.json"]
    sizes = {i["id"]: (i["width"], i["height"]) for i in inst["images"]}
    names = {c["id"]: c["name"] for c in inst["categories"] + stuff["categories"]}
    with_stuff = {a["image_id"] for a in stuff["annotations"]}
    out: dict[int, list[int]] = {}
    for image in inst["images"]:
        iid = image["id"]
        if iid not in with_stuff:
            continue
        kept = []
        for ann in inst["annotations"] + stuff["annotations"]:
            w_img, h_img = sizes[iid]
            _, _, w, h = ann["bbox"]
            ok = ann["image_id"] == iid and w * h / (w_img * h_img) > 0.02
            if ok and names[ann["category_id"]] != "other":
                kept.append(ann["category_id"])
        if 3 <= len(kept) <= 8:
            out[iid] = kept
    return out


def test_coco_stuff_applies_the_sg2im_rules(coco: Path) -> None:
    payloads = coco_payloads()
    data = load_layout(coco, "coco-stuff")
    assert data.format == "coco-stuff" and data.max_objects == 8
    assert data.category_ids == [1, 3, 18, 124, 157]  # gaps kept, "other" dropped
    assert data.class_names == ["person", "car", "dog", "grass", "sky-other"]
    expected = _expected_objects(payloads, "train")
    assert [s.image_id for s in data.splits["train"]] == list(expected) == [10, 12]
    for scene in data.splits["train"]:
        ids = [data.category_ids[k] for k in scene.labels]
        assert ids == expected[scene.image_id]
        assert scene.labels.dtype == np.int64 and scene.boxes.dtype == np.float32
    first = data.splits["train"][0]
    np.testing.assert_allclose(first.boxes[0], [0.1, 0.125, 0.3, 0.5])  # person, 100x80
    np.testing.assert_allclose(first.boxes[-1], [0.0, 0.5, 1.0, 1.0])  # grass
    assert first.image_path == coco / "train2017" / "a.png"
    assert (first.width, first.height) == (100, 80)


def test_coco_val_test_division_by_image_id(coco: Path) -> None:
    data = load_layout(coco, "coco-stuff")
    assert val_test_division(7) == (2, 5)
    assert val_test_division(3097) == (1024, 2048)
    assert [s.image_id for s in data.splits["val"]] == [30, 31]
    assert [s.image_id for s in data.splits["test"]] == [32, 33, 34, 35, 36]


def test_coco_masks_decode_polygons_and_both_rles(coco: Path) -> None:
    data = load_layout(coco, "coco-stuff")
    scene = data.splits["train"][0]
    assert scene.masks is not None and len(scene.masks) == scene.num_objects
    for box, seg in zip(scene.boxes, scene.masks, strict=True):
        mask = decode_segmentation(seg, scene.height, scene.width)
        assert mask.shape == (80, 100)
        ys, xs = np.nonzero(mask)
        got = [xs.min() / 100, ys.min() / 80, (xs.max() + 1) / 100, (ys.max() + 1) / 80]
        np.testing.assert_allclose(got, box, atol=0.02)  # polygons rasterise to ±1 px
    car = decode_segmentation(scene.masks[1], 80, 100)  # crowd, uncompressed RLE: exact
    np.testing.assert_array_equal(car, _rect_mask(100, 80, 50, 20, 30, 20))


def _broken(tmp_path: Path, edit) -> Path:
    payloads = coco_payloads()
    edit(payloads)
    return write_coco(tmp_path / "bad", payloads)


def _first(payloads: dict, name: str) -> dict[str, Any]:
    return payloads[name]["annotations"][0]


BAD_COCO = {
    "unknown image": (
        lambda p: _first(p, "instances_train2017.json").update(image_id=999),
        "instances_train2017.json",
        "unknown image id 999",
    ),
    "unknown category": (
        lambda p: _first(p, "stuff_val2017.json").update(category_id=95),
        "stuff_val2017.json",
        "unknown category id 95",
    ),
    "box outside": (
        lambda p: _first(p, "instances_train2017.json").update(bbox=[90, 10, 20, 30]),
        "instances_train2017.json",
        "outside",
    ),
    "negative width": (
        lambda p: _first(p, "stuff_train2017.json").update(bbox=[5, 0, -2, 10]),
        "stuff_train2017.json",
        "negative size",
    ),
    "bad segmentation": (
        lambda p: _first(p, "stuff_train2017.json").update(segmentation={"x": 1}),
        "stuff_train2017.json",
        "neither polygons nor RLE",
    ),
    "missing field": (
        lambda p: p["instances_val2017.json"]["images"][0].pop("width"),
        "instances_val2017.json",
        "missing field 'width'",
    ),
    "empty after filtering": (
        lambda p: [a.update(bbox=[0, 0, 2, 2]) for a in p["stuff_val2017.json"]["annotations"]],
        "instances_val2017.json",
        "empty layout",
    ),
}


@pytest.mark.parametrize("case", list(BAD_COCO))
def test_coco_bad_input_names_the_file_and_problem(tmp_path: Path, case: str) -> None:
    edit, file_name, problem = BAD_COCO[case]
    root = _broken(tmp_path, edit)
    with pytest.raises(DataError) as err:
        load_layout(root, "coco-stuff")
    assert err.value.path.name == file_name
    assert problem in str(err.value)
    assert "\n" not in str(err.value)


def test_coco_zero_size_boxes_are_dropped_with_a_warning(tmp_path: Path) -> None:
    """Real train2017 holds two boxes of height 0: the 2% rule drops them; check lists them."""
    root = _broken(
        tmp_path, lambda p: _first(p, "instances_train2017.json").update(bbox=[9, 9, 5, 0])
    )
    data = load_layout(root, "coco-stuff")
    first = data.splits["train"][0]
    assert first.image_id == 10 and first.num_objects == 4  # the person is gone
    summary = check_dataset(root, "coco-stuff", verify_images=False)
    assert summary["source_stats"]["train"]["zero_size_boxes"] == 1
    assert any("instances_train2017.json annotations[0]" in w for w in summary["warnings"])
    assert any(line.startswith("warning: zero-size box") for line in summary_lines(summary))


def test_coco_missing_files(coco: Path) -> None:
    (coco / "annotations" / "instances_val2017.json").unlink()
    with pytest.raises(DataError, match=r"missing instances file.*stuff_val2017.json needs it"):
        load_layout(coco, "coco-stuff")
    (coco / "annotations" / "stuff_val2017.json").unlink()
    with pytest.raises(DataError, match=r"instances_val2017.json: missing instances file"):
        load_layout(coco, "coco-stuff")
    write_coco(coco)
    (coco / "annotations" / "stuff_train2017.json").unlink()
    with pytest.raises(DataError, match=r"stuff_train2017.json: missing stuff file"):
        load_layout(coco, "coco-stuff")


def test_coco_invalid_json_and_missing_image(coco: Path) -> None:
    (coco / "annotations" / "stuff_train2017.json").write_text('{"images": [')
    with pytest.raises(DataError, match=r"stuff_train2017.json:1: invalid JSON"):
        load_layout(coco, "coco-stuff")
    write_coco(coco)
    (coco / "train2017" / "b.png").unlink()
    with pytest.raises(DataError, match=r"b.png: missing image file"):
        load_layout(coco, "coco-stuff")


def test_check_verifies_images_and_prints_table_b1(coco: Path, capsys) -> None:
    summary = check_dataset(coco, "coco-stuff", progress=False)
    assert summary["classes"] == 5 and summary["images_verified"] == 9
    assert summary["splits"]["train"] == {
        "images": 2,
        "objects": 8,
        "objects_per_image": {"min": 3, "max": 5, "mean": 4.0},
        "classes_present": 5,
    }
    assert summary["splits"]["test"]["images"] == 5
    text = "\n".join(summary_lines(summary))
    assert "train" in text and "classes: 5" in text
    assert main(["data", "check", str(coco), "--format", "coco-stuff", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["format"] == "coco-stuff" and printed["classes"] == 5
    assert {k: v["images"] for k, v in printed["splits"].items()} == {
        "train": 2,
        "val": 2,
        "test": 5,
    }
    assert printed["splits"]["val"]["objects"] == 6


def test_check_rejects_a_corrupt_image(coco: Path, capsys) -> None:
    (coco / "val2017" / "v33.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    code = main(["data", "check", str(coco), "--format", "coco-stuff", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0
    assert err.startswith("lococo: error: ") and "v33.png" in err and "corrupt" in err
    # a wrong size is also caught
    write_coco(coco)
    Image.new("RGB", (41, 40)).save(coco / "val2017" / "v33.png")
    with pytest.raises(DataError, match="41x40 but annotated as 40x40"):
        check_dataset(coco, "coco-stuff", progress=False)


# --------------------------------------------------------------------------- Visual Genome

VOCAB = ["__image__", "tree", "man", "sky", "shirt"]


def write_vg(root: Path, rows: dict[str, list[list[tuple[int, list[int]]]]], width: int = 32):
    """sg2im-style h5 files: per split, rows of (vocab index, [x, y, w, h]) objects."""
    (root / "images" / "VG_100K").mkdir(parents=True, exist_ok=True)
    vocab = {"object_idx_to_name": VOCAB, "pred_idx_to_name": ["__in_image__", "on"]}
    (root / "vocab.json").write_text(json.dumps(vocab))
    image_id = 100
    for split, images in rows.items():
        n = len(images)
        names = np.full((n, width), -1, dtype=np.int32)
        boxes = np.full((n, width, 4), -1, dtype=np.int32)
        paths, ids = [], []
        for r, objects in enumerate(images):
            image_id += 3
            ids.append(image_id)
            paths.append(f"VG_100K/{image_id}.jpg")
            Image.new("RGB", (200, 100), (9, 9, 9)).save(root / "images" / paths[-1])
            for k, (name, box) in enumerate(objects):
                names[r, k], boxes[r, k] = name, box
        with h5py.File(root / f"{split}.h5", "w") as f:
            f.create_dataset("image_ids", data=np.asarray(ids, dtype=np.int32))
            f.create_dataset("object_names", data=names)
            f.create_dataset("object_boxes", data=boxes)
            f.create_dataset("objects_per_image", data=[len(o) for o in images])
            f.create_dataset("relationships_per_image", data=np.zeros(n, dtype=np.int32))
            dtype = h5py.special_dtype(vlen=str)
            f.create_dataset("image_paths", (n,), dtype=dtype)
            f["image_paths"][:] = paths
    return root


def _objects(count: int, name: int = 1) -> list[tuple[int, list[int]]]:
    return [(1 + (name + k) % 4, [10 + k, 5, 20, 30]) for k in range(count)]


@pytest.fixture
def vg(tmp_path: Path) -> Path:
    rows = {
        "train": [_objects(3), _objects(2), _objects(30), _objects(31), _objects(5)],
        "val": [_objects(4)],
        "test": [_objects(3, name=2)],
    }
    return write_vg(tmp_path / "vg", rows)


def test_vg_reader_keeps_3_to_30_objects(vg: Path) -> None:
    data = load_layout(vg, "vg")
    assert data.class_names == VOCAB[1:] and data.category_ids == [1, 2, 3, 4]
    assert data.max_objects == 30
    assert [s.num_objects for s in data.splits["train"]] == [3, 30, 5]
    scene = data.splits["train"][0]
    assert scene.masks is None and (scene.width, scene.height) == (200, 100)
    np.testing.assert_allclose(scene.boxes[0], [0.05, 0.05, 0.15, 0.35])
    assert scene.labels.tolist() == [1, 2, 3]  # vocab index - 1
    assert scene.image_path == vg / "images" / "VG_100K" / f"{scene.image_id}.jpg"
    summary = check_dataset(vg, "vg", progress=False)
    assert {k: v["images"] for k, v in summary["splits"].items()} == {
        "train": 3,
        "val": 1,
        "test": 1,
    }
    assert summary["objects_per_image"]["max"] == 30


def test_vg_bad_input(vg: Path) -> None:
    with h5py.File(vg / "val.h5", "a") as f:
        del f["object_boxes"]
    with pytest.raises(DataError, match=r"val.h5: missing dataset 'object_boxes'"):
        load_layout(vg, "vg")
    write_vg(vg, {"val": [[(1, [150, 5, 60, 30]), *_objects(3)]]})
    with pytest.raises(DataError, match=r"val.h5: object_boxes\[0\] has a box outside"):
        load_layout(vg, "vg")
    write_vg(vg, {"val": [[(9, [5, 5, 60, 30]), *_objects(3)]]})
    with pytest.raises(DataError, match=r"val.h5: object_names\[0\] refers to unknown class"):
        load_layout(vg, "vg")
    write_vg(vg, {"val": [_objects(2)]})
    with pytest.raises(DataError, match=r"val.h5: empty layout"):
        load_layout(vg, "vg")
    (vg / "test.h5").unlink()
    assert main(["data", "check", str(vg), "--format", "vg", "--no-progress"]) == 1


def test_vg_missing_vocab_image_or_malformed_arrays(vg: Path) -> None:
    image = next((vg / "images" / "VG_100K").glob("*.jpg"))
    image.write_bytes(b"")
    with pytest.raises(DataError, match=rf"{image.name}: cannot read image header"):
        load_layout(vg, "vg")
    image.unlink()
    with pytest.raises(DataError, match=rf"{image.name}: missing image file"):
        load_layout(vg, "vg")
    Image.new("RGB", (200, 100)).save(image)
    with h5py.File(vg / "test.h5", "a") as f:
        del f["objects_per_image"]
        f.create_dataset("objects_per_image", data=[40])
    with pytest.raises(DataError, match=r"test.h5: objects_per_image\[0\] = 40 is not in 0..32"):
        load_layout(vg, "vg")
    (vg / "vocab.json").write_text(json.dumps({"object_idx_to_name": ["tree"]}))
    with pytest.raises(DataError, match=r"vocab.json: 'object_idx_to_name' must start with"):
        load_layout(vg, "vg")
    (vg / "vocab.json").unlink()
    with pytest.raises(DataError, match=r"vocab.json: missing file"):
        load_layout(vg, "vg")
