"""Object-level generation metrics: object crops, SceneFID (thesis 6.4.4) and CA.

* :func:`object_crops` cuts every box of every image out with ``torchvision.ops.roi_align``
  (``aligned=True``, adaptive sampling: bilinear where a box is enlarged, the average of
  ``ceil(box / size)`` bilinear samples per output pixel where it is shrunk) and resizes it to
  ``size × size`` (224 for SceneFID).
* :func:`scene_fid` is the FID between the crops of real images' boxes and the crops of
  generated images from the same layouts.
* CA (classification accuracy): :func:`train_crop_classifier` trains a torchvision ResNet
  (depth configurable; ResNet-101 in the thesis) on object crops of real training images;
  :func:`crop_accuracy` is its accuracy on crops of generated images or of real test images.
  :func:`ca_classifier` keeps the trained classifier in an evaluation directory and reuses it.
* :class:`ClassifierExtractor` makes a trained crop classifier a substitute feature extractor
  for FID/KID/IS on synthetic data; its numbers are marked ``comparable: false``.

Boxes are ``K×4`` tensors of normalised ``(x0, y0, x1, y1)`` in ``[0, 1]`` per image.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lococo.errors import DataError, DivergenceError, LococoError
from lococo.metrics.generation import feature_statistics, frechet_distance
from lococo.metrics.inception import FeatureExtractor, extract

SCENE_FID_CROP = 224
CROP_METHOD = "torchvision.ops.roi_align(aligned=True, sampling_ratio=-1)"
RESNET_DEPTHS = (18, 34, 50, 101, 152)
CLASSIFIER_FILE = "ca_classifier.pt"

Images = Tensor | Sequence[Tensor]


def _check_boxes(boxes: Tensor, index: int) -> Tensor:
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes of image {index} must be K×4, got shape {tuple(boxes.shape)}")
    b = boxes.detach().to(torch.float64)
    if b.numel() and (
        not torch.isfinite(b).all()
        or (b < 0).any()
        or (b > 1).any()
        or (b[:, 2] <= b[:, 0]).any()
        or (b[:, 3] <= b[:, 1]).any()
    ):
        raise ValueError(
            f"boxes of image {index} must be normalised (x0, y0, x1, y1) in [0, 1] with x0 < x1 "
            "and y0 < y1"
        )
    return b


def object_crops(images: Images, boxes: Sequence[Tensor], size: int = SCENE_FID_CROP) -> Tensor:
    """Every box of every image resized to ``size × size``: ``uint8`` ``M×3×size×size``.

    ``images`` is ``N×3×H×W`` (or a sequence of ``3×H×W``; sizes may differ), ``uint8`` or float
    in ``[0, 255]``; the crops come in image order, then box order.
    """
    from torchvision.ops import roi_align

    if len(images) != len(boxes):
        raise ValueError(f"{len(images)} images but {len(boxes)} box lists")
    crops: list[Tensor] = []
    for i, (image, box) in enumerate(zip(images, boxes, strict=True)):
        b = _check_boxes(box, i)
        if not len(b):
            continue
        h, w = image.shape[-2:]
        scale = torch.tensor([w, h, w, h], dtype=torch.float64)
        rois = torch.cat([torch.zeros(len(b), 1, dtype=torch.float64), b * scale], dim=1)
        out = roi_align(
            image[None].float(), rois.float(), output_size=size, aligned=True, sampling_ratio=-1
        )
        crops.append(out.round().clamp(0, 255).to(torch.uint8))
    if not crops:
        return torch.empty(0, 3, size, size, dtype=torch.uint8)
    return torch.cat(crops)


def crop_batches(
    images: Images, boxes: Sequence[Tensor], size: int, images_per_batch: int = 16
) -> Iterator[Tensor]:
    """:func:`object_crops` of ``images_per_batch`` images at a time (bounded memory)."""
    for start in range(0, len(images), images_per_batch):
        crops = object_crops(
            images[start : start + images_per_batch], boxes[start : start + images_per_batch], size
        )
        if len(crops):
            yield crops


def scene_fid(
    extractor: FeatureExtractor,
    real_images: Images,
    real_boxes: Sequence[Tensor],
    fake_images: Images,
    fake_boxes: Sequence[Tensor],
    *,
    crop_size: int = SCENE_FID_CROP,
    device: str | torch.device = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """SceneFID: FID between real and generated object crops (every box, ``crop_size``²)."""
    counts = [sum(len(b) for b in real_boxes), sum(len(b) for b in fake_boxes)]
    if min(counts) < 2:
        raise ValueError(f"SceneFID needs at least 2 boxes on each side, got {counts}")
    feats = [
        extract(
            extractor,
            crop_batches(images, boxes, crop_size),
            total=count,
            device=device,
            progress=progress,
            desc=f"{side} crops",
        )
        for side, images, boxes, count in (
            ("real", real_images, real_boxes, counts[0]),
            ("generated", fake_images, fake_boxes, counts[1]),
        )
    ]
    mu1, s1 = feature_statistics(feats[0].features)
    mu2, s2 = feature_statistics(feats[1].features)
    return {
        "scene_fid": frechet_distance(mu1, s1, mu2, s2),
        "crops_real": counts[0],
        "crops_generated": counts[1],
        "crop_size": crop_size,
        "crop_method": CROP_METHOD,
        **extractor.info(),
    }


@dataclass
class CAConfig:
    """Settings of the CA crop classifier (the thesis uses ResNet-101; quick runs use 18)."""

    depth: int = 18
    input_size: int = 64
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.depth not in RESNET_DEPTHS:
            raise LococoError(f"CA depth must be one of {RESNET_DEPTHS}, got {self.depth}")
        if self.input_size < 32:
            raise LococoError(f"CA input_size must be >= 32, got {self.input_size}")


class CropClassifier(nn.Module):
    """A torchvision ResNet on ``uint8`` crops: resized to ``input_size``, scaled to [-1, 1]."""

    def __init__(self, depth: int, num_classes: int, input_size: int) -> None:
        super().__init__()
        import torchvision.models as tvm

        if depth not in RESNET_DEPTHS:
            raise LococoError(f"ResNet depth must be one of {RESNET_DEPTHS}, got {depth}")
        self.depth, self.num_classes, self.input_size = depth, num_classes, input_size
        self.net = getattr(tvm, f"resnet{depth}")(weights=None, num_classes=num_classes)

    def prepare(self, images: Tensor) -> Tensor:
        x = images.float()
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=self.input_size, mode="bilinear", antialias=True)
        return x / 127.5 - 1.0

    def features(self, images: Tensor) -> Tensor:
        """Pooled backbone features (the input of the last linear layer)."""
        net = self.net
        x = self.prepare(images)
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        x = net.layer4(net.layer3(net.layer2(net.layer1(x))))
        return torch.flatten(net.avgpool(x), 1)

    def forward(self, images: Tensor) -> Tensor:
        return self.net.fc(self.features(images))


def train_crop_classifier(
    crops: Tensor,
    labels: Tensor,
    num_classes: int,
    config: CAConfig | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
) -> CropClassifier:
    """Train a :class:`CropClassifier` on ``uint8`` crops (Adam, random horizontal flips)."""
    from tqdm.auto import tqdm

    from lococo.metrics.inception import pick_device

    cfg = config or CAConfig()
    if crops.dtype != torch.uint8 or crops.dim() != 4 or len(crops) != len(labels):
        raise ValueError("crops must be uint8 M×3×H×W with one label each")
    if len(crops) < 2 or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"need >= 2 crops with labels in [0, {num_classes})")
    dev = pick_device(device) if isinstance(device, str) else device
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = CropClassifier(cfg.depth, num_classes, cfg.input_size).to(dev)
    small = _resize_uint8(crops, cfg.input_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(small) / cfg.batch_size)
    model.train()
    with tqdm(total=steps, desc="CA classifier", disable=not progress, leave=False) as bar:
        for _ in range(cfg.epochs):
            order = torch.randperm(len(small), generator=gen)
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                if len(idx) < 2:  # BatchNorm needs two samples
                    continue
                x, y = small[idx], labels[idx].long()
                flip = torch.rand(len(idx), generator=gen) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
                loss = F.cross_entropy(model(x.to(dev)), y.to(dev))
                if not torch.isfinite(loss):
                    raise DivergenceError("CA classifier loss became NaN/Inf; lower ca.lr")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval().cpu()


def _resize_uint8(crops: Tensor, size: int) -> Tensor:
    if crops.shape[-2:] == (size, size):
        return crops
    out = [
        F.interpolate(chunk.float(), size=size, mode="bilinear", antialias=True)
        .round()
        .clamp(0, 255)
        .to(torch.uint8)
        for chunk in crops.split(256)
    ]
    return torch.cat(out)


@torch.no_grad()
def crop_accuracy(
    classifier: CropClassifier,
    crops: Tensor,
    labels: Tensor,
    batch_size: int = 128,
    device: str | torch.device = "auto",
) -> float:
    """Top-1 accuracy of ``classifier`` on ``uint8`` crops."""
    from lococo.metrics.inception import pick_device

    if len(crops) == 0 or len(crops) != len(labels):
        raise ValueError("need at least one crop and one label per crop")
    dev = pick_device(device) if isinstance(device, str) else device
    classifier.to(dev).eval()
    correct = 0
    for start in range(0, len(crops), batch_size):
        pred = classifier(crops[start : start + batch_size].to(dev)).argmax(1).cpu()
        correct += int((pred == labels[start : start + batch_size].long()).sum())
    classifier.cpu()
    return correct / len(crops)


def data_fingerprint(crops: Tensor, labels: Tensor) -> str:
    """SHA-256 of the training crops and labels (tells a reused classifier's data apart)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(crops.numpy()).tobytes())
    digest.update(np.ascontiguousarray(labels.long().numpy()).tobytes())
    return digest.hexdigest()


def save_classifier(path: Path, classifier: CropClassifier, meta: dict[str, Any]) -> None:
    from lococo.io import atomic_open

    blob = {
        "state_dict": classifier.state_dict(),
        "meta": {
            **meta,
            "depth": classifier.depth,
            "num_classes": classifier.num_classes,
            "input_size": classifier.input_size,
        },
    }
    with atomic_open(path, "wb") as handle:
        torch.save(blob, handle)


def load_classifier(path: str | Path) -> tuple[CropClassifier, dict[str, Any]]:
    """A classifier saved by :func:`save_classifier` and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "CA classifier file not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta = dict(blob["meta"])
        sizes = (int(meta["depth"]), int(meta["num_classes"]), int(meta["input_size"]))
        model = CropClassifier(*sizes)
        model.load_state_dict(blob["state_dict"])
    except LococoError:
        raise
    except Exception as exc:
        raise DataError(path, f"not a lococo CA classifier ({type(exc).__name__})") from None
    return model.eval(), meta


def ca_classifier(
    eval_dir: str | Path,
    train_crops: Tensor,
    train_labels: Tensor,
    num_classes: int,
    config: CAConfig | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
) -> tuple[CropClassifier, dict[str, Any]]:
    """The CA classifier of ``eval_dir``: loaded when one trained on the same crops with the
    same settings is there, else trained and saved (atomically) to ``eval_dir/ca_classifier.pt``.
    """
    cfg = config or CAConfig()
    path = Path(eval_dir) / CLASSIFIER_FILE
    meta = {"config": asdict(cfg), "train_data": data_fingerprint(train_crops, train_labels)}
    meta["train_crops"] = len(train_crops)
    if path.exists():
        model, saved = load_classifier(path)
        same = all(saved.get(k) == meta[k] for k in ("config", "train_data"))
        if not same or saved.get("num_classes") != num_classes:
            raise LococoError(
                f"{path}: trained with other settings or other training crops "
                f"({saved.get('config')}); remove it to retrain or use another evaluation directory"
            )
        return model, {**saved, "reused": True, "path": str(path)}
    model = train_crop_classifier(train_crops, train_labels, num_classes, cfg, device, progress)
    save_classifier(path, model, meta)
    return model, {**meta, "num_classes": num_classes, "reused": False, "path": str(path)}


def classification_accuracy(
    classifier: CropClassifier,
    fake_crops: Tensor,
    fake_labels: Tensor,
    real_test_crops: Tensor | None = None,
    real_test_labels: Tensor | None = None,
    device: str | torch.device = "auto",
) -> dict[str, Any]:
    """CA on generated crops and, when given, on real test crops (table 6.1's "real" row)."""
    out: dict[str, Any] = {
        "ca_generated": crop_accuracy(classifier, fake_crops, fake_labels, device=device),
        "crops_generated": len(fake_crops),
        "classifier": f"resnet{classifier.depth}",
        "classifier_input_size": classifier.input_size,
        "crop_method": CROP_METHOD,
    }
    if real_test_crops is not None and real_test_labels is not None:
        out["ca_real_test"] = crop_accuracy(
            classifier, real_test_crops, real_test_labels, device=device
        )
        out["crops_real_test"] = len(real_test_crops)
    return out


class ClassifierExtractor(nn.Module):
    """A trained :class:`CropClassifier` as a substitute feature extractor (not comparable)."""

    comparable = False

    def __init__(self, classifier: CropClassifier, source: str = "in memory") -> None:
        super().__init__()
        self.classifier = classifier.eval()
        self.feature_dim = int(classifier.net.fc.in_features)
        self.name = f"lococo-ca-resnet{classifier.depth}"
        self.source = source

    @classmethod
    def from_file(cls, path: str | Path) -> ClassifierExtractor:
        from lococo.metrics.inception import sha256_of

        model, _ = load_classifier(path)
        return cls(model, source=f"{Path(path).resolve()} (sha256 {sha256_of(Path(path))})")

    def info(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "comparable": self.comparable,
            "extractor_source": self.source,
            "resize": f"{self.classifier.input_size}x{self.classifier.input_size}, bilinear "
            "antialiased",
            "feature_dim": self.feature_dim,
        }

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        feats = self.classifier.features(images)
        return feats, self.classifier.net.fc(feats)
