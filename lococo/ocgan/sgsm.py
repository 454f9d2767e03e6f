"""The scene-graph similarity module (SGSM, thesis 6.3.1, fig. 6.3, app. B.6).

:class:`SGSM` = an image encoder with local and global outputs + the scene-graph encoder
(:class:`~lococo.ocgan.gcn.GraphEncoder`) + four linear projections into a common
``embed_dim``-d space (256 in the paper). Its losses are the pure functions of
:mod:`lococo.ocgan.sgsm_losses`.

Image encoders (:func:`build_image_encoder`):

* ``inception_v3`` (the paper): torchvision's Inception-V3 with ImageNet weights read from a
  local state-dict file; images are resized to 299×299, ``Mixed_6e`` gives the 17×17×768 local
  map and the average-pooled ``Mixed_7c`` output the 2048-d global vector; the network is
  frozen (and kept in eval mode) so only the projections train, as in DAMSM. The Google
  weights expect inputs in ``[-1, 1]`` (what torchvision's ``transform_input`` produces from
  ImageNet-normalised input), which is lococo's image range, so images are fed unchanged.
* ``small_cnn``: lococo's ``basic`` conv encoder (local = third conv stage, global = its
  linear head) at the data's image size, trained jointly with the rest; results using it
  are marked not comparable with published ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lococo.errors import LococoError
from lococo.nn.encoders import Encoder, build_encoder
from lococo.ocgan.config import INCEPTION_FILE, SGSMRunConfig
from lococo.ocgan.gcn import GraphEncoder
from lococo.ocgan.scene_graph import SceneGraphs, build_scene_graphs, mask_centroids
from lococo.ocgan.sgsm_losses import SGSMLoss, attention, sgsm_loss

INCEPTION_SIZE = 299


def inception_weights_path(configured: str) -> Path:
    """The Inception-V3 state-dict file: ``configured`` or ``$LOCOCO_WEIGHTS_DIR/<file>``.

    A missing file is one :class:`LococoError` line naming the file and where to put it.
    """
    if configured:
        path = Path(configured).expanduser()
    else:
        path = Path(os.environ.get("LOCOCO_WEIGHTS_DIR", "~/.cache/lococo/weights")).expanduser()
        path = path / INCEPTION_FILE
    if not path.is_file():
        raise LococoError(
            f"{path}: Inception-V3 ImageNet weights not found; put torchvision's "
            f"{INCEPTION_FILE} (its inception_v3 state dict) there, set "
            "sgsm.inception_weights=FILE or LOCOCO_WEIGHTS_DIR=DIR, or train the small CNN "
            "with sgsm.image_encoder=small_cnn (results then not comparable)"
        )
    return path


class FrozenInception(Encoder):
    """Inception-V3 ``Mixed_6e`` (local) and pooled ``Mixed_7c`` (global) at 299×299, frozen."""

    def __init__(self, weights: Path | None) -> None:
        super().__init__()
        from lococo.zfs.backbone import torchvision_backbone

        self.inner = torchvision_backbone(
            "inception_v3",
            "Mixed_6e",
            input_size=INCEPTION_SIZE,
            weights=weights,
            global_layer="Mixed_7c",
            imagenet_input=False,
        )
        self.inner.requires_grad_(False)
        self.input_size = INCEPTION_SIZE
        self.local_shape = self.inner.local_shape
        self.local_channels = self.inner.local_channels
        self.global_dim = self.inner.global_dim

    def train(self, mode: bool = True) -> FrozenInception:
        super().train(mode)
        self.inner.eval()  # frozen BN statistics
        return self

    def features(self, x: Tensor) -> dict[str, Tensor]:
        return self.inner.features(x)


def build_image_encoder(cfg: SGSMRunConfig, *, weights_required: bool = True) -> Encoder:
    """The configured image encoder (``weights_required=False`` builds Inception-V3 without
    reading weights, for loading a trained SGSM whose checkpoint holds them)."""
    if cfg.sgsm.image_encoder == "inception_v3":
        path = inception_weights_path(cfg.sgsm.inception_weights) if weights_required else None
        return FrozenInception(path)
    return build_encoder(
        "basic", cfg.data.image_size, global_dim=cfg.sgsm.embed_dim, width=cfg.sgsm.cnn_width
    )


class ImageEmbedding(NamedTuple):
    """``regions``: ``B×I×E`` projected local features (``I = h·w``); ``global_``: ``B×E``;
    ``grid``: ``(h, w)`` of the local map."""

    regions: Tensor
    global_: Tensor
    grid: tuple[int, int]


class GraphEmbedding(NamedTuple):
    """``nodes``: ``B×O×E`` projected object-node features; ``valid``: ``B×O``; ``global_``."""

    nodes: Tensor
    valid: Tensor
    global_: Tensor


class SGSM(nn.Module):
    """Image encoder + graph encoder + projections to the common space (fig. 6.3).

    ``class_names`` is the vocabulary of the object classes (the graph's node classes).
    """

    def __init__(self, cfg: SGSMRunConfig, class_names: list[str], image_encoder: Encoder):
        super().__init__()
        self.cfg = cfg
        self.class_names = list(class_names)
        self.image_encoder = image_encoder
        self.graph_encoder = GraphEncoder(
            len(class_names), cfg.gcn.dim, cfg.gcn.hidden, cfg.gcn.layers
        )
        e = cfg.sgsm.embed_dim
        self.image_local = nn.Conv2d(image_encoder.local_channels, e, kernel_size=1)
        self.image_global = nn.Linear(image_encoder.global_dim, e)
        self.graph_local = nn.Linear(cfg.gcn.dim, e)
        self.graph_global = nn.Linear(cfg.gcn.dim, e)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def encode_images(self, images: Tensor) -> ImageEmbedding:
        """``B×3×P×P`` images in ``[-1, 1]`` → projected regions and global vector."""
        size = self.image_encoder.input_size
        if images.shape[-1] != size or images.shape[-2] != size:
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
        local, glob = self.image_encoder(images)
        regions = self.image_local(local)
        grid = (regions.shape[-2], regions.shape[-1])
        return ImageEmbedding(regions.flatten(2).transpose(1, 2), self.image_global(glob), grid)

    def graphs(
        self,
        boxes: Tensor,
        labels: Tensor,
        valid: Tensor,
        *,
        masks: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> SceneGraphs:
        """The configured scene graphs of a layout batch (mask centroids when configured and
        ``masks`` are given)."""
        centres = None
        if self.cfg.graph.centres == "mask" and masks is not None:
            centres = mask_centroids(boxes, masks)
        return build_scene_graphs(
            boxes,
            labels,
            valid,
            self.num_classes,
            mode=self.cfg.graph.mode,
            generator=generator,
            centres=centres,
        )

    def encode_graphs(self, graphs: SceneGraphs) -> GraphEmbedding:
        feats = self.graph_encoder(graphs)
        return GraphEmbedding(
            self.graph_local(feats.local), feats.valid, self.graph_global(feats.global_)
        )

    def loss(self, graph: GraphEmbedding, image: ImageEmbedding) -> SGSMLoss:
        """Eq. 6.3.6 for matching pairs (graph ``b``, image ``b``), weighted per config."""
        s = self.cfg.sgsm
        out = sgsm_loss(
            graph.nodes,
            graph.valid,
            image.regions,
            graph.global_,
            image.global_,
            gamma1=s.gamma1,
            gamma2=s.gamma2,
            gamma3=s.gamma3,
            norm=s.attention_norm,
        )
        total = s.local_weight * out.local + s.global_weight * out.global_
        return out._replace(total=total)

    def sgsm_loss(
        self,
        images: Tensor,
        boxes: Tensor,
        labels: Tensor,
        valid: Tensor,
        *,
        masks: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``L_SGSM`` of (e.g. generated) images against their layouts' scene graphs: the
        matching loss over the batch, differentiable w.r.t. ``images``."""
        graphs = self.graphs(boxes, labels, valid, masks=masks, generator=generator)
        graphs = graphs.to(images.device)
        return self.loss(self.encode_graphs(graphs), self.encode_images(images)).total

    def attention_maps(self, graph: GraphEmbedding, image: ImageEmbedding) -> Tensor:
        """Attention of each object node over the regions of its own image: ``B×O×h×w``."""
        s = self.cfg.sgsm
        weights = attention(
            graph.nodes, image.regions, graph.valid, gamma1=s.gamma1, norm=s.attention_norm
        ).weights
        return weights.unflatten(-1, image.grid)


def sgsm_state(model: SGSM) -> dict[str, Any]:
    """What a trained SGSM file stores: weights and vocabulary."""
    return {"state_dict": model.state_dict(), "class_names": model.class_names}
