"""Fréchet distance at 2048 dimensions: lococo's eigh route vs scipy ``sqrtm`` (pytorch-fid).

    python benchmarks/frechet_distance.py [--d 2048] [--n 4000] [--repeats 2] [--seed 0]

Both compute the distance between the same two float64 Gaussian statistics (means and
covariances of ``n`` correlated random feature vectors each), alternating so that both see the
same machine load. Prints each value, their relative difference, each time and the ratio.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from lococo.metrics.generation import feature_statistics, frechet_distance


def statistics(n: int, d: int, seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return feature_statistics(np.abs(rng.standard_normal((n, d)) @ mixing) + shift)


def main() -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    mu1, s1 = statistics(args.n, args.d, args.seed, 0.0)
    mu2, s2 = statistics(args.n, args.d, args.seed + 1, 0.05)
    ours_t, ref_t = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = frechet_distance(mu1, s1, mu2, s2)
        t1 = time.perf_counter()
        ref = float(calculate_frechet_distance(mu1, s1, mu2, s2))
        t2 = time.perf_counter()
        ours_t.append(t1 - t0)
        ref_t.append(t2 - t1)
    print(f"d={args.d} n={args.n} repeats={args.repeats} load={os.getloadavg()[0]:.1f}")
    print(f"lococo (dpstrf+eigh): {min(ours_t):8.3f} s  FD={ours:.9f}")
    print(f"scipy sqrtm (p-fid) : {min(ref_t):8.3f} s  FD={ref:.9f}")
    ratio, rel = min(ref_t) / min(ours_t), abs(ours - ref) / ref
    print(f"speed-up            : {ratio:8.1f}x  rel diff={rel:.2e}")


if __name__ == "__main__":
    main()
