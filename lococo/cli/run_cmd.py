"""``lococo run``: the main job on embedded synthetic data."""

from __future__ import annotations

import argparse
from typing import Any

from lococo.cli.common import add_config_options


def register(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run every system end to end on embedded synthetic data and print a summary",
        description="Generate synthetic data in the real formats, pretrain and evaluate. "
        "Re-running with the same --out skips finished steps and resumes interrupted ones.",
    )
    run.add_argument("--out", default="lococo-run", help="output directory (default: lococo-run)")
    run.add_argument("--seed", type=int, default=0)
    add_config_options(run, "quick")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from lococo.cli.tables import format_table
    from lococo.config.loading import parse_overrides
    from lococo.errors import LococoError
    from lococo.main_job import run_all

    if args.config:
        raise LococoError(
            "lococo run takes key=value overrides; --config applies to single commands"
        )
    summary = run_all(
        args.out,
        profile=args.profile,
        seed=args.seed,
        overrides=parse_overrides(args.overrides),
        progress=not args.no_progress,
    )
    print()
    print(
        "ZFS on synthetic compositional birds: zero-shot top-1 on unseen classes (per-class mean)"
    )
    print(
        format_table(
            summary["zfs"],
            ["method", "encoder", "top1", "top1_sample", "chance", "seen", "unseen", "harmonic"],
        )
    )
    print(f"\nresults: {args.out}/results.json")
    return 0
