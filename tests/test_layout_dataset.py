"""Layout tensors and LayoutDataset: fixed shapes, padding, masks, flips, caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from lococo.data.images import load_resized
from lococo.data.layout import load_layout
from lococo.data.layout.dataset import LayoutDataset, flip_boxes, layout_tensors, object_masks
from lococo.data.layout.synth import synth_layout
from lococo.data.layout.types import LayoutData, Scene


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> LayoutData:
    out = tmp_path_factory.mktemp("layout")
    synth_layout(out, seed=3, images=30, image_size=48, progress=False)
    return load_layout(out, "coco-stuff")


def _scene(tmp_path: Path) -> Scene:
    """A 40×30 image: left half red, right half blue; one object whose mask fills the left
    half of its box (x 10..20, y 6..18 px), one covering the whole image."""
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "s.png")
    left = np.zeros((30, 40), dtype=np.uint8)
    left[6:18, 10:15] = 1
    full = np.ones((30, 40), dtype=np.uint8)
    boxes = np.asarray([[0.25, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0]], dtype=np.float32)
    return Scene(1, tmp_path / "s.png", 40, 30, boxes, np.asarray([2, 0]), [left, full])


def test_items_have_fixed_shapes_and_zero_padding(data: LayoutData) -> None:
    ds = LayoutDataset(data, "train", 32, masks=True, mask_size=8, progress=False)
    for i in range(len(ds)):
        item, scene = ds[i], data.splits["train"][i]
        k = scene.num_objects
        assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
        assert item["image"].min() >= -1.0 and item["image"].max() <= 1.0
        assert item["boxes"].shape == (8, 4) and item["labels"].shape == (8,)
        assert item["masks"].shape == (8, 8, 8) and item["index"] == i
        assert item["valid"].tolist() == [True] * k + [False] * (8 - k)
        np.testing.assert_allclose(item["boxes"][:k].numpy(), scene.boxes)
        assert item["labels"][:k].tolist() == scene.labels.tolist()
        assert not item["boxes"][k:].any() and not item["labels"][k:].any()
        assert not item["masks"][k:].any() and item["masks"][:k].flatten(1).any(1).all()
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["valid"].shape == (4, 8)


def test_image_matches_a_direct_decode(data: LayoutData) -> None:
    ds = LayoutDataset(data, "val", 24, progress=False)
    scene = data.splits["val"][0]
    expected = load_resized(scene.image_path, 24).float() / 127.5 - 1.0
    torch.testing.assert_close(ds[0]["image"], expected)
    uncached = LayoutDataset(data, "val", 24, cache=False, masks=True, progress=False)
    cached = LayoutDataset(data, "val", 24, masks=True, progress=False)
    for key in ("image", "boxes", "labels", "valid", "masks"):
        torch.testing.assert_close(uncached[1][key], cached[1][key])


def test_box_relative_masks_and_flip(tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    masks = object_masks(scene, 4, max_objects=3)
    expected_left = torch.tensor([[1.0, 1, 0, 0]] * 4)
    torch.testing.assert_close(masks[0], expected_left)
    assert masks[1].all() and not masks[2].any()
    data = LayoutData("x", tmp_path, ["a", "b", "c"], [1, 2, 3], {"train": [scene]}, 3)
    plain = LayoutDataset(data, "train", 8, masks=True, mask_size=4, progress=False)[0]
    flipping = LayoutDataset(data, "train", 8, masks=True, mask_size=4, flip=True, progress=False)
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        item = flipping[0]
        flipped = not torch.equal(item["image"], plain["image"])
        seen.add(flipped)
        if flipped:
            torch.testing.assert_close(item["image"], plain["image"].flip(-1))
            torch.testing.assert_close(item["masks"], plain["masks"].flip(-1))
            torch.testing.assert_close(item["boxes"][0], torch.tensor([0.5, 0.2, 0.75, 0.6]))
            assert item["image"][0, 0, -1] == 1.0 and item["image"][2, 0, -1] == -1.0  # red right
            assert not item["boxes"][2].any()  # padding stays zero
        else:
            torch.testing.assert_close(item["boxes"], plain["boxes"])
    assert seen == {True, False}


def test_flip_boxes_mirrors_and_is_an_involution() -> None:
    boxes = torch.tensor([[[0.1, 0.2, 0.4, 0.9], [0.0, 0.0, 0.0, 0.0]]])
    valid = torch.tensor([[True, False]])
    once = flip_boxes(boxes, valid)
    torch.testing.assert_close(once[0, 0], torch.tensor([0.6, 0.2, 0.9, 0.9]))
    assert not once[0, 1].any()
    torch.testing.assert_close(flip_boxes(once, valid), boxes)


def test_layout_tensors_against_a_loop_and_truncation(data: LayoutData) -> None:
    scenes = data.splits["train"]
    boxes, labels, valid = layout_tensors(scenes, 5)
    for i, scene in enumerate(scenes):
        k = min(scene.num_objects, 5)
        for j in range(5):
            assert bool(valid[i, j]) == (j < k)
            if j < k:
                assert labels[i, j] == scene.labels[j]
                np.testing.assert_allclose(boxes[i, j].numpy(), scene.boxes[j])
    ds = LayoutDataset(data, "train", 16, max_objects=5, progress=False)
    assert ds[0]["boxes"].shape == (5, 4)
    with pytest.raises(KeyError, match="unknown split 'dev'"):
        LayoutDataset(data, "dev", 16)
