"""``lococo metrics fid|kid|is ...``: generation metrics on image folders or saved statistics.

Each input is an image folder (PNG/JPEG at any depth) or a ``.npz`` written earlier with
``--save-stats``. Everything is validated and computed before anything is written.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lococo.errors import DataError, LococoError

STATS_FORMAT = "lococo-feature-stats/1"


def register(sub: Any) -> None:
    metrics = sub.add_parser(
        "metrics",
        help="generation metrics (FID, KID, IS) on image folders or saved statistics",
        description="REAL/FAKE are image folders (PNG/JPEG, any nesting) or .npz statistics "
        "saved by --save-stats. Weights: --weights FILE or $LOCOCO_WEIGHTS_DIR; nothing is "
        "downloaded.",
    )
    msub = metrics.add_subparsers(dest="metrics_command", metavar="METRIC", required=True)
    fid = msub.add_parser("fid", help="Fréchet Inception Distance (float64)")
    kid = msub.add_parser("kid", help="Kernel Inception Distance (unbiased MMD², cubic kernel)")
    isc = msub.add_parser("is", help="Inception Score (consecutive splits)")
    for parser in (fid, kid):
        parser.add_argument("real", metavar="REAL", help="real images: folder or .npz")
        parser.add_argument("fake", metavar="FAKE", help="generated images: folder or .npz")
    isc.add_argument("fake", metavar="FAKE", help="generated images: folder or .npz")
    kid.add_argument("--subsets", type=int, default=100, help="random subsets (default 100)")
    kid.add_argument(
        "--subset-size",
        type=int,
        default=1000,
        help="samples per subset, capped at the smaller set's size (default 1000)",
    )
    kid.add_argument("--seed", type=int, default=0, help="subset sampling seed (default 0)")
    isc.add_argument("--splits", type=int, default=5, help="consecutive splits (default 5)")
    for parser, metric in ((fid, "fid"), (kid, "kid"), (isc, "is")):
        parser.add_argument(
            "--weights",
            metavar="FILE",
            help="FID Inception-V3 weights file (default: "
            "$LOCOCO_WEIGHTS_DIR/weights-inception-2015-12-05-6726825d.pth)",
        )
        parser.add_argument(
            "--substitute",
            metavar="CLASSIFIER.pt",
            help="use a lococo-trained CA classifier as the feature extractor instead of the "
            'FID Inception (results are marked "comparable": false)',
        )
        parser.add_argument(
            "--batch-size", type=int, default=50, metavar="N", help="images per batch (default 50)"
        )
        parser.add_argument("--device", default="auto", help="auto (GPU if any) | cpu | cuda")
        parser.add_argument(
            "--out", metavar="FILE.json", help=f'write the result as section "{metric}" of FILE'
        )
        parser.add_argument(
            "--save-stats",
            metavar="FILE.npz",
            help="save the features of " + ("FAKE" if metric == "is" else "REAL") + " for reuse",
        )
        parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
        parser.set_defaults(handler=_run, metric=metric)


@dataclass
class Side:
    """One input: its folder's image paths, or statistics loaded from a ``.npz``."""

    path: Path
    images: list[Path] | None = None
    features: np.ndarray | None = None
    logits: np.ndarray | None = None
    mu: np.ndarray | None = None
    sigma: np.ndarray | None = None
    info: dict[str, Any] | None = None

    @property
    def count(self) -> int:
        return len(self.images) if self.images is not None else len(self.features)  # type: ignore[arg-type]


def _open_input(path_str: str) -> Side:
    from lococo.metrics.inception import list_images

    path = Path(path_str)
    if path.suffix.lower() == ".npz":
        return load_stats(path)
    return Side(path, images=list_images(path))


