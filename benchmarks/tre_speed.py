"""TRE speed: the vectorised full-batch metric vs a straightforward per-sample reference loop.

    python benchmarks/tre_speed.py [--n 200] [--k 20] [--d 64] [--steps 100] [--seed 0]

Both fit the same seeded initial vectors with RMSprop on the same data (exact sums of primitive
vectors plus noise); the reference computes one cosine per sample and composes each sample's
vector with a Python loop. Prints the time and the TRE value of each.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from lococo.metrics.compositionality import init_vectors, tre


def reference_tre(
    reps: torch.Tensor, prims: torch.Tensor, steps: int, lr: float, seed: int
) -> float:
    """Per-sample loop with the same initialisation and optimiser as ``tre``."""
    eta = init_vectors(prims.shape[1], reps.shape[1], seed).requires_grad_(True)
    opt = torch.optim.RMSprop([eta], lr=lr)
    present = [torch.nonzero(row).flatten().tolist() for row in prims]

    def mean_distance() -> torch.Tensor:
        total = torch.zeros(())
        for rep, idx in zip(reps, present, strict=True):
            composed = sum((eta[j] for j in idx), torch.zeros(reps.shape[1]))
            total = total + 1 - F.cosine_similarity(rep, composed, dim=0)
        return total / reps.shape[0]

    for _ in range(steps):
        opt.zero_grad()
        mean_distance().backward()
        opt.step()
    with torch.no_grad():
        return float(mean_distance())


def synthetic(n: int, k: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reps that are sums of primitive vectors plus 10% noise, density-0.3 primitives."""
    gen = torch.Generator().manual_seed(seed)
    prims = (torch.rand(n, k, generator=gen) < 0.3).float()
    prims[prims.sum(dim=1) == 0, 0] = 1.0
    reps = prims @ torch.randn(k, d, generator=gen)
    return reps + 0.1 * torch.randn(n, d, generator=gen), prims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    reps, prims = synthetic(args.n, args.k, args.d, args.seed)
    tre(reps, prims, steps=2, seed=args.seed)  # warm-up: first-call allocator/thread start-up
    t0 = time.perf_counter()
    fast = tre(reps, prims, steps=args.steps, seed=args.seed)
    t1 = time.perf_counter()
    slow = reference_tre(reps, prims, args.steps, 0.01, args.seed)
    t2 = time.perf_counter()
    print(f"N={args.n} K={args.k} D={args.d} steps={args.steps}")
    print(f"vectorised : {t1 - t0:8.3f} s  TRE={fast:.6f}")
    print(f"per-sample : {t2 - t1:8.3f} s  TRE={slow:.6f}")
    print(f"speed-up   : {(t2 - t1) / max(t1 - t0, 1e-9):8.1f}x  |diff|={abs(fast - slow):.2e}")


if __name__ == "__main__":
    main()
