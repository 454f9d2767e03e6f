"""SGSM training step vs layout data loading, in one process (does loading keep up?).

    python benchmarks/sgsm_step.py [--data DIR --format coco-stuff|vg] [--images 1000]
        [--profile quick|paper] [--steps 30] [--threads 1] [key=value ...]

Without ``--data`` it writes ``--images`` synthetic scenes (64 px) to a temporary folder.
It times ``--steps`` SGSM training steps (graphs + both encoders + ``L_SGSM`` + backward + Adam)
on batches already in memory, then the profile's loader (cached and uncached) over the train
split, and prints both rates in images/s and the ratio loader/step (target ≥ 2).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from layout_loader import loader_images_per_second
from torch.utils.data import DataLoader

from lococo.config.loading import load_config, to_dict
from lococo.data.layout.dataset import LayoutDataset
from lococo.data.layout.synth import synth_layout
from lococo.ocgan.config import SGSMRunConfig
from lococo.ocgan.sgsm_train import SGSMModule, layout_dataset, load_layout_for


def step_images_per_second(module: SGSMModule, loader: DataLoader, steps: int) -> float:
    """Training images/s of ``steps`` SGSM steps on pre-loaded batches (one warm-up step)."""
    batches = []
    while len(batches) < steps + 1:
        batches.extend(loader)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-4)
    module.model.train()
    seen, start = 0, 0.0
    for i, batch in enumerate(batches[: steps + 1]):
        if i == 1:
            start, seen = time.perf_counter(), 0
        graphs = module.model.graphs(batch["boxes"], batch["labels"], batch["valid"])
        out = module.model.loss(
            module.model.encode_graphs(graphs), module.model.encode_images(batch["image"])
        )
        optimizer.zero_grad()
        out.total.backward()
        optimizer.step()
        seen += batch["image"].shape[0]
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="dataset root (default: synthetic scenes)")
    parser.add_argument("--format", default="coco-stuff", choices=("coco-stuff", "vg"))
    parser.add_argument("--images", type=int, default=1000, help="synthetic scenes to write")
    parser.add_argument("--profile", default="quick", choices=("quick", "paper"))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            root = Path(tmp) / "scenes"
            synth_layout(root, seed=0, images=args.images, image_size=64, progress=False)
        overrides = {"data.path": str(root), "data.format": args.format}
        overrides.update(o.split("=", 1) for o in args.overrides)  # type: ignore[arg-type]
        cfg = load_config(SGSMRunConfig, system="sgsm", profile=args.profile, overrides=overrides)
        data = load_layout_for(cfg)
        cached = layout_dataset(data, cfg.data.train_split, cfg, train=True, progress=False)
        module = SGSMModule(to_dict(cfg), data.class_names)
        loader = DataLoader(cached, batch_size=cfg.data.batch_size, shuffle=True, drop_last=True)
        step = step_images_per_second(module, loader, args.steps)
        uncached = LayoutDataset(
            data,
            cfg.data.train_split,
            cfg.data.image_size,
            max_objects=cfg.data.max_objects,
            cache=False,
            progress=False,
        )
        print(
            f"{args.profile} profile, {cfg.sgsm.image_encoder}, batch {cfg.data.batch_size}, "
            f"{cfg.data.image_size} px, {args.threads} thread(s)"
        )
        print(f"SGSM training step: {step:8.1f} images/s")
        for name, dataset in (("cached", cached), ("uncached", uncached)):
            rate = loader_images_per_second(dataset, cfg.data.batch_size, 0, epochs=2)
            print(f"loader ({name:8s}): {rate:8.1f} images/s  = {rate / step:5.1f}x the step")


if __name__ == "__main__":
    main()
