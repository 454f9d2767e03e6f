"""Typed config of SGSM pretraining (``lococo ocgan pretrain-sgsm``; thesis 6.3.1, app. B.6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FORMATS = ("coco-stuff", "vg")
IMAGE_ENCODERS = ("inception_v3", "small_cnn")
#: torchvision's ImageNet Inception-V3 state dict (looked up in ``LOCOCO_WEIGHTS_DIR``).
INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"


@dataclass
class LayoutDataConfig:
    """Layout data: ``image_size`` is the side images are loaded at (the image encoder then
    resizes: 299 for Inception-V3, the small CNN's own input otherwise)."""

    path: str = ""
    format: Literal["coco-stuff", "vg"] = "coco-stuff"
    image_size: int = 64
    batch_size: int = 32
    num_workers: int = 0
    max_objects: int | None = None  # None: the dataset's maximum
    flip: bool = False
    train_split: str = "train"
    eval_split: str = "test"  # held-out scenes for retrieval (falls back to val)


@dataclass
class GraphConfig:
    """Scene graphs (app. B.3): sg2im's one random partner per object, or every ordered pair;
    relation centres from boxes or from instance-mask centroids."""

    mode: Literal["random", "all"] = "random"
    centres: Literal["box", "mask"] = "box"
    mask_size: int = 16


@dataclass
class GCNConfig:
    """The scene-graph encoder (fig. B.2a; sg2im sizes: 128-d, 512 hidden, 5 layers)."""

    dim: int = 128
    hidden: int = 512
    layers: int = 5


@dataclass
class SGSMConfig:
    """The module and its loss (eq. 6.3.1–6.3.6).

    ``image_encoder``: ``inception_v3`` (the paper: ImageNet Inception-V3 read from
    ``inception_weights`` or ``$LOCOCO_WEIGHTS_DIR/inception_v3_google-0cc3c7bd.pth``, frozen,
    ``Mixed_6e`` 17×17×768 local and 2048-d pooled global features at 299×299) or
    ``small_cnn`` (lococo's ``basic`` conv encoder at ``data.image_size``, trained jointly;
    results are then not comparable with published ones). ``shuffle_pairs``: train on
    deliberately mismatched graph/image pairs (a control that must stay at chance).
    """

    image_encoder: Literal["inception_v3", "small_cnn"] = "inception_v3"
    inception_weights: str = ""
    cnn_width: float = 0.5
    embed_dim: int = 256
    gamma1: float = 4.0
    gamma2: float = 5.0
    gamma3: float = 10.0
    attention_norm: Literal["regions", "nodes"] = "regions"
    local_weight: float = 1.0
    global_weight: float = 1.0
    shuffle_pairs: bool = False


@dataclass
class OptimConfig:
    lr: float = 1e-4  # the thesis' global learning rate (6.4.2)
    weight_decay: float = 0.0
    beta1: float = 0.5
    beta2: float = 0.999
    scheduler: Literal["none", "cosine"] = "none"


@dataclass
class EvalConfig:
    """Retrieval on held-out scenes: every graph against every image of a pool of at most
    ``candidates`` scenes (0: the whole split), and the attention-map figure."""

    candidates: int = 0
    batch_size: int = 64
    attention_images: int = 4
    graph_seed: int = 12345


@dataclass
class SGSMRunConfig:
    """``checkpoint_interval_s``: least seconds between epoch-end checkpoints (0: every epoch)."""

    seed: int = 0
    checkpoint_interval_s: float = 30.0
    data: LayoutDataConfig = field(default_factory=LayoutDataConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    gcn: GCNConfig = field(default_factory=GCNConfig)
    sgsm: SGSMConfig = field(default_factory=SGSMConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 200})
