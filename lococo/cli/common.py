"""Options and command tails shared by the training, evaluation and study commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from lococo.config.loading import PROFILES


def add_config_options(parser: argparse.ArgumentParser, default_profile: str) -> None:
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=default_profile,
        help=f"quick: small images, few epochs, sized for a 2-core CPU; paper: thesis settings "
        f"for GPUs (default: {default_profile})",
    )
    parser.add_argument(
        "--config", metavar="FILE.yaml", help="YAML config applied over the profile"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="config overrides, e.g. optim.lr=1e-3 trainer.max_epochs=5 trainer.devices=2",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run_study_command(
    args: argparse.Namespace,
    run_study: Callable[..., dict[str, Any]],
    spec: Any,
    print_table: Callable[[dict[str, Any]], None],
    **options: Any,
) -> int:
    """The tail every ``study`` command shares: run ``spec``'s grid with the launcher options
    (announcing each cell), print the table, write the report and say where everything is."""
    from lococo.report import render_report
    from lococo.study.runner import slurm_parameters

    def announce(i: int, n: int, cell: Any) -> None:
        print(f"[{i}/{n}] {cell.name}", flush=True)

    result = run_study(
        spec,
        args.out,
        launcher=args.launcher,
        slurm=slurm_parameters(args),
        progress=not args.no_progress,
        on_cell=announce,
        **options,
    )
    print_table(result)
    html, _ = render_report(args.out, recursive=True)
    print(f"\nsummary: {args.out}/summary.csv, {args.out}/results.json")
    print(f"report:  {html}")
    return 0
