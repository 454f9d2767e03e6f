"""Feature extractors for the generation metrics, read from local files only.

* :func:`load_fid_inception` builds the FID Inception-V3 (the TensorFlow 2015-12-05 graph
  ported to PyTorch by torch-fidelity: 2048-d pool features, 1008-way logits) and fills it from
  a local weights file, checked key by key before use. Nothing is ever downloaded.
* :func:`random_fid_inception` is the same architecture with seeded random weights (tests and
  speed measurements; its numbers are not comparable with anything).
* :func:`extract` runs any :class:`FeatureExtractor` over ``uint8`` image batches (on the GPU
  when one is allowed), with a progress bar; :func:`folder_batches` reads an image folder.

Images are resized to 299×299 inside the network exactly as the TensorFlow reference does
(torch-fidelity's TF-1.x-compatible bilinear interpolation of the ``uint8`` input, then
``(x - 128) / 128``). The Inception Score uses the logits without the final bias
(``logits_unbiased``), as the original Inception Score code did.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from lococo.errors import DataError, LococoError

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_HASH_PREFIX = "6726825d"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"
WEIGHTS_ENV = "LOCOCO_WEIGHTS_DIR"
FID_EXTRACTOR = "inception-v3-fid"
INCEPTION_RESIZE = "299x299, TF-1.x bilinear (torch-fidelity), uint8 input"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_FEATURES = ["2048", "logits_unbiased"]


class FeatureExtractor(Protocol):
    """What the metrics need of a network: ``uint8`` ``N×3×H×W`` images in, ``N×D`` features
    and ``N×C`` logits (or ``None``) out, plus the facts results record about it."""

    name: str
    comparable: bool
    feature_dim: int

    def info(self) -> dict[str, Any]: ...

    def to(self, device: torch.device) -> Any: ...

    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor | None]: ...


def _inception_class() -> type[torch.nn.Module]:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _InceptionV3(FeatureExtractorInceptionV3):
        """torch-fidelity's network built without reading any file: its constructor loads
        the state dict it is given, and an empty one keeps the default initialisation."""

        def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False):
            if not state_dict:
                return torch.nn.modules.module._IncompatibleKeys([], [])
            return super().load_state_dict(state_dict, strict=strict, assign=assign)

    return _InceptionV3


def _empty_state() -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save({}, buffer)
    buffer.seek(0)
    return buffer


class InceptionExtractor(torch.nn.Module):
    """The FID Inception-V3 as a :class:`FeatureExtractor` (2048-d features, 1008 logits)."""

    feature_dim = 2048

    def __init__(
        self,
        state_dict: dict[str, Tensor] | None = None,
        *,
        name: str = FID_EXTRACTOR,
        comparable: bool = False,
        weights: Path | None = None,
        sha256: str | None = None,
    ) -> None:
        super().__init__()
        self.net = _inception_class()("lococo-fid-inception", _FEATURES, _empty_state())
        if state_dict is not None:
            self.net.load_state_dict(state_dict)
        self.name = name
        self.comparable = comparable
        self.weights = weights
        self.sha256 = sha256

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "extractor": self.name,
            "comparable": self.comparable,
            "resize": INCEPTION_RESIZE,
            "feature_dim": self.feature_dim,
        }
        if self.weights is not None:
            out["weights"] = str(self.weights)
            out["weights_sha256"] = self.sha256
            out["weights_hash_matches_name"] = bool(
                self.sha256 and self.sha256.startswith(WEIGHTS_HASH_PREFIX)
            )
        return out

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        features, logits = self.net(images)
        return features, logits


def random_fid_inception(seed: int = 0) -> InceptionExtractor:
    """The FID architecture with seeded random weights; not comparable with anything.

    Convolutions get He-normal weights (fan-in, ReLU gain) so that activations keep their
    scale through the ~50 layers (PyTorch's default initialisation shrinks them to ~1e-8).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        extractor = InceptionExtractor(name=f"inception-v3-random-init(seed={seed})")
        for module in extractor.net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return extractor


def missing_weights_message(path: Path | None) -> str:
    where = f"{path}: file not found" if path is not None else "FID Inception weights not found"
    return (
        f"{where}; put {WEIGHTS_FILE} (torch-fidelity's port of the TF 2015-12-05 Inception, "
        f"name carries the hash prefix {WEIGHTS_HASH_PREFIX}; from {WEIGHTS_URL}) in "
        f"${WEIGHTS_ENV} or pass --weights FILE"
    )


def resolve_weights(weights: str | Path | None = None) -> Path:
    """The weights file: ``weights`` if given, else ``$LOCOCO_WEIGHTS_DIR/<WEIGHTS_FILE>``."""
    if weights is not None:
        path = Path(weights)
    elif os.environ.get(WEIGHTS_ENV):
        path = Path(os.environ[WEIGHTS_ENV]) / WEIGHTS_FILE
    else:
        raise LococoError(missing_weights_message(None))
    if not path.is_file():
        raise LococoError(missing_weights_message(path))
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_state_dict(path: Path, state: Any, reference: dict[str, Tensor]) -> None:
    """Raise a one-line :class:`DataError` unless ``state`` has ``reference``'s keys and shapes
    (``num_batches_tracked`` counters may be absent)."""
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DataError(path, "not a PyTorch state dict of tensors")
    missing = [k for k in reference if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in reference]
    wrong = [k for k in reference if k in state and state[k].shape != reference[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(
                f"{len(wrong)} shape mismatches (e.g. {k}: {tuple(state[k].shape)} "
                f"instead of {tuple(reference[k].shape)})"
            )
        raise DataError(
            path, f"not the FID Inception-V3 weights ({WEIGHTS_FILE}): " + ", ".join(parts)
        )


def load_fid_inception(weights: str | Path | None = None) -> InceptionExtractor:
    """The FID Inception-V3 with weights from ``weights`` or ``$LOCOCO_WEIGHTS_DIR``.

    The file is read with ``torch.load(weights_only=True)`` (no pickled code runs) and checked
    against the architecture before it is loaded; its SHA-256 is recorded in every result.
    """
    path = resolve_weights(weights)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        problem = f"not a readable PyTorch weights file ({type(exc).__name__})"
        raise DataError(path, problem) from None
    extractor = InceptionExtractor(
        name=FID_EXTRACTOR, comparable=True, weights=path.resolve(), sha256=sha256_of(path)
    )
    check_state_dict(path, state, extractor.net.state_dict())
    extractor.net.load_state_dict(state, strict=False)
    return extractor


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: the GPU when one is available, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class Extracted:
    """Per-image outputs of an extractor, in input order (float32 on the CPU)."""

    features: np.ndarray
    logits: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.features.shape[0])


def extract(
    extractor: FeatureExtractor,
    batches: Iterable[Tensor],
    total: int | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    desc: str = "features",
) -> Extracted:
    """Run ``extractor`` over ``uint8`` ``N×3×H×W`` batches (sizes may differ between batches)."""
    from tqdm.auto import tqdm

    dev = pick_device(device) if isinstance(device, str) else device
    extractor.to(dev)
    feats: list[Tensor] = []
    logits: list[Tensor] = []
    with tqdm(total=total, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for batch in batches:
            if batch.dtype != torch.uint8 or batch.dim() != 4 or batch.shape[1] != 3:
                raise ValueError(f"batches must be uint8 N×3×H×W, got {batch.dtype} {batch.shape}")
            f, z = extractor(batch.to(dev, non_blocking=True))
            feats.append(f.float().cpu())
            if z is not None:
                logits.append(z.float().cpu())
            bar.update(batch.shape[0])
    if not feats:
        raise ValueError("no images to extract features from")
    return Extracted(
        features=torch.cat(feats).numpy(),
        logits=torch.cat(logits).numpy() if logits else None,
        info=extractor.info(),
    )


def list_images(folder: str | Path) -> list[Path]:
    """Every PNG/JPEG file under ``folder`` (any nesting), sorted; at least 2 of them."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(root, "not an image folder (missing or not a directory)")
    try:
        paths = sorted(
            p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
    except OSError as exc:
        raise DataError(root, f"cannot read folder ({exc.strerror or exc})") from None
    if len(paths) < 2:
        found = "no PNG/JPEG images" if not paths else "only 1 image"
        raise DataError(root, f"{found} (searched all subfolders); at least 2 are needed")
    return paths


def load_image(path: Path) -> Tensor:
    """Decode ``path`` as RGB at its own size: ``uint8`` ``3×H×W``."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            rgb = np.array(img.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... on bad files
        raise DataError(path, f"cannot decode image ({exc})") from None
    return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()


def folder_batches(paths: Sequence[Path], batch_size: int) -> Iterator[Tensor]:
    """Decoded images in ``paths`` order, stacked into batches of at most ``batch_size``; a
    batch ends early where the image size changes (every image keeps its own size)."""
    from lococo.data.images import threaded_map

    pending: list[Tensor] = []
    chunk = max(4 * batch_size, 64)  # decode ahead a few batches at a time, not the whole folder
    for start in range(0, len(paths), chunk):
        for image in threaded_map(load_image, paths[start : start + chunk], progress=False):
            if pending and (len(pending) == batch_size or image.shape != pending[0].shape):
                yield torch.stack(pending)
                pending = []
            pending.append(image)
    if pending:
        yield torch.stack(pending)
