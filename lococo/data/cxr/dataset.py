"""Open-I images + report tokens as a torch ``Dataset``, and the preparation a run needs.

:func:`prepare_openi` reads a dataset root, keeps the requested labels (default: every label
that occurs), optionally only frontal views (a view list), drops images without a label or a
PNG, splits by patient (seeded) and builds the report vocabulary from the TRAINING reports.
:class:`CXRDataset` yields ``{"image": 1×S×S float in [-1, 1], "tokens": L long,
"labels": K float, "index": int}``; :func:`collate` pads tokens (``tokens`` ``B×L``,
``lengths`` ``B``) and stacks the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from lococo.data.cxr.labels import LABELS, resolve_labels
from lococo.data.cxr.openi import Sample, image_samples, load_openi
from lococo.data.cxr.splits import patient_splits, split_indices
from lococo.data.cxr.text import Vocabulary, pad_sequences
from lococo.errors import DataError, LococoError


def load_grey(path: str | Path, size: int) -> Tensor:
    """``path`` as a ``1×size×size`` float tensor in ``[-1, 1]`` (grey, bilinear resize)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            grey = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
    except FileNotFoundError:
        raise DataError(path, "missing image file") from None
    except Exception as exc:
        raise DataError(path, f"cannot decode image ({exc})") from None
    pixels = torch.from_numpy(np.asarray(grey, dtype=np.float32))
    return (pixels / 127.5 - 1.0)[None]


@dataclass
class PreparedOpenI:
    """Samples per split, label names and the vocabulary of the training reports."""

    splits: dict[str, list[Sample]]
    patients: dict[str, list[str]]
    label_names: tuple[str, ...]
    vocab: Vocabulary
    dropped: dict[str, int]


def prepare_openi(
    root: str | Path,
    *,
    labels: Sequence[str] | None = None,
    view_list: str | Path | None = None,
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
    image_dir: str | Path | None = None,
    min_count: int = 1,
) -> PreparedOpenI:
    """Everything a classification run needs from a dataset root (see the module docstring)."""
    from lococo.data.cxr.views import read_view_list

    data = load_openi(root, image_dir)
    views = read_view_list(view_list) if view_list is not None else None
    everything = image_samples(data, LABELS, views=views, drop_unlabelled=False, drop_missing=False)
    if labels is None:
        counts = np.sum([s.labels for s in everything], axis=0) if everything else np.zeros(1)
        names = tuple(n for n, c in zip(LABELS, counts, strict=False) if c > 0)
    else:
        names = resolve_labels(labels)
    if not names:
        raise LococoError(f"{root}: no image carries any of the labels")
    keep = [LABELS.index(n) for n in names]
    samples = []
    dropped = {"missing_image": 0, "unlabelled": 0}
    for s in everything:
        y = s.labels[keep]
        if not s.image_path.is_file():
            dropped["missing_image"] += 1
        elif not y.any():
            dropped["unlabelled"] += 1
        else:
            samples.append(Sample(s.image_id, s.image_path, s.report_id, s.patient_id, s.text, y))
    if not samples:
        raise LococoError(f"{root}: no usable image (labelled, present, frontal when filtered)")
    patients = patient_splits([s.patient_id for s in samples], fractions, seed)
    index = split_indices([s.patient_id for s in samples], patients)
    splits = {name: [samples[i] for i in idx] for name, idx in index.items()}
    vocab = Vocabulary.build((s.text for s in splits.get("train", samples)), min_count)
    return PreparedOpenI(splits, patients, names, vocab, dropped)


class CXRDataset(Dataset):
    """Images (decoded once, cached) with their report's token ids and labels."""

    def __init__(
        self,
        samples: Sequence[Sample],
        vocab: Vocabulary,
        image_size: int,
        *,
        max_len: int = 96,
        shift: int = 0,
        seed: int = 0,
    ) -> None:
        self.samples = list(samples)
        self.image_size = image_size
        self.shift = shift
        self.seed = seed
        self.epoch = 0
        self.images = torch.stack([load_grey(s.image_path, image_size) for s in self.samples])
        self.tokens = [torch.tensor(vocab.encode(s.text, max_len)) for s in self.samples]
        self.labels = torch.from_numpy(
            np.stack([s.labels for s in self.samples]).astype(np.float32)
        )

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Shifts are drawn from ``(seed, epoch, index)``: the same in every loader worker
        process and after a resume, new every epoch."""
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict[str, Any]:
        image = self.images[i]
        if self.shift:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            dy, dx = rng.integers(-self.shift, self.shift + 1, size=2)
            image = torch.roll(image, (int(dy), int(dx)), dims=(1, 2))
        return {"image": image, "tokens": self.tokens[i], "labels": self.labels[i], "index": i}


def collate(batch: Sequence[dict[str, Any]]) -> dict[str, Tensor]:
    """Stack images and labels, pad tokens: ``image``, ``tokens``, ``lengths``, ``labels``."""
    tokens, lengths = pad_sequences([b["tokens"].tolist() for b in batch])
    return {
        "image": torch.stack([b["image"] for b in batch]),
        "tokens": tokens,
        "lengths": lengths,
        "labels": torch.stack([b["labels"] for b in batch]),
        "index": torch.tensor([b["index"] for b in batch]),
    }
