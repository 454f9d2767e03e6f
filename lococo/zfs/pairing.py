"""Paired training items: two views of an image (AMDIM) or an image and a same-class partner
(class-matching DIM, thesis app. A.7, table A.10's "twopass").

:class:`ClassPartnerDataset` gives every training image a second image of the same class,
drawn afresh each time the item is read, so that CMDIM's positives do not depend on which
classes happen to share a uniformly sampled batch. With ``p < 1`` the second image is, with
probability ``1 - p``, the image itself (an independent random crop/flip: AMDIM's second view),
which is the two-pass CMDIM's input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset


class ClassPartnerDataset(Dataset):
    """Items ``(stack([x_i, x_j]) 2×C×H×W, target_i, index_i)`` of a wrapped dataset.

    ``dataset`` yields ``(image, target, index)`` (e.g. a training ``ZSLImageDataset``);
    ``labels`` are its targets in item order (``ZSLImageDataset.targets``). The partner ``j``
    is drawn uniformly among the *other* items with ``labels[j] == labels[i]`` (``i`` itself
    when its class has one item), with torch's global RNG, so seeding and resuming replay it.
    Both images go through the wrapped dataset, hence get independent random crops/flips.

    ``p`` is the probability that the second image is the partner; otherwise (probability
    ``1 - p``, a coin from torch's global RNG) it is item ``i`` again. ``p = 1`` draws no coin.
    """

    def __init__(
        self, dataset: Dataset, labels: Sequence[int] | torch.Tensor, p: float = 1.0
    ) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"partner probability p must lie in [0, 1], got {p}")
        self.p = float(p)
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if labels.shape[0] != len(dataset):  # type: ignore[arg-type]
            raise ValueError(
                f"{labels.shape[0]} labels for a dataset of {len(dataset)} items"  # type: ignore[arg-type]
            )
        self.dataset, self.labels = dataset, labels
        order = torch.argsort(labels, stable=True)
        _, counts = torch.unique_consecutive(labels[order], return_counts=True)
        #: members of every class (item indices, ascending), one tensor per class
        self.groups: list[torch.Tensor] = list(torch.split(order, counts.tolist()))
        self._group = torch.empty_like(labels)  # item -> its class's position in groups
        self._rank = torch.empty_like(labels)  # item -> its position inside its group
        for g, members in enumerate(self.groups):
            self._group[members] = g
            self._rank[members] = torch.arange(members.shape[0])

    def __len__(self) -> int:
        return self.labels.shape[0]

    def partner(self, i: int) -> int:
        """A uniformly drawn other item of ``i``'s class (torch's global RNG); ``i`` if none."""
        members = self.groups[int(self._group[i])]
        others = members.shape[0] - 1
        if others == 0:
            return int(i)
        r = int(torch.randint(others, (1,)).item())
        return int(members[r + int(r >= self._rank[i])].item())

    def second(self, i: int) -> int:
        """The item whose image comes second: a partner with probability ``p``, else ``i``."""
        if self.p < 1.0 and float(torch.rand(1).item()) >= self.p:
            return int(i)
        return self.partner(i)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any, Any]:
        j = self.second(i)
        image, target, index = self.dataset[i]
        return torch.stack([image, self.dataset[j][0]]), target, index


class MultiViewDataset(Dataset):
    """``views`` independent random crops/flips of each image: ``(V×C×H×W, target, index)``."""

    def __init__(self, dataset: Dataset, views: int) -> None:
        self.dataset, self.views = dataset, views

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any, Any]:
        samples = [self.dataset[i] for _ in range(self.views)]
        return torch.stack([s[0] for s in samples]), samples[0][1], samples[0][2]
