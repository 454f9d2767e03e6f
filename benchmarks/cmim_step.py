"""CMIM segmentation training step vs the plain U-Net of the same size (slices per second).

    python benchmarks/cmim_step.py [--size 32] [--batch 8] [--steps 20] [--repeats 3]
                                   [--profile quick] [key=value ...]

Both models come from the same config (``--profile`` + overrides): CMIM (``method.name=cmim``:
single-modality inputs + the full input through one U-Net, plus the local–local JSD critics)
and the four-modality U-Net (``method.name=all``: one pass, segmentation loss only). They
train on the same phantom slices (``lococo data synth mri --size``) with Adam, alternating
``--repeats`` times; the median step time of each is reported as input slices per second
(a CMIM step also runs the extra single-modality passes on those slices).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from lococo.cmim.seg_config import SegConfig
from lococo.cmim.seg_data import load_splits, slice_dataset
from lococo.cmim.seg_models import build_seg_model
from lococo.config.loading import load_config, parse_overrides
from lococo.data.mri.synth import synth_mri


def step_times(cfg: SegConfig, batches: list[dict], steps: int) -> list[float]:
    torch.manual_seed(0)
    model = build_seg_model(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    times = []
    for i in range(steps + 1):  # the first step is a warm-up
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        terms = model.training_losses(batch["image"], batch["target"], batch["case"])
        loss = torch.stack(list(terms.values())).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32, help="phantom side (slices are size²)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mri"
        synth_mri(root, seed=0, cases=10, size=args.size, progress=False)
        base = {"data.path": str(root), "data.batch_size": args.batch}
        base.update(parse_overrides(args.overrides))
        cfgs = {
            name: load_config(
                SegConfig,
                system="cmim_seg",
                profile=args.profile,
                overrides={**base, "method.name": name},
            )
            for name in ("cmim", "all")
        }
        cfg = cfgs["cmim"]
        train = slice_dataset(load_splits(cfg)["train"], cfg, train=True)
        batches = list(DataLoader(train, batch_size=args.batch, drop_last=True))[:8]
    times: dict[str, list[float]] = {"all": [], "cmim": []}
    for _ in range(args.repeats):
        for name in times:
            times[name] += step_times(cfgs[name], batches, args.steps)
    median = {name: statistics.median(t) for name, t in times.items()}
    m = cfg.method
    print(
        f"slices {args.size}x{args.size}, batch {args.batch}, widths {cfg.model.widths}, "
        f"threads {torch.get_num_threads()}; CMIM: {m.modalities_per_step} single-modality "
        f"inputs + full input per step, MI at level {m.mi_level} on {m.mi_positions} positions"
    )
    for name, label in (("all", "plain U-Net (all four)"), ("cmim", "CMIM")):
        t = median[name]
        print(f"{label:24s}: {args.batch / t:8.1f} slices/s (median step {1000 * t:.1f} ms)")
    print(f"CMIM step cost = {median['cmim'] / median['all']:.2f} x the plain U-Net step")


if __name__ == "__main__":
    main()
