"""AMDIM (Bachman et al. 2019): multiscale NCE between two augmented views of each image.

Views: the data pipeline gives two independent random crops/flips of every image
(``views = 2``); in training this module adds a cheap batched colour jitter and random
greyscale to each view (:func:`lococo.zfs.infomax.color_jitter`: brightness, contrast,
saturation ±0.4 with probability 0.8, greyscale with probability 0.25; no hue shift).

Scales. The reference pairs its 1×1 (global), 5×5 and 7×7 maps as 1→5, 1→7 and 5→5, in both
view directions. Our encoders map onto this as

* ``1`` → the global vector (``global``),
* ``7`` → the ``local`` map (third conv stage: many positions, small receptive field),
* ``5`` → the last conv map (``layerK``: few positions, large receptive field),

giving the pairs ``global→local``, ``global→last`` and ``last→last``. When the last conv
stage *is* the local stage (``basic`` at 32 px) there is one map and the pairs are
``global→local`` and ``local→local``. Every map gets its own embedding (a residual 1×1 conv
net to ``method.critic_dim``), used for it both as a source and as a target; the global vector
gets a residual MLP. For the map→map pair, each image contributes one source vector at a
random position of one view, scored against every position of the other view.

Each pair's raw scores are dot products divided by ``sqrt(d)``; the loss adds
``score_reg · mean(raw²)`` and takes the NCE (:func:`~lococo.zfs.infomax.multi_nce`) of the
scores soft-clipped by ``tclip · tanh(x / tclip)``; both directions are averaged and the pairs
summed. Under DDP the embeddings of both views are gathered so negatives come from the
global batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lococo.nn.critics import Residual1x1, ResidualMLP
from lococo.nn.encoders import EncoderFeatures
from lococo.zfs import infomax
from lococo.zfs.methods.base import Batch, ZFSMethod


class AMDIMMethod(ZFSMethod):
    """Augmented multiscale Deep InfoMax on the encoder's global, local and last conv maps."""

    views = 2

    def __init__(self, config: dict[str, Any], class_attributes: torch.Tensor) -> None:
        super().__init__(config, class_attributes)
        method = config["method"]
        self.tclip = float(method["tclip"])
        self.score_reg = float(method["score_reg"])
        self.color_jitter = True
        dim = int(method["critic_dim"])
        enc = self.encoder
        last = len(enc.stage_shapes) - 1
        #: scale name -> encoder feature key; "last" only when it differs from "local"
        self.scales = {"local": "local"}
        if last != enc.local_stage:
            self.scales["last"] = f"layer{last}"
        channels = {"local": enc.local_channels, "last": enc.stage_shapes[last][0]}
        self.global_embed = ResidualMLP(enc.global_dim, dim, dim)
        self.map_embed = nn.ModuleDict(
            {name: Residual1x1(channels[name], dim, dim) for name in self.scales}
        )
        top = "last" if "last" in self.scales else "local"
        #: (source, target) pairs: global→each map, and the top map to itself
        self.pairs = [("global", name) for name in self.scales] + [(top, top)]

    def embed(
        self, feats: dict[str, Tensor], generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """``(sources, targets)``: ``n×d`` source vectors and ``n×d×P`` target maps per scale.

        Map sources are the embedded map at one random position per image.
        """
        n = feats["global"].shape[0]
        sources = {"global": self.global_embed(feats["global"])}
        targets = {}
        for name, key in self.scales.items():
            emb = self.map_embed[name](feats[key]).flatten(2)  # n×d×P
            targets[name] = emb
            where = infomax.sample_positions(n, emb.shape[2], generator).to(emb.device)
            sources[name] = emb[torch.arange(n, device=emb.device), :, where]
        return sources, targets

    def nce_terms(
        self,
        feats: dict[str, Tensor],
        labels: Tensor | None = None,
        *,
        gather: bool = True,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """NCE terms per pair and the score regulariser; ``feats`` holds view 1 then view 2.

        With ``labels`` (one per image) only pairs of different classes are negatives
        (class-matching); without, every other image of the (gathered) batch is one.
        """
        sources, targets = self.embed(feats, generator)
        views = {**{f"s_{k}": v for k, v in sources.items()}, **targets}
        views = {k: _split_views(v) for k, v in views.items()}  # b×2×...
        if gather:
            views = {k: self.gather(v) for k, v in views.items()}
            labels = self.gather(labels) if labels is not None else None
        negative = labels[:, None] != labels[None, :] if labels is not None else None
        terms: dict[str, Tensor] = {}
        regs = []
        for src, trg in self.pairs:
            losses = []
            for a, b in ((0, 1), (1, 0)):
                raw = infomax.amdim_scores(views[f"s_{src}"][:, a], views[trg][:, b])
                regs.append(infomax.score_regulariser(raw, self.score_reg))
                losses.append(infomax.multi_nce(infomax.tanh_clip(raw, self.tclip), negative))
            terms[f"nce_{src}_{trg}"] = 0.5 * (losses[0] + losses[1])
        terms["score_reg"] = 0.5 * torch.stack(regs).sum()
        return terms

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images, targets, _ = batch
        b = images.shape[0]
        x = images.transpose(0, 1).flatten(0, 1)  # view 1 of every image, then view 2
        if self.color_jitter:
            x = infomax.color_jitter(x)
        feats = self.encoder.features(x)
        terms = self.nce_terms(feats)
        first = EncoderFeatures(feats["local"][:b], feats["global"][:b])
        return self.finish_step(self.add_local_loss(terms, first, targets))

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """NCE between two identical centre crops (no jitter): a fixed, comparable measure."""
        images, _, _ = batch
        if images.shape[0] < 2:
            return
        feats = self.encoder.features(images)
        feats = {k: torch.cat([v, v]) for k, v in feats.items()}
        generator = torch.Generator().manual_seed(batch_idx)  # leaves torch's RNG untouched
        terms = self.nce_terms(feats, gather=False, generator=generator)
        nce = torch.stack([v for k, v in terms.items() if k.startswith("nce_")]).sum()
        self.log("val/nce", nce, batch_size=images.shape[0])
        for name, value in terms.items():
            self.log(f"val/{name}", value, batch_size=images.shape[0])


def _split_views(x: Tensor) -> Tensor:
    """``2b×...`` (view 1 then view 2) → ``b×2×...`` so that gathering keeps images whole."""
    return x.reshape(2, x.shape[0] // 2, *x.shape[1:]).transpose(0, 1).contiguous()
