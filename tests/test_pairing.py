"""ClassPartnerDataset: every item is an image and another image of its class."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from lococo.data.zsl.check import load_zsl
from lococo.data.zsl.images import ZSLImageDataset
from lococo.data.zsl.synth import synth_zsl
from lococo.zfs.pairing import ClassPartnerDataset

LABELS = [2, 0, 2, 1, 0, 2, 2, 3]  # class 1 and 3 have a single item


class _Indexed(Dataset):
    """Item ``i``: a 3×2×2 image filled with ``i``, target ``LABELS[i]``, index ``100 + i``."""

    def __init__(self, labels: list[int]) -> None:
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return torch.full((3, 2, 2), float(i)), torch.tensor(self.labels[i]), torch.tensor(100 + i)


def _pair(data: ClassPartnerDataset, i: int) -> tuple[int, int, int, int]:
    """(own item, partner item, target, index) read back from the stacked images."""
    images, target, index = data[i]
    assert images.shape == (2, 3, 2, 2)
    return int(images[0, 0, 0, 0]), int(images[1, 0, 0, 0]), int(target), int(index)


def test_partner_is_another_item_of_the_same_class():
    data = ClassPartnerDataset(_Indexed(LABELS), LABELS)
    assert len(data) == len(LABELS)
    torch.manual_seed(0)
    for _ in range(20):
        for i in range(len(LABELS)):
            own, partner, target, index = _pair(data, i)
            assert (own, target, index) == (i, LABELS[i], 100 + i)
            assert LABELS[partner] == LABELS[i]
            single = LABELS.count(LABELS[i]) == 1
            assert (partner == i) == single, (i, partner)


def test_partner_is_uniform_among_the_others():
    data = ClassPartnerDataset(_Indexed(LABELS), torch.tensor(LABELS))
    torch.manual_seed(1)
    for i in (0, 5):  # class 2 = items 0, 2, 5, 6
        draws = torch.tensor([data.partner(i) for _ in range(3000)])
        counts = torch.bincount(draws, minlength=len(LABELS))
        others = [j for j in (0, 2, 5, 6) if j != i]
        assert counts.sum() == counts[others].sum() == 3000
        assert (counts[others] - 1000).abs().max() < 120, counts


def test_partners_replay_under_torch_manual_seed():
    data = ClassPartnerDataset(_Indexed(LABELS), LABELS)

    def partners(seed: int) -> list[int]:
        torch.manual_seed(seed)
        return [_pair(data, i)[1] for i in range(len(LABELS)) for _ in range(5)]

    assert partners(3) == partners(3)
    assert partners(3) != partners(4)


def test_label_count_must_match():
    with pytest.raises(ValueError, match="3 labels for a dataset of 8 items"):
        ClassPartnerDataset(_Indexed(LABELS), [0, 1, 2])


def test_wraps_a_zsl_image_dataset(tmp_path):
    synth_zsl(
        tmp_path, seed=0, classes=5, unseen=1, images_per_class=4, image_size=32, progress=False
    )
    data = load_zsl(tmp_path, "cub")
    images = ZSLImageDataset(data, data.trainval, 32, train=False, progress=False)
    pairs = ClassPartnerDataset(images, images.targets)
    centre = torch.stack([images[j][0] for j in range(len(images))])  # deterministic crops
    torch.manual_seed(0)
    for i in range(len(images)):
        stacked, target, index = pairs[i]
        assert torch.equal(stacked[0], centre[i])
        assert target == images.targets[i] and index == images.indices[i]
        same = [j for j in range(len(images)) if torch.equal(centre[j], stacked[1])]
        assert len(same) == 1 and images.targets[same[0]] == target
        assert (same[0] == i) == (int((images.targets == target).sum()) == 1)


def test_second_image_is_a_partner_with_probability_p():
    """With ``p`` the second image is another same-class item, else the item itself."""
    labels = [0] * 6 + [1] * 6
    data = ClassPartnerDataset(_Indexed(labels), labels, p=0.3)
    torch.manual_seed(0)
    pairs = [_pair(data, i % 12) for i in range(3000)]
    partnered = [own != second for own, second, _, _ in pairs]
    assert abs(sum(partnered) / len(pairs) - 0.3) < 0.03
    assert all(labels[own] == labels[second] for own, second, _, _ in pairs)
    never = ClassPartnerDataset(_Indexed(labels), labels, p=0.0)
    assert all(_pair(never, i)[1] == i for i in range(12))
    with pytest.raises(ValueError, match="p must lie"):
        ClassPartnerDataset(_Indexed(labels), labels, p=1.2)


def test_p1_draws_the_same_partners_as_before():
    """``p = 1`` draws no coin: the random stream (and resumed runs) are unchanged."""
    plain, explicit = (ClassPartnerDataset(_Indexed(LABELS), LABELS, **kw) for kw in ({}, {"p": 1}))
    torch.manual_seed(3)
    first = [_pair(plain, i) for i in range(len(LABELS))]
    torch.manual_seed(3)
    assert [_pair(explicit, i) for i in range(len(LABELS))] == first