def load_stats(path: Path) -> Side:
    """Read and check a ``.npz`` written by :func:`save_stats`."""
    if not path.is_file():
        raise DataError(path, "statistics file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise DataError(path, f"not a readable .npz file ({type(exc).__name__})") from None
    if str(arrays.get("format", "")) != STATS_FORMAT:
        raise DataError(path, f"not saved by 'lococo metrics --save-stats' ({STATS_FORMAT})")
    feats, mu, sigma = arrays.get("features"), arrays.get("mu"), arrays.get("sigma")
    if feats is None or mu is None or sigma is None or feats.ndim != 2:
        raise DataError(path, "needs N×D 'features', 'mu' and 'sigma'")
    n, d = feats.shape
    if n < 2 or mu.shape != (d,) or sigma.shape != (d, d):
        raise DataError(
            path,
            f"inconsistent statistics: features {feats.shape}, mu {mu.shape}, sigma {sigma.shape}",
        )
    logits = arrays.get("logits")
    if logits is not None and (logits.ndim != 2 or len(logits) != n):
        raise DataError(path, f"logits {logits.shape} do not match {n} feature rows")
    try:
        info = json.loads(str(arrays["info"]))
    except (KeyError, ValueError):
        raise DataError(path, "has no readable extractor description ('info')") from None
    return Side(path, features=feats, logits=logits, mu=mu, sigma=sigma, info=info)


def save_stats(path: Path, side: Side, source: str) -> None:
    from lococo.io import atomic_open

    arrays: dict[str, Any] = {
        "format": np.array(STATS_FORMAT),
        "features": side.features,
        "mu": side.mu,
        "sigma": side.sigma,
        "info": np.array(json.dumps(side.info)),
        "source": np.array(source),
    }
    if side.logits is not None:
        arrays["logits"] = side.logits
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


_IDENTITY = ("extractor", "weights_sha256", "extractor_source", "feature_dim")


def _same_extractor(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in _IDENTITY)


def _check_options(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise LococoError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.metric == "is" and args.splits < 1:
        raise LococoError(f"--splits must be >= 1, got {args.splits}")
    if args.metric == "kid" and (args.subsets < 1 or args.subset_size < 2):
        raise LococoError("--subsets must be >= 1 and --subset-size >= 2")
    if args.save_stats and not args.save_stats.endswith(".npz"):
        raise LococoError(f"--save-stats {args.save_stats}: the file name must end in .npz")
    if args.weights and args.substitute:
        raise LococoError("--weights and --substitute exclude each other")
    if args.out and Path(args.out).exists():
        try:
            existing = json.loads(Path(args.out).read_text())
        except (OSError, ValueError) as exc:
            raise DataError(args.out, f"exists and is not readable JSON ({exc})") from None
        if not isinstance(existing, dict):
            raise DataError(args.out, "exists and is not a JSON object")


def _extractor(args: argparse.Namespace) -> Any:
    if args.substitute:
        from lococo.metrics.objects import ClassifierExtractor

        return ClassifierExtractor.from_file(args.substitute)
    from lococo.metrics.inception import load_fid_inception

    return load_fid_inception(args.weights)


def _fill(side: Side, extractor: Any, args: argparse.Namespace, label: str) -> None:
    """Extract features of a folder side (statistics sides are already filled)."""
    from lococo.metrics.generation import feature_statistics
    from lococo.metrics.inception import extract, folder_batches

    if side.images is None:
        return
    out = extract(
        extractor,
        folder_batches(side.images, args.batch_size),
        total=len(side.images),
        device=args.device,
        progress=not args.no_progress,
        desc=f"{label} features",
    )
    side.features, side.logits, side.info = out.features, out.logits, out.info
    side.mu, side.sigma = feature_statistics(out.features)


def _run(args: argparse.Namespace) -> int:
    from lococo.io import update_json

    _check_options(args)
    names = ["fake"] if args.metric == "is" else ["real", "fake"]
    sides = {name: _open_input(getattr(args, name)) for name in names}
    fake = sides["fake"]
    if args.metric == "is" and fake.images is None and fake.logits is None:
        raise DataError(fake.path, "has no logits; the Inception Score needs them")
    if args.metric == "is" and fake.count < args.splits:
        raise DataError(fake.path, f"{fake.count} images cannot fill {args.splits} splits")
    extractor = None
    if any(s.images is not None for s in sides.values()):
        extractor = _extractor(args)
    reference = extractor.info() if extractor is not None else sides[names[0]].info or {}
    for side in sides.values():
        if side.info is not None and not _same_extractor(side.info, reference):
            raise DataError(
                side.path,
                f"statistics come from extractor {side.info.get('extractor')} "
                f"(weights sha256 {side.info.get('weights_sha256')}), this run uses "
                f"{reference.get('extractor')} (weights sha256 {reference.get('weights_sha256')})",
            )
    for name, side in sides.items():
        _fill(side, extractor, args, name)
    result = _compute(args, sides)
    print(_summary(args.metric, result))
    if args.save_stats:
        first = sides[names[0]]
        save_stats(Path(args.save_stats), first, str(first.path))
    if args.out:
        update_json(args.out, args.metric, result)
    return 0


def _compute(args: argparse.Namespace, sides: dict[str, Side]) -> dict[str, Any]:
    from lococo.metrics.generation import (
        frechet_distance,
        inception_score,
        kernel_inception_distance,
    )

    fake = sides["fake"]
    info = dict(fake.info or {})
    if args.metric == "is":
        mean, std = inception_score(fake.logits, splits=args.splits)  # type: ignore[arg-type]
        return {
            "is_mean": mean,
            "is_std": std,
            "is_splits": args.splits,
            "is_split_order": "consecutive, unshuffled (file order)",
            "num_images": fake.count,
            "fake": str(fake.path),
            **info,
        }
    real = sides["real"]
    if real.features.shape[1] != fake.features.shape[1]:  # type: ignore[union-attr]
        raise DataError(
            fake.path,
            f"features are {fake.features.shape[1]}-d but {real.path} has "  # type: ignore[union-attr]
            f"{real.features.shape[1]}-d",  # type: ignore[union-attr]
        )
    common = {"real": str(real.path), "fake": str(fake.path), "num_real": real.count}
    common["num_fake"] = fake.count
    if args.metric == "fid":
        value = frechet_distance(real.mu, real.sigma, fake.mu, fake.sigma)  # type: ignore[arg-type]
        return {"fid": value, "precision": "float64", **common, **info}
    size = min(args.subset_size, real.count, fake.count)
    mean, std = kernel_inception_distance(
        real.features,  # type: ignore[arg-type]
        fake.features,  # type: ignore[arg-type]
        subsets=args.subsets,
        subset_size=size,
        seed=args.seed,
    )
    return {
        "kid_mean": mean,
        "kid_std": std,
        "kid_subsets": args.subsets,
        "kid_subset_size": size,
        "kid_subset_size_requested": args.subset_size,
        "kid_seed": args.seed,
        "kid_kernel": "(x.y/d + 1)^3, unbiased MMD^2, subsets without replacement",
        **common,
        **info,
    }


def _summary(metric: str, result: dict[str, Any]) -> str:
    tag = "comparable" if result.get("comparable") else "NOT comparable"
    where = f"extractor {result.get('extractor')}, {tag}"
    if metric == "fid":
        return (
            f"FID {result['fid']:.4f} ({result['num_real']} real, {result['num_fake']} "
            f"generated; {where})"
        )
    if metric == "kid":
        return (
            f"KID {result['kid_mean']:.6f} ± {result['kid_std']:.6f} ({result['kid_subsets']} "
            f"subsets of {result['kid_subset_size']}; {where})"
        )
    return (
        f"IS {result['is_mean']:.4f} ± {result['is_std']:.4f} ({result['is_splits']} splits of "
        f"{result['num_images']} images; {where})"
    )
