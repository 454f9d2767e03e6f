"""MRI data throughput: phantom writing, case reading, and the slice loader against a training step.

    python benchmarks/mri_loader.py [--cases 30] [--size 64] [--batch-size 16] [--workers 0]
        [--batches 50] [--methods all,cmim] [--steps 20]

Prints (and writes with ``--json FILE``): phantoms written per second, cases read and
normalised per second (cold, bypassing the in-memory cache), training slices per second
delivered by ``DataLoader(SliceDataset(train=True))``, and — when the segmentation models are
importable — training-step slices per second of each ``--methods`` model on the quick profile,
with the ratio loader / step (the loader must not be the bottleneck: ratio ≥ 2).

``loader_images_per_second`` is importable from other benchmarks (``from mri_loader import
loader_images_per_second`` with ``benchmarks/`` on ``sys.path``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset


def loader_images_per_second(
    dataset: Dataset, *, batch_size: int = 16, workers: int = 0, batches: int = 50
) -> float:
    """Images (slices or patches) per second that a ``DataLoader`` over ``dataset`` delivers.

    Iterates ``batches`` batches (after one warm-up batch, which also starts the workers) with
    shuffling, as training does; epochs restart when the dataset is shorter.
    """
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        persistent_workers=workers > 0,
    )
    done, images, start = -1, 0, 0.0
    while done < batches:
        for batch in loader:
            if done < 0:
                start = time.perf_counter()  # after the warm-up batch
            else:
                images += int(batch["image"].shape[0])
            done += 1
            if done >= batches:
                break
    return images / (time.perf_counter() - start)


def step_images_per_second(
    method: str, dataset: Dataset, data_dir: Path, *, batch_size: int, steps: int
) -> float:
    """Slices per second of optimiser steps (forward, loss terms, backward, Adam) of one
    segmentation method on the quick profile, fed from pre-collated batches."""
    from lococo.cmim.seg_config import SegConfig
    from lococo.cmim.seg_models import build_seg_model
    from lococo.config.loading import load_config

    cfg = load_config(
        SegConfig,
        system="cmim_seg",
        profile="quick",
        overrides={"data.path": str(data_dir), "method.name": method},
    )
    model = build_seg_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) >= steps + 2:
            break
    times = []
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        groups = batch["case"] if getattr(model, "uses_groups", False) else None
        terms = model.training_losses(batch["image"], batch["target"], groups)
        loss = sum(terms.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:  # two warm-up steps
            times.append(time.perf_counter() - start)
    return batch_size * len(times) / sum(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--methods", default="all,cmim", help="step methods ('' to skip)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from lococo.data.mri import load_mri
    from lococo.data.mri.slices import SliceDataset, load_volumes
    from lococo.data.mri.synth import synth_mri

    out: dict[str, Any] = {
        "cases": args.cases,
        "size": args.size,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "torch_threads": torch.get_num_threads(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "phantoms"
        info = synth_mri(root, cases=args.cases, size=args.size, progress=False)
        out["synth_cases_per_s"] = round(info.cases_per_second, 2)
        data = load_mri(root, "brats")
        start = time.perf_counter()
        volumes = load_volumes(data.cases, cache=False)
        out["read_cases_per_s"] = round(len(volumes) / (time.perf_counter() - start), 2)
        train = SliceDataset(volumes, train=True, size=len(volumes) * 64, seed=0, flip=True)
        out["loader_slices_per_s"] = round(
            loader_images_per_second(
                train, batch_size=args.batch_size, workers=args.workers, batches=args.batches
            ),
            1,
        )
        for method in filter(None, args.methods.split(",")):
            try:
                rate = step_images_per_second(
                    method, train, root, batch_size=args.batch_size, steps=args.steps
                )
            except ImportError as err:
                out[f"step_{method}_slices_per_s"] = f"unavailable ({err})"
                continue
            out[f"step_{method}_slices_per_s"] = round(rate, 1)
            out[f"loader_over_step_{method}"] = round(out["loader_slices_per_s"] / rate, 1)
    for key, value in out.items():
        print(f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
