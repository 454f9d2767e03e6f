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
    run.add_argument(
        "--cmim-methods",
        help="comma-separated CMIM segmentation methods (default: cmim,hemis,mean,mlp)",
    )
    run.add_argument(
        "--systems",
        default="zfs,cmim,cmim_cls,ocgan",
        help="comma-separated systems to run (default: all)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="remove --out first when it holds a job made with other settings",
    )
    add_config_options(run, "quick")
    run.epilog = (
        "key=value overrides apply to ZFS; prefix CMIM segmentation keys with 'cmim.' and "
        "CMIM classification keys with 'cmim_cls.', OC-GAN keys with 'ocgan.'"
    )
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from lococo.cli.tables import print_study
    from lococo.cmim.seg_config import SEG_METHODS
    from lococo.config.loading import parse_overrides
    from lococo.errors import LococoError
    from lococo.main_job import CMIM_METHODS, SYSTEMS, ZFS_METHODS, run_all
    from lococo.study.runner import parse_list

    if args.config:
        raise LococoError("lococo run takes key=value overrides; --config is for single commands")
    methods = parse_list(args.methods, ZFS_METHODS, "method") if args.methods else ZFS_METHODS
    cmim_methods = (
        parse_list(args.cmim_methods, SEG_METHODS, "CMIM method")
        if args.cmim_methods
        else CMIM_METHODS
    )
    systems = parse_list(args.systems, SYSTEMS, "system")
    overrides = parse_overrides(args.overrides)
    cmim_overrides = {
        k.removeprefix("cmim."): v for k, v in overrides.items() if k.startswith("cmim.")
    }
    cmim_cls_overrides = {
        k.removeprefix("cmim_cls."): v for k, v in overrides.items() if k.startswith("cmim_cls.")
    }
    ocgan_overrides = {
        k.removeprefix("ocgan."): v for k, v in overrides.items() if k.startswith("ocgan.")
    }
    overrides = {
        k: v for k, v in overrides.items() if not k.startswith(("cmim.", "cmim_cls.", "ocgan."))
    }

    def announce(system: str, i: int, n: int, cell) -> None:
        print(f"[{system} {i}/{n}] {cell.name}", flush=True)

    summary = run_all(
        args.out,
        profile=args.profile,
        seed=args.seed,
        methods=methods,
        cmim_methods=cmim_methods,
        systems=systems,
        overrides=overrides,
        cmim_overrides=cmim_overrides,
        cmim_cls_overrides=cmim_cls_overrides,
        ocgan_overrides=ocgan_overrides,
        progress=not args.no_progress,
        on_cell=announce,
        overwrite=args.overwrite,
    )
    if "zfs" in summary:
        print("\nZFS on synthetic compositional birds")
        print_study(summary["zfs"])
    if "cmim" in summary:
        from lococo.cli.cmim_study_cmd import print_table
        from lococo.io import read_json

        print("\nCMIM on synthetic brain phantoms (table 8.2)")
        print_table(read_json(f"{args.out}/cmim/results.json"))
    if "cmim_cls" in summary:
        from lococo.cli.cmim_cls_cmd import print_cls_table
        from lococo.io import read_json

        print("\nCMIM on synthetic chest X-rays (table 8.1)")
        print_cls_table(read_json(f"{args.out}/cmim_cls/results.json"))
    if "ocgan" in summary:
        from lococo.cli.ocgan_cmd import print_metrics

        print("\nOC-GAN on synthetic scenes (tables 6.1, 6.2)")
        print_metrics(summary["ocgan"])
    print(f"\nresults: {args.out}/results.json")
    print(f"report:  {args.out}/report.html")
    return 0
