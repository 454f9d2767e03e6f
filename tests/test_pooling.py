"""Zero-shot classification from local maps: averaging representations vs predictions."""

from __future__ import annotations

import torch

from lococo.nn.encoders import build_encoder
from lococo.zfs.config import ZSLConfig
from lococo.zfs.pooling import (
    MapTask,
    pooling_stages,
    positions_as_samples,
    zsl_average_predictions,
    zsl_average_representations,
)

SETTINGS = ZSLConfig(embed_dim=32, epochs=40, lr=1e-2, weight_decay=0.0, batch_size=64)


def _task(signal: float, seed: int = 0):
    """Classes with random attributes; a fixed linear map of a class's attributes is written at
    a few random positions of each image's map (``signal`` scales it), noise elsewhere."""
    g = torch.Generator().manual_seed(seed)
    classes, attr_dim, channels, side = 12, 16, 24, 4
    attrs = torch.randn(classes, attr_dim, generator=g)
    mix = torch.randn(attr_dim, channels, generator=g)
    seen, unseen = torch.arange(8), torch.arange(8, 12)

    def images(class_ids: torch.Tensor, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = class_ids.repeat_interleave(per_class)
        maps = torch.randn(len(labels), channels, side, side, generator=g)
        code = (attrs[labels] @ mix) * signal
        for i in range(len(labels)):
            where = torch.randperm(side * side, generator=g)[:3]
            maps[i].view(channels, -1)[:, where] += code[i][:, None]
        return maps, labels

    return images(seen, 30), images(unseen, 20), attrs, seen, unseen


def test_positions_as_samples_keeps_each_position_with_its_label() -> None:
    maps = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    feats, labels = positions_as_samples(maps, torch.tensor([5, 7]))
    assert feats.shape == (8, 3)
    assert labels.tolist() == [5, 5, 5, 5, 7, 7, 7, 7]
    assert torch.equal(feats[6], maps[1, :, 1, 0])


def test_both_poolings_beat_chance_on_local_attribute_codes() -> None:
    (train, train_y), (test, test_y), attrs, seen, unseen = _task(signal=1.0)
    task = MapTask(train, train_y, test, test_y, attrs, seen, unseen)
    chance = 1 / len(unseen)
    assert zsl_average_representations(task, SETTINGS) > 2 * chance
    assert zsl_average_predictions(task, SETTINGS) > 2 * chance


def test_noise_maps_stay_near_chance() -> None:
    (train, train_y), (test, test_y), attrs, seen, unseen = _task(signal=0.0)
    task = MapTask(train, train_y, test, test_y, attrs, seen, unseen)
    assert zsl_average_representations(task, SETTINGS) < 0.55
    assert zsl_average_predictions(task, SETTINGS) < 0.55


def test_pooling_stages_of_lococo_and_torchvision_encoders() -> None:
    import torchvision

    from lococo.nn.encoders import TorchvisionEncoder

    def stages(encoder) -> tuple[str, str]:
        with torch.no_grad():
            x = torch.zeros(2, 3, encoder.input_size, encoder.input_size)
            return pooling_stages(encoder.features(x))

    assert stages(build_encoder("basic", 64, width=0.25)) == ("layer2", "layer3")
    assert stages(build_encoder("alexnet", 64, width=0.25)) == ("prepool", "postpool")
    resnet = TorchvisionEncoder(torchvision.models.resnet18(weights=None), "layer2", input_size=64)
    assert stages(resnet) == ("layer3", "layer4")
