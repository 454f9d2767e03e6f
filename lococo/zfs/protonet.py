"""Prototypical-network zero-shot classification on frozen features (thesis 4.4.1).

Class attribute vectors are mapped to prototypes by a learned linear map (prototypes scaled to
unit length); image features are mapped into the same space by another linear map; a class's
logit is the negative squared distance to its prototype. Trained on seen classes only.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lococo.metrics.zsl import harmonic_mean, per_class_accuracy, sample_accuracy
from lococo.zfs.config import ZSLConfig


class ProtoNet(nn.Module):
    def __init__(self, feature_dim: int, attribute_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.image = nn.Linear(feature_dim, embed_dim)
        self.attribute = nn.Linear(attribute_dim, embed_dim)
        self.register_buffer("mean", torch.zeros(feature_dim))
        self.register_buffer("std", torch.ones(feature_dim))

    def prototypes(self, attributes: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.attribute(attributes), dim=-1)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        return self.image((features - self.mean) / self.std)

    def forward(self, features: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Logits ``N×K``: negative squared distances to the ``K`` class prototypes."""
        return -torch.cdist(self.embed(features), self.prototypes(attributes)).pow(2)


def fit_protonet(
    features: torch.Tensor,
    labels: torch.Tensor,
    class_attributes: torch.Tensor,
    seen_classes: torch.Tensor,
    settings: ZSLConfig,
    seed: int = 0,
) -> ProtoNet:
    """Train on ``features`` whose ``labels`` are class ids among ``seen_classes``."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = ProtoNet(features.shape[1], class_attributes.shape[1], settings.embed_dim)
    net.mean.copy_(features.mean(0))
    net.std.copy_(features.std(0).clamp_min(1e-6))
    remap = torch.full((int(class_attributes.shape[0]),), -1, dtype=torch.long)
    remap[seen_classes] = torch.arange(len(seen_classes))
    targets = remap[labels]
    if (targets < 0).any():
        raise ValueError("training labels must belong to the seen classes")
    seen_attributes = class_attributes[seen_classes]
    optimizer = torch.optim.Adam(
        net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    n = features.shape[0]
    for _ in range(settings.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, settings.batch_size):
            idx = order[start : start + settings.batch_size]
            loss = F.cross_entropy(net(features[idx], seen_attributes), targets[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return net.eval()


@torch.no_grad()
def predict(
    net: ProtoNet, features: torch.Tensor, class_attributes: torch.Tensor, classes: torch.Tensor
) -> torch.Tensor:
    """Class ids (from ``classes``) of the nearest prototype for each feature."""
    logits = net(features, class_attributes[classes])
    return classes[logits.argmax(1)]


def zsl_metrics(
    net: ProtoNet,
    class_attributes: torch.Tensor,
    seen_classes: torch.Tensor,
    unseen_classes: torch.Tensor,
    seen_test: tuple[torch.Tensor, torch.Tensor],
    unseen_test: tuple[torch.Tensor, torch.Tensor],
) -> dict[str, float]:
    """ZSL (unseen images among unseen classes) and GZSL (among all classes) accuracies."""
    unseen_feats, unseen_labels = unseen_test
    zsl_pred = predict(net, unseen_feats, class_attributes, unseen_classes)
    all_classes = torch.cat([seen_classes, unseen_classes]).sort().values
    result = {
        "top1": per_class_accuracy(zsl_pred, unseen_labels),
        "top1_sample": sample_accuracy(zsl_pred, unseen_labels),
        "chance": 1.0 / len(unseen_classes),
        "num_unseen_classes": len(unseen_classes),
        "num_unseen_images": len(unseen_labels),
    }
    gzsl_unseen = per_class_accuracy(
        predict(net, unseen_feats, class_attributes, all_classes), unseen_labels
    )
    seen_feats, seen_labels = seen_test
    gzsl_seen = (
        per_class_accuracy(predict(net, seen_feats, class_attributes, all_classes), seen_labels)
        if len(seen_labels)
        else float("nan")
    )
    result.update(
        seen=gzsl_seen, unseen=gzsl_unseen, harmonic=harmonic_mean(gzsl_seen, gzsl_unseen)
    )
    return result


def as_tensor(x: np.ndarray | torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (
        x.to(dtype) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=dtype)
    )
