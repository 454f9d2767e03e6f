"""Layout data loading throughput: decode + resize + padded layout tensors through a DataLoader.

    python benchmarks/layout_loader.py [--data DIR --format coco-stuff|vg] [--images 2000]
        [--image-size 64] [--batch-size 64] [--workers 0 2] [--epochs 3]

Without ``--data`` it writes ``--images`` synthetic scenes to a temporary folder first. It
measures, on the train split, images/s of (a) the cached dataset (images decoded and resized
once at construction; epochs only batch tensors), (b) the uncached dataset (every item decodes
and resizes its image), each with and without instance masks, for each ``--workers`` value;
plus the one-time decode rate of the cache. :func:`loader_images_per_second` is reusable, e.g.
to compare with a training step's images/s in one process.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from lococo.data.layout import load_layout
from lococo.data.layout.dataset import LayoutDataset
from lococo.data.layout.synth import synth_layout


def loader_images_per_second(
    dataset: Dataset, batch_size: int = 64, num_workers: int = 0, epochs: int = 3
) -> float:
    """Median images/s over ``epochs`` full passes of a shuffling DataLoader (the first pass,
    which starts the workers, is not counted when ``epochs > 1``)."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        drop_last=False,
    )
    rates = []
    for _ in range(epochs + (1 if epochs > 1 else 0)):
        start, seen = time.perf_counter(), 0
        for batch in loader:
            seen += batch["image"].shape[0]
        rates.append(seen / (time.perf_counter() - start))
    return statistics.median(rates[1:] if len(rates) > 1 else rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="dataset root (default: synthetic scenes)")
    parser.add_argument("--format", default="coco-stuff", choices=("coco-stuff", "vg"))
    parser.add_argument("--images", type=int, default=2000, help="synthetic scenes to write")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            root = Path(tmp) / "scenes"
            info = synth_layout(root, seed=0, images=args.images, progress=False)
            print(f"synthetic scenes: {info.num_images} written at {info.images_per_second:.0f}/s")
        data = load_layout(root, args.format)
        print(
            f"{args.format}: {len(data.splits['train'])} train images, image size {args.image_size}"
        )
        print(f"{'cache':<6} {'masks':<6} {'workers':>7} {'images/s':>10}")
        for masks in (False, True):
            start = time.perf_counter()
            cached = LayoutDataset(
                data, "train", args.image_size, masks=masks, flip=True, progress=False
            )
            build = len(cached) / (time.perf_counter() - start)
            print(f"(building the cache{' with masks' if masks else ''}: {build:.0f} images/s)")
            uncached = LayoutDataset(
                data, "train", args.image_size, masks=masks, flip=True, cache=False
            )
            for workers in args.workers:
                for name, ds in (("yes", cached), ("no", uncached)):
                    rate = loader_images_per_second(ds, args.batch_size, workers, args.epochs)
                    print(f"{name:<6} {str(masks).lower():<6} {workers:>7} {rate:>10.0f}")
    print(f"command: python benchmarks/layout_loader.py {' '.join(_argv())}")


def _argv() -> list[str]:
    import sys

    return sys.argv[1:]


if __name__ == "__main__":
    main()
