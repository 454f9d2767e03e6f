"""Options shared by training and evaluation commands."""

from __future__ import annotations

import argparse

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
