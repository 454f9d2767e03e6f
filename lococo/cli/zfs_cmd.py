"""``lococo zfs ...``: pretrain encoders under the ZFS rule and evaluate them zero-shot."""

from __future__ import annotations

import argparse
from typing import Any

from lococo.cli.common import add_config_options


def register(sub: Any) -> None:
    zfs = sub.add_parser("zfs", help="zero-shot learning from scratch (thesis ch. 4)")
    zsub = zfs.add_subparsers(dest="zfs_command", metavar="SUBCOMMAND", required=True)

    pre = zsub.add_parser("pretrain", help="pretrain an encoder on seen-class images only")
    pre.add_argument(
        "--data", help="dataset root (CUB-200-2011 layout with xlsa17 splits, AwA2, SUN)"
    )
    pre.add_argument(
        "--format", choices=("cub", "awa2", "sun"), help="dataset format (default: cub)"
    )
    pre.add_argument(
        "--splits", metavar="DIR", help="xlsa17 split folder (default: found under --data)"
    )
    pre.add_argument("--method", help="pretraining method (fc)")
    pre.add_argument("--encoder", choices=("basic", "alexnet"), help="encoder architecture")
    pre.add_argument("--local-loss", choices=("none", "ac", "lc"), help="auxiliary local loss")
    pre.add_argument("--out", required=True, help="run directory to create")
    pre.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    pre.add_argument("--evaluate", action="store_true", help="run zero-shot evaluation afterwards")
    add_config_options(pre, "paper")
    pre.set_defaults(handler=_pretrain)

    ev = zsub.add_parser("evaluate", help="prototypical-network zero-shot evaluation of a run")
    ev.add_argument("run", help="run directory written by `lococo zfs pretrain`")
    ev.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. zsl.epochs=200")
    ev.add_argument("--no-progress", action="store_true", help="hide progress bars")
    ev.set_defaults(handler=_evaluate)


def _pretrain(args: argparse.Namespace) -> int:
    from lococo.cli.tables import print_zsl
    from lococo.config.loading import load_config, parse_overrides
    from lococo.engine.run_dir import is_rank_zero, open_run
    from lococo.engine.trainer import validate_trainer_config
    from lococo.zfs.config import ZFSConfig
    from lococo.zfs.evaluate import evaluate, load_run_config
    from lococo.zfs.pretrain import pretrain

    overrides = parse_overrides(args.overrides)
    for option, key in (
        ("data", "data.path"),
        ("format", "data.format"),
        ("splits", "data.splits_dir"),
        ("method", "method.name"),
        ("encoder", "encoder.name"),
        ("local_loss", "method.local_loss"),
    ):
        if getattr(args, option) is not None:
            overrides[key] = getattr(args, option)
    run = open_run(args.out, resume=args.resume)
    if args.resume:
        cfg = load_run_config(run, overrides)
    else:
        cfg = load_config(
            ZFSConfig,
            system="zfs",
            profile=args.profile,
            config_file=args.config,
            overrides=overrides,
        )
    validate_trainer_config(cfg.trainer)
    result = pretrain(cfg, run, resume=args.resume, progress=not args.no_progress)
    if not is_rank_zero():  # other DDP processes stop here; rank 0 reports and evaluates
        return 0
    print(
        f"pretrained {result['method']} encoder in {run.path} "
        f"({result['epochs']} epochs, {result['fit_seconds']:.0f} s)"
    )
    if args.evaluate:
        print_zsl(evaluate(run, progress=not args.no_progress))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from lococo.cli.tables import print_zsl
    from lococo.config.loading import parse_overrides
    from lococo.engine.run_dir import RunDir
    from lococo.zfs.evaluate import evaluate

    print_zsl(
        evaluate(
            RunDir(_existing(args.run)),
            parse_overrides(args.overrides),
            progress=not args.no_progress,
        )
    )
    return 0


def _existing(path: str):
    from pathlib import Path

    from lococo.errors import LococoError

    p = Path(path)
    if not p.is_dir():
        raise LococoError(f"{p}: run directory not found")
    return p
