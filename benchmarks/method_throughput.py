"""Pretraining throughput and peak memory of every ZFS method, each in its own process.

    python benchmarks/method_throughput.py [--image-size 64] [--encoder basic] [--steps 30]
        [--methods fc,vae,...] [--accelerator cpu|gpu] [--width 0.5]

Each method trains ``--steps`` optimiser steps (after 3 warm-up steps; AAE takes two per
batch) through lococo's trainer on synthetic data; images/s counts source images (AMDIM's two
views and CMDIM's partner images count once). Peak memory is the process' maximum resident
set size on CPU and ``torch.cuda.max_memory_allocated`` on GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import quick_config

from lococo.zfs.config import METHODS


def measure(method: str, data: str, args: argparse.Namespace) -> dict:
    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    from lococo.data.zsl.images import ZSLImageDataset
    from lococo.engine.run_dir import RunDir
    from lococo.engine.trainer import build_trainer
    from lococo.zfs.data import load_zsl_for
    from lococo.zfs.pretrain import build_method, seen_label_map, training_dataset

    cfg = quick_config(
        data,
        **{
            "data.image_size": args.image_size,
            "encoder.name": args.encoder,
            "encoder.width": args.width,
            "method.name": method,
            "data.batch_size": args.batch_size,
        },
    )
    zsl = load_zsl_for(cfg.data)
    module = build_method(cfg, zsl)
    dataset = ZSLImageDataset(
        zsl,
        zsl.trainval,
        args.image_size,
        train=True,
        labels_map=seen_label_map(zsl),
        progress=False,
    )
    dataset = training_dataset(module, dataset)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=True)
    marks: list[float] = []

    class Timer(L.Callback):
        def on_train_batch_end(self, *a) -> None:
            marks.append(time.perf_counter())

    warmup = 3
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(
            RunDir(Path(tmp)),
            {
                "accelerator": args.accelerator,
                "devices": 1,
                "max_steps": args.steps + warmup,
                "max_epochs": -1,
            },
            checkpoint_interval_s=1e9,
            callbacks=[Timer()],
            progress=False,
        )
        if args.accelerator == "gpu":
            torch.cuda.reset_peak_memory_stats()
        trainer.fit(module, loader)
    seconds = marks[-1] - marks[warmup - 1]
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if args.accelerator == "gpu"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "method": method,
        "images_per_s": (len(marks) - warmup) * args.batch_size / seconds,
        "peak_mem_mib": peak,
        "params_m": sum(p.numel() for p in module.parameters()) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--encoder", default="basic")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.data, args)))
        return
    from lococo.data.zsl.synth import synth_zsl

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "zsl"
        synth_zsl(
            data,
            seed=0,
            classes=50,
            unseen=10,
            images_per_class=40,
            image_size=args.image_size,
            progress=False,
        )
        rows = []
        for method in args.methods.split(","):
            cmd = [sys.executable, __file__, "--one", method, "--data", str(data), *sys.argv[1:]]
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            if out.returncode != 0:
                print(f"{method}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"encoder={args.encoder} width={args.width} image_size={args.image_size} "
        f"batch={args.batch_size} accelerator={args.accelerator}"
    )
    print(f"{'method':10s} {'images/s':>9s} {'peak MiB':>9s} {'params M':>9s}")
    for r in rows:
        print(
            f"{r['method']:10s} {r['images_per_s']:9.1f} {r['peak_mem_mib']:9.0f} "
            f"{r['params_m']:9.2f}"
        )


if __name__ == "__main__":
    main()
