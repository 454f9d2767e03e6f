"""MRI preprocessing and datasets: per-modality normalisation, case-level splits, tumour-biased
slice sampling, whole-case evaluation order, 3-D patches, the in-memory case cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lococo.data.mri import ENHANCING, MRIData, load_mri, normalise_image, split_cases
from lococo.data.mri.slices import PatchDataset, SliceDataset, clear_cache, load_volumes
from lococo.data.mri.synth import synth_mri


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> MRIData:
    root = tmp_path_factory.mktemp("mri_ds")
    synth_mri(root, seed=0, cases=5, size=32, progress=False, overwrite=True)
    return load_mri(root, "brats")


@pytest.fixture(scope="module")
def volumes(data: MRIData):
    return load_volumes(data.cases)


# ----------------------------------------------------------------------------- normalisation


def test_normalisation_zscores_inside_the_brain() -> None:
    rng = np.random.default_rng(0)
    scales = np.array([1.0, 3.0, 0.5, 10.0], dtype=np.float32).reshape(4, 1, 1, 1)
    image = rng.normal(5.0, 2.0, size=(4, 6, 7, 8)).astype(np.float32) * scales
    brain = rng.uniform(size=(6, 7, 8)) < 0.6
    image[:, ~brain] = 0
    image[2][brain] = 7.0  # a constant channel
    out = normalise_image(image, brain, clip=None)
    for c in (0, 1, 3):
        values = image[c][brain].astype(np.float64)
        expected = (values - values.mean()) / values.std()
        np.testing.assert_allclose(out[c][brain], expected, rtol=1e-5, atol=1e-5)
    assert (out[2] == 0).all()
    assert (out[:, ~brain] == 0).all()
    ramp = np.where(brain, np.arange(brain.size, dtype=np.float32).reshape(brain.shape), 0)
    clipped = normalise_image(np.stack([ramp] * 4), brain, clip=0.5)
    assert clipped.max() == 0.5 and clipped.min() == -0.5


def test_loaded_volumes_are_normalised(volumes) -> None:
    for v in volumes:
        assert v.normalised and v.image.dtype == np.float32
        inside = v.image[:, v.brain]
        np.testing.assert_allclose(inside.mean(axis=1), 0, atol=0.05)
        np.testing.assert_allclose(
            inside.std(axis=1), 1, atol=0.1
        )  # clipping at ±5 shaves a little


# ----------------------------------------------------------------------------- splits


def test_split_cases_is_case_level_seeded_and_order_free(data: MRIData) -> None:
    parts = split_cases(data, seed=1, fractions=(0.6, 0.2, 0.2))
    ids = [c.case_id for p in parts.values() for c in p]
    assert sorted(ids) == sorted(c.case_id for c in data.cases)  # disjoint and complete
    assert [len(p) for p in parts.values()] == [3, 1, 1]
    again = split_cases(list(reversed(data.cases)), seed=1, fractions=(0.6, 0.2, 0.2))
    assert {k: [c.case_id for c in v] for k, v in again.items()} == {
        k: [c.case_id for c in v] for k, v in parts.items()
    }
    others = [split_cases(data, seed=s)["test"][0].case_id for s in range(2, 12)]
    assert len(set(others)) > 1


# ----------------------------------------------------------------------------- slices


def test_training_slices_oversample_tumour(volumes) -> None:
    def tumour_rate(fraction: float) -> float:
        ds = SliceDataset(volumes, train=True, tumour_fraction=fraction, size=600, seed=3)
        return float(np.mean([ds[i]["target"].sum().item() > 0 for i in range(len(ds))]))

    natural = tumour_rate(0.0)
    brain = SliceDataset(volumes, train=True, tumour_fraction=0.0, seed=0).arrays
    expected_natural = len(brain.tumour_slices) / len(brain.brain_slices)
    assert abs(natural - expected_natural) < 0.07  # 600 draws: ~4 standard errors
    biased = tumour_rate(0.5)
    # P(tumour) = 0.5 + 0.5·natural when half the draws come from the tumour pool.
    assert abs(biased - (0.5 + 0.5 * natural)) < 0.07
    assert tumour_rate(1.0) == 1.0


def test_training_items_are_deterministic_per_seed_and_epoch(volumes) -> None:
    ds = SliceDataset(volumes, train=True, size=50, seed=7)
    first = [ds.slice_at(i) for i in range(50)]
    assert first == [ds.slice_at(i) for i in range(50)]
    ds.set_epoch(1)
    assert first != [ds.slice_at(i) for i in range(50)]
    other = SliceDataset(volumes, train=True, size=50, seed=8)
    assert first != [other.slice_at(i) for i in range(50)]


def test_slice_items_match_the_volumes(volumes) -> None:
    ds = SliceDataset(volumes, train=True, size=20, seed=0, flip=True)
    flipped_seen = False
    for i in range(20):
        item = ds[i]
        case, k, flipped = ds.slice_at(i)
        v = volumes[case]
        image, label, brain = v.image[:, k], v.label[k], v.brain[k]
        if flipped:
            flipped_seen = True
            image, label, brain = image[..., ::-1], label[..., ::-1], brain[..., ::-1]
        assert item["case"] == case and item["slice"] == k
        assert item["image"].shape == (4, 32, 32) and item["image"].dtype == torch.float32
        np.testing.assert_array_equal(item["image"].numpy(), image)
        np.testing.assert_array_equal(
            item["target"][0].numpy(), (label == ENHANCING).astype(np.float32)
        )
        assert item["brain"].dtype == torch.bool
        np.testing.assert_array_equal(item["brain"][0].numpy(), brain)
    assert flipped_seen


def test_evaluation_enumerates_every_slice_of_each_case_in_order(volumes) -> None:
    ds = SliceDataset(volumes, train=False)
    depths = [v.image.shape[1] for v in volumes]
    assert len(ds) == sum(depths)
    assert [len(r) for r in ds.case_ranges] == depths
    loader = DataLoader(ds, batch_size=16, shuffle=False)
    cases, slices = [], []
    for batch in loader:
        cases += batch["case"].tolist()
        slices += batch["slice"].tolist()
    assert cases == [i for i, d in enumerate(depths) for _ in range(d)]
    assert slices == [k for d in depths for k in range(d)]
    # Re-assembling a case from its slices gives back its target volume.
    i = 2
    stacked = torch.stack([ds[j]["target"][0] for j in ds.case_ranges[i]])
    np.testing.assert_array_equal(stacked.numpy(), volumes[i].target)
    whole = ds.case_volume(i)
    assert whole["image"].shape == (4, *volumes[i].shape)
    np.testing.assert_array_equal(whole["target"][0].numpy(), stacked.numpy())


# ----------------------------------------------------------------------------- patches


def test_patches_are_tumour_biased_and_shaped(volumes) -> None:
    ds = PatchDataset(volumes, patch=(8, 16, 16), train=True, tumour_fraction=1.0, size=30, seed=0)
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (4, 8, 16, 16)
        assert item["target"].sum() > 0
        case, origin = ds.patch_at(i)
        z, y, x = origin
        np.testing.assert_array_equal(
            item["image"].numpy(), volumes[case].image[:, z : z + 8, y : y + 16, x : x + 16]
        )


def test_patch_grid_covers_every_voxel_and_pads_small_volumes(volumes) -> None:
    ds = PatchDataset(volumes[:1], patch=(10, 12, 40), train=False)
    covered = np.zeros(volumes[0].shape, dtype=int)
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (4, 10, 12, 40)  # W=32 < 40: zero-padded
        z, y, x = (int(v) for v in item["origin"])
        covered[z : z + 10, y : y + 12, x : x + 40] += 1
        assert (item["image"][..., 32:] == 0).all()
    assert (covered >= 1).all()


# ----------------------------------------------------------------------------- cache


def test_cases_are_read_once_and_reread_when_changed(data: MRIData) -> None:
    clear_cache()
    a = load_volumes(data.cases[:2])
    b = load_volumes(data.cases[:2])
    assert a[0] is b[0] and a[1] is b[1]
    path = data.cases[0].modality_paths["t1"]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    c = load_volumes(data.cases[:2])
    assert c[0] is not a[0] and c[1] is a[1]
    np.testing.assert_array_equal(c[0].image, a[0].image)


def test_from_cases_builds_the_same_dataset(data: MRIData, volumes) -> None:
    ds = SliceDataset.from_cases(data.cases, train=False)
    np.testing.assert_array_equal(
        ds[5]["image"].numpy(), SliceDataset(volumes, train=False)[5]["image"].numpy()
    )
    assert isinstance(data.root, Path)


def test_half_precision_storage_returns_close_float32_items(data: MRIData, volumes) -> None:
    half = load_volumes(data.cases[:2], dtype=np.float16)
    assert half[0].image.dtype == np.float16 and half[0] is not volumes[0]
    a = SliceDataset(half, train=False)[20]
    b = SliceDataset(volumes[:2], train=False)[20]
    assert a["image"].dtype == torch.float32
    np.testing.assert_allclose(a["image"].numpy(), b["image"].numpy(), atol=4e-3)
    np.testing.assert_array_equal(a["target"].numpy(), b["target"].numpy())
    patch = PatchDataset(half, patch=(4, 8, 8), train=False)[0]
    assert patch["image"].dtype == torch.float32
