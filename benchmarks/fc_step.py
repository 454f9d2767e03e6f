"""FC pretraining throughput: lococo (Lightning + engine) vs a bare PyTorch loop of the same model.

    python benchmarks/fc_step.py [--image-size 64] [--epochs 3] [--repeats 3] [--encoder basic]

Both sides use the same cached ZSL dataset, DataLoader settings, encoder + linear head and Adam;
they alternate ``--repeats`` times and the median epoch time of each is reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from _common import quick_config, synthetic_zsl
from torch.utils.data import DataLoader

from lococo.data.zsl.images import ZSLImageDataset
from lococo.engine.run_dir import RunDir
from lococo.engine.trainer import build_trainer
from lococo.zfs.config import ZFSConfig
from lococo.zfs.data import load_zsl_for
from lococo.zfs.pretrain import build_method, seen_label_map


class EpochTimer(L.Callback):
    """Epoch times from one epoch start to the next (so per-epoch checkpointing is included)."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self.marks.append(time.perf_counter())

    def on_train_end(self, trainer, module) -> None:
        self.marks.append(time.perf_counter())

    @property
    def times(self) -> list[float]:
        return [b - a for a, b in zip(self.marks[:-1], self.marks[1:], strict=True)]


def lococo_epochs(cfg: ZFSConfig, data, loader: DataLoader, epochs: int, out: Path) -> list[float]:
    L.seed_everything(0, verbose=False)
    module = build_method(cfg, data)
    timer = EpochTimer()
    trainer = build_trainer(
        RunDir(out),
        {**cfg.trainer, "max_epochs": epochs},
        checkpoint_interval_s=cfg.checkpoint_interval_s,
        callbacks=[timer],
        progress=False,
    )
    trainer.fit(module, loader)
    return timer.times


def bare_epochs(cfg: ZFSConfig, data, loader: DataLoader, epochs: int) -> list[float]:
    L.seed_everything(0, verbose=False)
    module = build_method(cfg, data)  # same encoder + head; plain loop below
    encoder, head = module.encoder, module.classifier
    params = list(encoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.optim.lr)
    encoder.train()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for images, targets, _ in loader:
            loss = F.cross_entropy(head(encoder(images).global_), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--encoder", default="basic")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = synthetic_zsl(Path(tmp) / "zsl", args.image_size)
        cfg = quick_config(
            root,
            **{
                "data.image_size": args.image_size,
                "encoder.name": args.encoder,
                "data.batch_size": args.batch_size,
                "optim.scheduler": "none",
            },
        )
        data = load_zsl_for(cfg.data)
        dataset = ZSLImageDataset(
            data, data.trainval, args.image_size, train=True, labels_map=seen_label_map(data)
        )
        loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=True)
        images_per_epoch = len(loader) * args.batch_size
        ours, bare = [], []
        for r in range(args.repeats):
            bare += bare_epochs(cfg, data, loader, args.epochs)[1:]  # first epoch = warm-up
            ours += lococo_epochs(cfg, data, loader, args.epochs, Path(tmp) / f"run{r}")[1:]
    t_ours, t_bare = statistics.median(ours), statistics.median(bare)
    print(
        f"encoder={args.encoder} image_size={args.image_size} batch={args.batch_size} "
        f"threads={torch.get_num_threads()} images/epoch={images_per_epoch}"
    )
    print(
        f"bare PyTorch loop : {images_per_epoch / t_bare:8.1f} img/s (median epoch {t_bare:.3f} s)"
    )
    print(
        f"lococo (Lightning): {images_per_epoch / t_ours:8.1f} img/s (median epoch {t_ours:.3f} s)"
    )
    print(f"ratio lococo / bare = {t_bare / t_ours:.3f}")


if __name__ == "__main__":
    main()
