"""Zero-shot classification from local feature maps (thesis 4.5.3, app. A.5, figs. 4.6, A.5).

Two ways to combine the positions of a frozen ``N×C×H×W`` map into one zero-shot decision:

* **average representations**: average the map over positions, then classify the ``N×C``
  vectors with a prototypical network (an explicitly compositional representation: the whole
  is the uniform sum of its patches);
* **average predictions**: classify every position's ``C``-vector with a prototypical network
  trained on all positions (each carries its image's label), then average the class
  probabilities over positions.

Both prototypical networks see the same number of training samples: the per-position network
runs ``epochs / (H·W)`` epochs (at least one) over ``H·W`` times more samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from lococo.metrics.zsl import per_class_accuracy
from lococo.zfs.config import ZSLConfig
from lococo.zfs.protonet import fit_protonet

__all__ = [
    "MapTask",
    "pooling_stages",
    "positions_as_samples",
    "zsl_average_predictions",
    "zsl_average_representations",
]


def positions_as_samples(maps: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``N×C×H×W`` maps → ``(N·H·W)×C`` position vectors, each with its image's label."""
    n, c, h, w = maps.shape
    return maps.permute(0, 2, 3, 1).reshape(n * h * w, c), labels.repeat_interleave(h * w)


@dataclass(frozen=True)
class MapTask:
    """A zero-shot task on local maps: seen-class training maps, unseen-class test maps."""

    train_maps: Tensor
    train_labels: Tensor
    test_maps: Tensor
    test_labels: Tensor
    class_attributes: Tensor
    seen: Tensor
    unseen: Tensor


def zsl_average_representations(task: MapTask, settings: ZSLConfig, seed: int = 0) -> float:
    """Top-1 per-class ZSL accuracy of position-averaged maps (unseen test images)."""
    t = task
    net = fit_protonet(
        t.train_maps.mean((2, 3)), t.train_labels, t.class_attributes, t.seen, settings, seed
    )
    with torch.no_grad():
        logits = net(t.test_maps.mean((2, 3)), t.class_attributes[t.unseen])
    return per_class_accuracy(t.unseen[logits.argmax(1)], t.test_labels)


def zsl_average_predictions(task: MapTask, settings: ZSLConfig, seed: int = 0) -> float:
    """Top-1 per-class ZSL accuracy when every position is classified and the class
    probabilities are averaged over positions."""
    t = task
    positions = t.train_maps.shape[2] * t.train_maps.shape[3]
    feats, labels = positions_as_samples(t.train_maps, t.train_labels)
    per_position = replace(settings, epochs=max(1, round(settings.epochs / positions)))
    net = fit_protonet(feats, labels, t.class_attributes, t.seen, per_position, seed)
    test_feats, _ = positions_as_samples(t.test_maps, t.test_labels)
    with torch.no_grad():
        probs = net(test_feats, t.class_attributes[t.unseen]).softmax(1)
    mean_probs = probs.reshape(t.test_maps.shape[0], positions, -1).mean(1)
    return per_class_accuracy(t.unseen[mean_probs.argmax(1)], t.test_labels)


def pooling_stages(features: Mapping[str, Tensor]) -> tuple[str, str]:
    """Names of the ``(small, big)`` receptive-field maps of an encoder's ``features`` dict.

    With a last pooling layer (AlexNet encoder): the maps before and after it (app. A.5).
    Without (the basic encoder, torchvision backbones): the last two 4-D stages before the
    global head, i.e. the second-to-last and the last conv stage.
    """
    if "prepool" in features and "postpool" in features:
        return "prepool", "postpool"
    skip = {"local", "global", "prepool", "postpool"}
    maps = [k for k, v in features.items() if k not in skip and v.ndim == 4]
    if len(maps) < 2:
        raise ValueError("the encoder exposes fewer than two spatial stages")
    return maps[-2], maps[-1]
