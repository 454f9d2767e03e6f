"""ZSL readers (CUB, AwA2, SUN, xlsa17), dataset validation and the image Dataset."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import zsl_fixtures as fx
from PIL import Image

from lococo.data.images import load_resized
from lococo.data.zsl.awa2 import load_awa2
from lococo.data.zsl.check import ZSL_FORMATS, check_dataset, load_zsl, summary_lines
from lococo.data.zsl.cub import load_cub
from lococo.data.zsl.images import ZSLImageDataset, class_index_map, crop_size
from lococo.data.zsl.sun import load_sun
from lococo.data.zsl.types import ZSLData
from lococo.data.zsl.xlsa17 import load_xlsa17, map_image_files, relative_after
from lococo.errors import DataError, LococoError


@pytest.fixture(scope="module")
def cub_template(tmp_path_factory: pytest.TempPathFactory) -> fx.Tree:
    return fx.make_cub(tmp_path_factory.mktemp("cub_template"))


@pytest.fixture
def cub(cub_template: fx.Tree, tmp_path: Path) -> fx.Tree:
    """A private, mutable copy of the CUB tree."""
    shutil.copytree(cub_template.root, tmp_path / "cub")
    return _moved(cub_template, cub_template.root, tmp_path / "cub")


def _moved(tree: fx.Tree, old: Path, new: Path) -> fx.Tree:
    return fx.Tree(
        new / tree.root.relative_to(old),
        new / tree.splits.relative_to(old),
        tree.class_names,
        tree.rel_paths,
        tree.labels,
        tree.original_att,
        tree.locs,
        tree.extra,
    )


def _relative(paths: list[Path], image_root: Path) -> list[str]:
    return [p.relative_to(image_root).as_posix() for p in paths]


def _check_common(data: ZSLData, tree: fx.Tree, image_root: Path) -> None:
    """What every reader must return for a fixture tree."""
    n, c = len(tree.rel_paths), len(tree.class_names)
    assert _relative(data.image_paths, image_root) == tree.rel_paths
    assert all(p.is_file() for p in data.image_paths)
    np.testing.assert_array_equal(data.labels, tree.labels)
    assert data.labels.min() == 0 and data.labels.max() == c - 1
    assert data.class_names == tree.class_names
    assert data.class_attributes.shape == (c, fx.NUM_ATTRS)
    np.testing.assert_allclose(data.class_attributes_raw, tree.original_att)
    np.testing.assert_allclose(np.linalg.norm(data.class_attributes, axis=1), 1.0, atol=1e-12)
    expected = tree.original_att / np.linalg.norm(tree.original_att, axis=1, keepdims=True)
    np.testing.assert_allclose(data.class_attributes, expected)
    for key in ("trainval", "test_seen", "test_unseen", "train", "val"):
        np.testing.assert_array_equal(getattr(data, key), tree.locs[key])
    assert data.trainval.max() < n
    np.testing.assert_array_equal(data.seen_classes, fx.SEEN)
    np.testing.assert_array_equal(data.unseen_classes, [3])
    assert len(data.attribute_names) == fx.NUM_ATTRS


# ---------------------------------------------------------------- readers


def test_cub_reader_returns_what_was_written(cub: fx.Tree) -> None:
    data = load_cub(cub.root)
    image_root = cub.root / "CUB_200_2011" / "images"
    _check_common(data, cub, image_root)
    n = len(cub.rel_paths)
    np.testing.assert_allclose(data.boxes, cub.extra["boxes"])
    np.testing.assert_array_equal(data.image_sizes, np.tile([fx.WIDTH, fx.HEIGHT], (n, 1)))
    np.testing.assert_array_equal(data.image_attributes, cub.extra["present"])
    assert data.attribute_names[3] == "has_part_1::value_3"
    assert data.parts is not None
    assert data.parts.names == ["left eye", "beak"]
    np.testing.assert_allclose(data.parts.locs, cub.extra["part_locs"])
    clicks = data.parts.clicks
    assert clicks.shape == (cub.extra["num_clicks"], 5)
    # clicks are 0-based (image in ZSL order, part) and the first worker clicked the consensus
    idx, part = clicks[:, 0].astype(int), clicks[:, 1].astype(int)
    assert idx.min() >= 0 and idx.max() < n and set(part) <= {0, 1}
    locs = cub.extra["part_locs"][idx, part]
    assert (locs[:, 2] == 1).all()
    first = np.abs(clicks[:, 2] - locs[:, 0]) < 1e-9
    assert first.sum() == len(clicks) // 2
    np.testing.assert_allclose(clicks[first, 3], locs[first, 1])
    order = cub.extra["order"]
    np.testing.assert_array_equal(data.extra["cub_image_ids"], order + 1)
    np.testing.assert_array_equal(data.extra["is_training_image"], order % 2 == 1)
    assert data.extra["warnings"] == []


def test_cub_without_res101_follows_images_txt(tmp_path: Path) -> None:
    tree = fx.make_cub(tmp_path, res101=False)
    data = load_cub(tree.root, with_parts=False)
    _check_common(data, tree, tmp_path / "CUB_200_2011" / "images")
    assert data.parts is None
    np.testing.assert_array_equal(data.labels, np.repeat(np.arange(4), fx.PER_CLASS))


def test_cub_inner_root_explicit_splits_and_attribute_names(cub: fx.Tree, tmp_path: Path) -> None:
    inner = cub.root / "CUB_200_2011"
    moved = tmp_path / "elsewhere"
    shutil.move(cub.splits, moved)
    with pytest.raises(DataError, match="xlsa17 splits not found"):
        load_cub(inner)
    (cub.root / "attributes.txt").rename(inner / "attributes" / "attributes.txt")
    data = load_cub(inner, splits_dir=moved)
    assert data.root == inner and data.attribute_names[0] == "has_part_0::value_0"
    names = inner / "attributes" / "attributes.txt"
    good = names.read_text()
    names.write_text("\n".join(good.splitlines()[:-1]) + "\n")
    with pytest.raises(DataError, match=r"expected attribute ids 1\.\.5") as err:
        load_cub(inner, splits_dir=moved)
    assert err.value.path == names
    names.unlink()
    data = load_cub(inner, splits_dir=moved)
    assert data.attribute_names[0] == "attribute_1"
    assert any("attributes.txt" in w for w in data.extra["warnings"])


def test_awa2_reader(tmp_path: Path) -> None:
    tree = fx.make_awa2(tmp_path)
    data = load_awa2(tree.root)
    _check_common(data, tree, tmp_path / "Animals_with_Attributes2" / "JPEGImages")
    assert data.attribute_names == [f"predicate{a}" for a in range(fx.NUM_ATTRS)]
    assert data.boxes is None and data.parts is None


def test_sun_reader(tmp_path: Path) -> None:
    tree = fx.make_sun(tmp_path)
    data = load_sun(tree.root)
    _check_common(data, tree, tree.root / "images")
    np.testing.assert_allclose(data.image_attributes, tree.extra["values"], rtol=1e-6)
    assert data.attribute_names[2] == "sunattr2"


def test_load_zsl_dispatch(tmp_path: Path) -> None:
    assert ZSL_FORMATS == ("cub", "awa2", "sun")
    tree = fx.make_sun(tmp_path)
    assert load_zsl(tree.root, "SUN").name == "SUN"
    with pytest.raises(LococoError, match="unknown ZSL format"):
        load_zsl(tree.root, "imagenet")


def test_load_xlsa17_is_zero_based(cub: fx.Tree) -> None:
    splits = load_xlsa17(cub.splits)
    np.testing.assert_array_equal(splits.trainval, cub.locs["trainval"])
    np.testing.assert_array_equal(splits.labels, cub.labels)
    assert splits.att.shape == (4, fx.NUM_ATTRS)
    assert splits.image_files[0].startswith(fx.CUB_PREFIX)


def test_foreign_prefix_mapping(tmp_path: Path) -> None:
    assert relative_after("/BS/x/CUB_200_2011/images/001.A/a.jpg", "images") == ["001.A", "a.jpg"]
    assert relative_after("/d/Animals//JPEGImages/zebra/z.jpg", "JPEGImages") == ["zebra", "z.jpg"]
    assert relative_after(r"C:\data\images\images\b\c.jpg", "images") == ["b", "c.jpg"]
    assert relative_after("/data/pictures/a.jpg", "images") is None
    fx.write_jpeg(tmp_path / "images" / "k" / "a.jpg", seed=0)
    got = map_image_files(["/far/away/images/k/a.jpg"], "images", tmp_path / "images", tmp_path)
    assert got == [tmp_path / "images" / "k" / "a.jpg"]
    with pytest.raises(DataError, match=r"b\.jpg") as err:
        map_image_files(["/far/images/k/b.jpg"], "images", tmp_path / "images", tmp_path / "r.mat")
    assert err.value.path == tmp_path / "r.mat"


# ---------------------------------------------------------------- malformed input

CUB = "CUB_200_2011"
LINE_CASES: list[tuple[str, int, str, str]] = [
    # (file under the CUB folder, line, replacement, expected message fragment)
    ("images.txt", 3, "3", "expected '<id> <name>'"),
    ("images.txt", 5, "x5 001.Bird_A/foo.jpg", "not a positive integer"),
    ("classes.txt", 2, "1 002.Bird_B", "duplicate id"),
    ("image_class_labels.txt", 4, "4 99", "unknown class id 99"),
    ("image_class_labels.txt", 6, "77 1", "unknown image id 77"),
    ("image_class_labels.txt", 2, "2 1 5", "expected 2 fields"),
    ("train_test_split.txt", 3, "3 2", "is_training_image must be 0 or 1"),
    ("bounding_boxes.txt", 5, "5 1.0 abc 3.0 4.0", "non-numeric"),
    ("bounding_boxes.txt", 6, "6 1.0 2.0 -3.0 4.0", "width and height must be positive"),
    ("bounding_boxes.txt", 7, "7 1.0 2.0 nan 4.0", "NaN or Inf"),
    ("parts/part_locs.txt", 3, "2 1 4.0 5.0", "expected 5 fields"),
    ("parts/part_locs.txt", 4, "2 9 4.0 5.0 1", "unknown part id 9"),
    ("parts/part_locs.txt", 2, "1 1 4.0 5.0 1", "duplicate entry"),
    ("parts/part_click_locs.txt", 1, "1 1 4.0 5.0 1", "expected 6 fields"),
    ("parts/part_click_locs.txt", 2, "1.5 1 4.0 5.0 1 2.0", "whole numbers"),
    ("attributes/image_attribute_labels.txt", 9, "2 4 1 3", "at least 5 fields"),
    ("attributes/image_attribute_labels.txt", 10, "2 6 1 3 2.0", "unknown attribute id 6"),
    ("attributes/image_attribute_labels.txt", 11, "99 1 1 3 2.0", "unknown image id 99"),
    ("attributes/class_attribute_labels_continuous.txt", 2, "1.0 2.0 3.0", "expected 5 fields"),
]


@pytest.mark.parametrize(("name", "line", "text", "fragment"), LINE_CASES)
def test_malformed_cub_line_names_file_and_line(
    cub: fx.Tree, name: str, line: int, text: str, fragment: str
) -> None:
    path = cub.root / CUB / name
    fx.set_line(path, line, text)
    with pytest.raises(DataError, match=fragment) as err:
        load_cub(cub.root)
    assert err.value.path == path
    assert err.value.line == line
    assert f"{path}:{line}" in str(err.value)


def test_blank_lines_do_not_shift_line_numbers(cub: fx.Tree) -> None:
    path = cub.root / CUB / "bounding_boxes.txt"
    lines = path.read_text().splitlines()
    lines[5] = "6 1.0 2.0 zz 4.0"
    path.write_text("\n".join([*lines[:2], "", *lines[2:]]) + "\n")
    with pytest.raises(DataError) as err:
        load_cub(cub.root)
    assert err.value.line == 7


@pytest.mark.parametrize(
    "name",
    ["classes.txt", "bounding_boxes.txt", "train_test_split.txt", "parts/part_click_locs.txt"],
)
def test_missing_cub_file(cub: fx.Tree, name: str) -> None:
    path = cub.root / CUB / name
    path.unlink()
    with pytest.raises(DataError, match="missing file") as err:
        load_cub(cub.root)
    assert err.value.path == path and err.value.line is None


def test_cub_image_without_label_and_not_a_dataset(cub: fx.Tree, tmp_path: Path) -> None:
    path = cub.root / CUB / "image_class_labels.txt"
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(DataError, match="have no entry") as err:
        load_cub(cub.root)
    assert err.value.path == path
    with pytest.raises(DataError, match="not a CUB_200_2011 folder"):
        load_cub(tmp_path / "nothing")


def _att(cub: fx.Tree) -> Path:
    return cub.splits / "att_splits.mat"


def _res(cub: fx.Tree) -> Path:
    return cub.splits / "res101.mat"


def _loc(idx: list[int]) -> np.ndarray:
    return np.asarray(idx, dtype=np.float64).reshape(-1, 1)


MAT_CASES: list[tuple[str, Callable[[fx.Tree], dict], str]] = [
    ("att", lambda t: {"trainval_loc": _loc([1, 2, 13])}, "out of range 1..12"),
    ("att", lambda t: {"test_seen_loc": _loc([0, 2])}, "1-based"),
    ("att", lambda t: {"test_seen_loc": np.zeros((0, 1))}, "is empty"),
    ("att", lambda t: {"test_unseen_loc": None}, "missing variable 'test_unseen_loc'"),
    ("att", lambda t: {"att": np.ones((fx.NUM_ATTRS, 3))}, "one column per class"),
    ("att", lambda t: {"original_att": np.ones((fx.NUM_ATTRS + 1, 4))}, "'original_att' has shape"),
    # the first unseen image (res101 order) moved into trainval: its class is now seen too
    (
        "att",
        lambda t: {"trainval_loc": _loc([*(t.locs["trainval"] + 1), t.locs["test_unseen"][0] + 1])},
        "both seen",
    ),
    ("att", lambda t: {"test_seen_loc": _loc(t.locs["trainval"][:1] + 1)}, "in both trainval_loc"),
    ("res", lambda t: {"labels": np.full((12, 1), 5.0)}, "out of range 1..4"),
    ("res", lambda t: {"labels": np.ones((11, 1))}, "12 image_files but 11 labels"),
    (
        "res",
        lambda t: {
            "image_files": fx.cell(
                [*(fx.CUB_PREFIX + r for r in t.rel_paths[:-1]), "/x/images/no.jpg"]
            )
        },
        "'/x/images/no.jpg' not found locally",
    ),
    (
        "res",
        lambda t: {"labels": (np.roll(t.labels, 3) + 1).reshape(-1, 1).astype(float)},
        "image_class_labels.txt says",
    ),
]


@pytest.mark.parametrize(("which", "change", "fragment"), MAT_CASES)
def test_bad_xlsa17_names_the_mat_file(
    cub: fx.Tree, which: str, change: Callable[[fx.Tree], dict], fragment: str
) -> None:
    path = _att(cub) if which == "att" else _res(cub)
    fx.update_mat(path, **change(cub))
    with pytest.raises(DataError, match=fragment) as err:
        load_cub(cub.root)
    assert err.value.path == path


def test_not_a_mat_file(cub: fx.Tree) -> None:
    _att(cub).write_bytes(b"this is not MATLAB")
    with pytest.raises(DataError, match="not a readable MATLAB file") as err:
        load_cub(cub.root)
    assert err.value.path == _att(cub)


def test_class_attributes_disagreeing_with_original_att(cub: fx.Tree) -> None:
    path = cub.root / CUB / "attributes" / "class_attribute_labels_continuous.txt"
    rows = path.read_text().splitlines()
    path.write_text("\n".join([rows[1], rows[0], *rows[2:]]) + "\n")  # swap two classes
    with pytest.raises(DataError, match="disagree with 'original_att'") as err:
        load_cub(cub.root)
    assert err.value.path == path


def test_awa2_errors(tmp_path: Path) -> None:
    tree = fx.make_awa2(tmp_path)
    awa = tmp_path / "Animals_with_Attributes2"
    matrix = awa / "predicate-matrix-continuous.txt"
    good = matrix.read_text()
    matrix.write_text("\n".join(good.splitlines()[:-1]) + "\n")
    with pytest.raises(DataError, match="3 lines but 4 classes") as err:
        load_awa2(tree.root)
    assert err.value.path == matrix
    matrix.write_text(good)
    fx.update_mat(tree.splits / "att_splits.mat", original_att=np.roll(tree.original_att, 1, 0).T)
    with pytest.raises(DataError, match="disagree") as err:
        load_awa2(tree.root)
    assert err.value.path == matrix
    fx.update_mat(tree.splits / "att_splits.mat", original_att=tree.original_att.T)
    labels = tree.labels.copy()
    labels[0] = (labels[0] + 1) % 4
    fx.update_mat(tree.splits / "res101.mat", labels=(labels + 1).reshape(-1, 1).astype(float))
    with pytest.raises(DataError, match="lies in folder") as err:
        load_awa2(tree.root)
    assert err.value.path == tree.splits / "res101.mat"
    (tree.splits / "res101.mat").unlink()
    with pytest.raises(DataError, match="missing file"):
        load_awa2(tree.root)


def test_sun_errors(tmp_path: Path) -> None:
    tree = fx.make_sun(tmp_path)
    path = tree.root / "SUNAttributeDB" / "attributeLabels_continuous.mat"
    fx.update_mat(path, labels_cv=np.zeros((12, fx.NUM_ATTRS + 1)))
    with pytest.raises(DataError, match="'labels_cv' has shape") as err:
        load_sun(tree.root)
    assert err.value.path == path
    fx.update_mat(path, labels_cv=np.zeros((12, fx.NUM_ATTRS)))
    with pytest.raises(DataError, match="class means of image attributes") as err:
        load_sun(tree.root)
    assert err.value.path == path


# ---------------------------------------------------------------- check


def test_check_summary(cub: fx.Tree) -> None:
    summary = check_dataset(cub.root, "cub", progress=False)
    expected = {
        "images": 12,
        "classes": 4,
        "seen_classes": 3,
        "unseen_classes": 1,
        "trainval": len(cub.locs["trainval"]),
        "test_seen": len(cub.locs["test_seen"]),
        "test_unseen": len(cub.locs["test_unseen"]),
        "attributes": fx.NUM_ATTRS,
        "parts": 2,
        "boxes": 12,
        "images_verified": 12,
        "warnings": [],
    }
    assert {k: summary[k] for k in expected} == expected
    text = "\n".join(summary_lines(summary))
    assert "images: 12, classes: 4 (3 seen, 1 unseen)" in text
    assert "trainval 6, test_seen 3, test_unseen 3" in text


def test_check_detects_corrupt_and_truncated_images(cub: fx.Tree) -> None:
    image = cub.root / CUB / "images" / cub.rel_paths[4]
    data = image.read_bytes()
    scan = data.index(b"\xff\xda")  # start of scan: cut the entropy-coded data in half
    image.write_bytes(data[: scan + (len(data) - scan) // 2])
    assert check_dataset(cub.root, "cub", verify_images=False)["images_verified"] == 0
    with pytest.raises(DataError, match="truncated") as err:
        check_dataset(cub.root, "cub", progress=False)
    assert err.value.path == image
    image.write_bytes(b"\x00" * 64)  # not an image at all: even the header read fails
    with pytest.raises(DataError) as err:
        load_cub(cub.root)
    assert err.value.path == image


def test_check_warns_about_boxes_outside_images(cub: fx.Tree) -> None:
    fx.set_line(cub.root / CUB / "bounding_boxes.txt", 1, "1 20.0 10.0 30.0 5.0")
    summary = check_dataset(cub.root, "cub", verify_images=False)
    assert summary["warnings"] == ["1 bounding box(es) extend outside their image"]


# ---------------------------------------------------------------- images


def test_crop_size() -> None:
    assert [crop_size(s) for s in (128, 64, 32, 16)] == [112, 56, 28, 14]


def _reference_resized(path: Path, size: int) -> np.ndarray:
    """Independent: PIL resize of the same draft decode, HWC uint8."""
    with Image.open(path) as img:
        img.draft("RGB", (size, size))
        return np.array(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))


def test_dataset_items(cub: fx.Tree) -> None:
    data = load_cub(cub.root, with_parts=False)
    seen = class_index_map(fx.SEEN)
    ds = ZSLImageDataset(data, data.trainval, 16, train=False, labels_map=seen, progress=False)
    assert len(ds) == len(data.trainval)
    image, target, index = ds[1]
    assert image.shape == (3, 14, 14) and image.dtype == torch.float32
    assert target.dtype == torch.int64 and index.dtype == torch.int64
    assert int(index) == data.trainval[1]
    assert int(target) == seen[int(data.labels[data.trainval[1]])]
    assert float(image.min()) >= -1.0 and float(image.max()) <= 1.0
    ref = _reference_resized(data.image_paths[data.trainval[1]], 16)[1:15, 1:15]
    expected = torch.from_numpy(ref.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)
    torch.testing.assert_close(image, expected, atol=1e-6, rtol=0)
    plain = ZSLImageDataset(data, data.test_unseen, 16, train=False, progress=False)
    assert int(plain[0][1]) == int(data.labels[data.test_unseen[0]]) == 3
    with pytest.raises(KeyError):
        ZSLImageDataset(data, data.test_unseen, 16, train=False, labels_map=seen, cache=False)


def test_value_range_reaches_both_ends(tmp_path: Path) -> None:
    pixels = np.zeros((20, 20, 3), dtype=np.uint8)
    pixels[:, 10:] = 255
    Image.fromarray(pixels).save(tmp_path / "half.png")
    data = ZSLData(
        name="t",
        root=tmp_path,
        image_paths=[tmp_path / "half.png"],
        labels=np.array([0]),
        class_names=["a"],
        class_attributes=np.ones((1, 1)),
        class_attributes_raw=np.ones((1, 1)),
        attribute_names=["x"],
        trainval=np.array([0]),
        test_seen=np.array([0]),
        test_unseen=np.array([0]),
    )
    image = ZSLImageDataset(data, [0], 16, train=False, progress=False)[0][0]
    assert float(image[:, :, 0].max()) == -1.0 and float(image[:, :, -1].min()) == 1.0


def test_train_crops_vary_and_are_seeded(cub: fx.Tree) -> None:
    data = load_cub(cub.root, with_parts=False)
    ds = ZSLImageDataset(data, data.trainval[:1], 16, train=True, progress=False)
    ref = torch.from_numpy(_reference_resized(data.image_paths[data.trainval[0]], 16))
    ref = ref.permute(2, 0, 1).float() / 127.5 - 1.0
    candidates = {
        (top, left, flip): (p.flip(-1) if flip else p)
        for top in range(3)
        for left in range(3)
        for flip in (0, 1)
        if (p := ref[:, top : top + 14, left : left + 14]) is not None
    }
    torch.manual_seed(0)
    drawn = [ds[0][0] for _ in range(60)]
    hits = {k for img in drawn for k, c in candidates.items() if torch.allclose(img, c, atol=1e-6)}
    # every sample is some crop/flip of the resized image, and many different ones occur
    assert all(any(torch.allclose(img, c, atol=1e-6) for c in candidates.values()) for img in drawn)
    assert len(hits) >= 8 and {k[2] for k in hits} == {0, 1}
    torch.manual_seed(0)
    again = [ds[0][0] for _ in range(60)]
    assert all(torch.equal(a, b) for a, b in zip(drawn, again, strict=True))


def test_test_crops_deterministic_and_cache_agrees(cub: fx.Tree) -> None:
    data = load_cub(cub.root, with_parts=False)
    cached = ZSLImageDataset(data, data.test_seen, 16, train=False, progress=False)
    lazy = ZSLImageDataset(data, data.test_seen, 16, train=False, cache=False)
    assert cached.images is not None and cached.images.shape == (3, 3, 16, 16)
    for i in range(len(cached)):
        torch.testing.assert_close(cached[i][0], cached[i][0], atol=0, rtol=0)
        torch.testing.assert_close(cached[i][0], lazy[i][0], atol=0, rtol=0)
        assert int(cached[i][1]) == int(lazy[i][1])


def test_dataset_corrupt_image_names_file(cub: fx.Tree) -> None:
    data = load_cub(cub.root, with_parts=False)
    bad = data.image_paths[data.test_unseen[1]]
    bad.write_bytes(bad.read_bytes()[:300])
    with pytest.raises(DataError) as err:
        ZSLImageDataset(data, data.test_unseen, 16, train=False, progress=False)
    assert err.value.path == bad
    lazy = ZSLImageDataset(data, data.test_unseen, 16, train=True, cache=False)
    with pytest.raises(DataError) as err:
        lazy[1]
    assert err.value.path == bad
    assert load_resized(data.image_paths[data.test_unseen[0]], 8).shape == (3, 8, 8)
