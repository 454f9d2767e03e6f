"""Report encoder: frozen GloVe embeddings and a residual 1-D CNN (thesis 8.3.3).

:class:`TextCNN` maps token ids ``B×L`` (right-padded with id 0, true ``lengths``) to

* ``local``  ``B×C×L`` — one feature per token position (zeros at padding),
* ``global_`` ``B×G`` — a linear map of the max over the valid positions,
* ``mask``   ``B×L`` bool — which positions are real tokens.

Layers: the embedding table (GloVe rows, frozen by default: the thesis found fine-tuning hurt),
a 1×1 convolution to ``C`` channels, then ``blocks`` residual blocks
``x + conv(relu(norm(conv(relu(norm(x))))))`` (kernel ``kernel_size``, same padding), the
residual text CNN of the thesis' design (a residual variant of Zhang et al.'s convolutional
sentence encoder). ``norm`` is a LayerNorm over the channels of each position, and every
convolution sees padded positions as zeros, so a sequence's outputs do not depend on how much
padding follows it (the same as encoding it alone).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn


class TextFeatures(NamedTuple):
    local: Tensor  # B×C×L
    global_: Tensor  # B×G
    mask: Tensor  # B×L bool


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """``B×max_len`` bool: position ``t`` of sample ``b`` is a real token iff ``t < lengths[b]``."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of each position of a ``B×C×L`` map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class ResidualBlock1d(nn.Module):
    """Pre-activation residual block on ``B×C×L`` with padded positions zeroed before convs."""

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        pad = kernel_size // 2
        self.norm1, self.norm2 = ChannelNorm(channels), ChannelNorm(channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=pad)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=pad)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        m = mask[:, None, :].to(x.dtype)
        h = self.conv1(torch.relu(self.norm1(x)) * m)
        h = self.conv2(torch.relu(self.norm2(h)) * m)
        return x + h


class TextCNN(nn.Module):
    """Frozen word vectors → residual 1-D CNN → local (per token) and global (pooled) features."""

    def __init__(
        self,
        embeddings: Tensor,
        channels: int = 128,
        blocks: int = 2,
        kernel_size: int = 3,
        global_dim: int = 128,
        freeze: bool = True,
    ) -> None:
        super().__init__()
        if embeddings.dim() != 2 or embeddings.shape[0] < 1:
            raise ValueError(f"embeddings must be V×d, got {tuple(embeddings.shape)}")
        self.embedding = nn.Embedding.from_pretrained(
            embeddings.float(), freeze=freeze, padding_idx=0
        )
        self.project = nn.Conv1d(embeddings.shape[1], channels, 1)
        self.blocks = nn.ModuleList(ResidualBlock1d(channels, kernel_size) for _ in range(blocks))
        self.out_norm = ChannelNorm(channels)
        self.global_head = nn.Linear(channels, global_dim)
        self.local_channels = channels
        self.global_dim = global_dim

    def forward(self, tokens: Tensor, lengths: Tensor) -> TextFeatures:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be B×L, got {tuple(tokens.shape)}")
        if bool((lengths < 1).any()) or bool((lengths > tokens.shape[1]).any()):
            raise ValueError("every length must be in 1..L (encode empty texts as one <unk>)")
        mask = length_mask(lengths, tokens.shape[1])
        m = mask[:, None, :].float()
        x = self.project(self.embedding(tokens).transpose(1, 2) * m)
        for block in self.blocks:
            x = block(x * m, mask)
        local = torch.relu(self.out_norm(x)) * m
        pooled = local.masked_fill(~mask[:, None, :], float("-inf")).amax(dim=2)
        return TextFeatures(local, self.global_head(pooled), mask)
