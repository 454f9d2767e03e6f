"""The prototypical network transfers to unseen classes through their attributes."""

from __future__ import annotations

import torch

from lococo.zfs.config import ZSLConfig
from lococo.zfs.protonet import fit_protonet, zsl_metrics


def _compositional_features(n_per_class: int, seed: int):
    """Features = a fixed linear image of the class's binary attributes + noise."""
    attributes = torch.tensor(
        [[int(b) for b in f"{c:06b}"] for c in range(1, 40)], dtype=torch.float32
    )
    attributes = torch.nn.functional.normalize(attributes, dim=1)
    mixing = torch.randn(6, 64, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(len(attributes)).repeat_interleave(n_per_class)
    features = attributes[labels] @ mixing + 0.15 * torch.randn(len(labels), 64, generator=g)
    return features, labels, attributes


def test_unseen_classes_far_above_chance():
    features, labels, attributes = _compositional_features(20, seed=0)
    unseen = torch.arange(30, 39)
    seen = torch.arange(0, 30)
    train = labels < 30
    net = fit_protonet(
        features[train],
        labels[train],
        attributes,
        seen,
        ZSLConfig(embed_dim=32, epochs=60, lr=1e-2),
    )
    test_f, test_l, _ = _compositional_features(10, seed=1)
    is_unseen = test_l >= 30
    result = zsl_metrics(
        net,
        attributes,
        seen,
        unseen,
        (test_f[~is_unseen], test_l[~is_unseen]),
        (test_f[is_unseen], test_l[is_unseen]),
    )
    assert result["chance"] == 1 / 9
    assert result["top1"] > 0.6
    assert 0 <= result["harmonic"] <= max(result["seen"], result["unseen"])


def test_shuffled_attributes_give_chance():
    """The same features with attributes that carry no information cannot transfer."""
    features, labels, attributes = _compositional_features(20, seed=0)
    random_attributes = torch.nn.functional.normalize(torch.rand(attributes.shape), dim=1)
    seen, unseen = torch.arange(0, 30), torch.arange(30, 39)
    train = labels < 30
    net = fit_protonet(
        features[train],
        labels[train],
        random_attributes,
        seen,
        ZSLConfig(embed_dim=32, epochs=60, lr=1e-2),
    )
    test = labels >= 30
    result = zsl_metrics(
        net,
        random_attributes,
        seen,
        unseen,
        (features[:0], labels[:0]),
        (features[test], labels[test]),
    )
    assert result["top1"] < 0.35
