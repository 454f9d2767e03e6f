"""Patient-level splits, view lists and rebalancing weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lococo.data.cxr.splits import (
    balanced_sampler,
    balanced_weights,
    patient_splits,
    read_splits,
    split_indices,
    write_splits,
)
from lococo.data.cxr.views import is_frontal, read_view_list
from lococo.errors import DataError


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_patients_never_cross_splits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    patients = [f"P{int(p)}" for p in rng.integers(0, 60, size=400)]  # several images each
    splits = patient_splits(patients, (0.6, 0.2, 0.2), seed)
    sets = {k: set(v) for k, v in splits.items()}
    assert not (
        sets["train"] & sets["val"] or sets["train"] & sets["test"] or sets["val"] & sets["test"]
    )
    assert set().union(*sets.values()) == set(patients)
    idx = split_indices(patients, splits)
    assert sorted(i for v in idx.values() for i in v) == list(range(len(patients)))
    for name, items in idx.items():
        assert {patients[i] for i in items} <= sets[name]
    n = len(set(patients))
    assert abs(len(splits["train"]) - 0.6 * n) <= 1
    assert patient_splits(patients, (0.6, 0.2, 0.2), seed) == splits  # seeded
    assert patient_splits(patients, (0.6, 0.2, 0.2), seed + 100) != splits


def test_small_sets_keep_every_split_non_empty_and_round_trip(tmp_path: Path) -> None:
    splits = patient_splits(["a", "b", "c"], (0.8, 0.1, 0.1), 0)
    assert sorted(len(v) for v in splits.values()) == [1, 1, 1]
    write_splits(tmp_path / "splits.json", splits, seed=0)
    assert read_splits(tmp_path / "splits.json") == splits
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(DataError):
        read_splits(tmp_path / "bad.json")


def test_balanced_weights_equalise_label_frequencies() -> None:
    rng = np.random.default_rng(0)
    y = np.zeros((1000, 3))
    y[:800, 0] = 1
    y[800:950, 1] = 1
    y[950:, 2] = 1
    y[rng.choice(1000, 50, replace=False), 1] = 1
    w = balanced_weights(y)
    assert w.sum() == pytest.approx(1.0) and (w > 0).all()
    expected = (w[:, None] * y).sum(axis=0)  # expected share of draws carrying each label
    assert expected.max() / expected.min() < 1.6  # raw shares: 0.8 vs 0.05
    sampler = balanced_sampler(y, 20000, seed=3)
    drawn = y[list(sampler)].mean(axis=0)
    assert drawn.max() / drawn.min() < 1.8
    assert list(balanced_sampler(y, 50, seed=3)) == list(balanced_sampler(y, 50, seed=3))


def test_view_list(tmp_path: Path) -> None:
    path = tmp_path / "views.csv"
    path.write_text(
        "ImageID,ViewPosition\nA,PA\nB,lateral\n\nC,ap\n".replace("ImageID", "image_id")
    )
    views = read_view_list(path)
    assert views == {"A": "PA", "B": "lateral", "C": "ap"}
    assert [is_frontal(views.get(k)) for k in "ABCD"] == [True, False, True, False]
    path.write_text("image_id,view\nA,PA\nB\n")
    with pytest.raises(DataError) as err:
        read_view_list(path)
    assert err.value.line == 3
    path.write_text("name,kind\nA,PA\n")
    with pytest.raises(DataError, match="header"):
        read_view_list(path)
