"""Parts-F1 probes: lococo's joint per-part probes vs one scikit-learn logistic regression per part.

    python benchmarks/parts_probe.py [--images 1000] [--parts 15] [--channels 128] [--side 7]

Synthetic local maps (``N×C×H×W``) carry a random linear mixing of the part masks plus noise
(masks: random blobs, ~10 % positive), as real frozen features would partly encode them. Both
probes are balanced (``class_weight="balanced"`` / ``pos_weight``) and standardise the
features; scikit-learn fits ``P`` separate lbfgs problems, lococo one Adam run of a 1×1 conv.
Prints the time and the mean test F1 of each, and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from lococo.metrics.parts import parts_f1


def synthetic(n: int, mix: torch.Tensor, side: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Blob masks of ``mix.shape[0]`` parts (80 % visible) and maps ``masks · mix + noise``."""
    g = torch.Generator().manual_seed(seed)
    parts = mix.shape[0]
    centres = torch.randint(0, side, (n, parts, 2), generator=g)
    ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    dist = (ys - centres[..., 0, None, None]) ** 2 + (xs - centres[..., 1, None, None]) ** 2
    masks = (dist <= 1) & (torch.rand(n, parts, 1, 1, generator=g) < 0.8)
    local = torch.einsum("nphw,pc->nchw", masks.float(), mix)
    return local + 1.5 * torch.randn(local.shape, generator=g), masks


def sklearn_f1(train, train_masks, test, test_masks) -> float:
    def rows(x: torch.Tensor) -> np.ndarray:
        return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1]).numpy()

    def labels(m: torch.Tensor) -> np.ndarray:
        return m.permute(0, 2, 3, 1).reshape(-1, m.shape[1]).numpy()

    scaler = StandardScaler().fit(rows(train))
    xtr, xte = scaler.transform(rows(train)), scaler.transform(rows(test))
    ytr, yte = labels(train_masks), labels(test_masks)
    scores = []
    for p in range(ytr.shape[1]):
        clf = LogisticRegression(class_weight="balanced", max_iter=200).fit(xtr, ytr[:, p])
        scores.append(f1_score(yte[:, p], clf.predict(xte)))
    return float(np.mean(scores))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--parts", type=int, default=15)
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--side", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    mix = torch.randn(args.parts, args.channels, generator=torch.Generator().manual_seed(args.seed))
    train = synthetic(args.images, mix, args.side, args.seed + 1)
    test = synthetic(args.images // 2, mix, args.side, args.seed + 2)
    start = time.perf_counter()
    ours = parts_f1(train[0], train[1], test[0], test[1])["f1"]
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = sklearn_f1(train[0], train[1], test[0], test[1])
    t_theirs = time.perf_counter() - start
    positions = args.images * args.side * args.side
    print(f"{args.images} train images × {args.side}×{args.side} positions = {positions} rows")
    print(f"lococo parts_f1      : F1 {ours:.3f} in {t_ours:6.2f} s")
    print(f"sklearn, one per part: F1 {theirs:.3f} in {t_theirs:6.2f} s")
    print(f"speed ratio (sklearn time / lococo time): {t_theirs / t_ours:.1f}")


if __name__ == "__main__":
    main()
