"""FID Inception-V3 feature extraction throughput (images/s) through ``lococo.metrics.extract``.

    python benchmarks/inception_throughput.py [--device cpu|cuda] [--images 64] [--batch-size 16]
        [--size 128] [--threads N]

Random weights of the same architecture (the speed does not depend on the values); ``uint8``
``size×size`` inputs are resized to 299 inside the network as for real metrics. One warm-up
batch is excluded from the timing.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from lococo.metrics.inception import extract, random_fid_inception


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.images, 3, args.size, args.size), generator=gen)
    images = images.to(torch.uint8)
    batches = list(images.split(args.batch_size))
    net = random_fid_inception(seed=0)
    extract(net, batches[:1], device=args.device, progress=False)  # warm-up
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = extract(net, batches, total=args.images, device=args.device, progress=False)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    print(
        f"device={args.device} threads={torch.get_num_threads()} images={args.images} "
        f"batch={args.batch_size} input={args.size}px load={os.getloadavg()[0]:.1f}"
    )
    print(f"features {tuple(out.features.shape)}: {args.images / elapsed:.1f} images/s")


if __name__ == "__main__":
    main()
