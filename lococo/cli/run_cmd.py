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
    run.add_argument(
        "--methods",
        help="comma-separated ZFS methods (default: every method)",
    )
    add_config_options(run, "quick")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from lococo.cli.tables import print_study
    from lococo.config.loading import parse_overrides
    from lococo.errors import LococoError
    from lococo.main_job import ZFS_METHODS, run_all
    from lococo.study.runner import parse_list

    if args.config:
        raise LococoError("lococo run takes key=value overrides; --config is for single commands")
    methods = parse_list(args.methods, ZFS_METHODS, "method") if args.methods else ZFS_METHODS

    def announce(i: int, n: int, cell) -> None:
        print(f"[zfs {i}/{n}] {cell.name}", flush=True)

    summary = run_all(
        args.out,
        profile=args.profile,
        seed=args.seed,
        methods=methods,
        overrides=parse_overrides(args.overrides),
        progress=not args.no_progress,
        on_cell=announce,
    )
    print("\nZFS on synthetic compositional birds")
    print_study(summary["zfs"])
    print(f"\nresults: {args.out}/results.json")
    print(f"report:  {args.out}/report.html")
    return 0
