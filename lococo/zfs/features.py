"""Frozen-encoder feature extraction."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from lococo.nn.encoders import Encoder


@torch.no_grad()
def extract_global_features(
    encoder: Encoder,
    dataset: Dataset,
    *,
    batch_size: int = 256,
    progress: bool = True,
    desc: str = "features",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Global features ``N×D`` and the dataset's targets ``N`` in dataset order (eval mode)."""
    encoder.eval()
    device = next(encoder.parameters()).device
    feats, targets = [], []
    loader = DataLoader(dataset, batch_size=batch_size, pin_memory=device.type == "cuda")
    for images, target, _ in tqdm(loader, desc=desc, disable=not progress, leave=False):
        feats.append(encoder(images.to(device, non_blocking=True)).global_.float().cpu())
        targets.append(target)
    return torch.cat(feats), torch.cat(targets)


@torch.no_grad()
def extract_feature_maps(
    encoder: Encoder,
    dataset: Dataset,
    stages: tuple[str, ...],
    *,
    keep_images: bool = False,
    batch_size: int = 128,
    progress: bool = True,
    desc: str = "features",
) -> dict[str, torch.Tensor]:
    """Named stages of ``encoder.features`` for every item of ``dataset`` (eval mode, on CPU).

    Returns ``{stage: N×...}`` plus ``"targets"`` and, with ``keep_images``, ``"images"``.
    """
    encoder.eval()
    device = next(encoder.parameters()).device
    out: dict[str, list[torch.Tensor]] = {name: [] for name in (*stages, "targets")}
    if keep_images:
        out["images"] = []
    loader = DataLoader(dataset, batch_size=batch_size, pin_memory=device.type == "cuda")
    for images, target, _ in tqdm(loader, desc=desc, disable=not progress, leave=False):
        feats = encoder.features(images.to(device, non_blocking=True))
        for name in stages:
            out[name].append(feats[name].float().cpu())
        out["targets"].append(target)
        if keep_images:
            out["images"].append(images)
    return {name: torch.cat(parts) for name, parts in out.items()}
