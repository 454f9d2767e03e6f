"""Entry point of the ``lococo`` console script."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from lococo import __version__
from lococo.errors import LococoError


def build_parser() -> argparse.ArgumentParser:
    from lococo.cli import (
        cmim_cmd,
        data_cmd,
        metrics_cmd,
        ocgan_cmd,
        report_cmd,
        run_cmd,
        zfs_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="lococo",
        description="Locality and compositionality in visual representation learning "
        "(ZFS, OC-GAN, CMIM).",
    )
    parser.add_argument("--version", action="version", version=f"lococo {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show library logs and warnings"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run_cmd.register(sub)
    data_cmd.register(sub)
    zfs_cmd.register(sub)
    ocgan_cmd.register(sub)
    cmim_cmd.register(sub)
    report_cmd.register(sub)
    metrics_cmd.register(sub)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parse_args`` that also accepts ``key=value`` overrides after options
    (``lococo zfs analyze RUN --no-progress a.b=1``), which argparse alone refuses."""
    args, extra = parser.parse_known_args(argv)
    slot = next(
        (n for n in ("overrides", "targets") if isinstance(getattr(args, n, None), list)), None
    )
    stray = [t for t in extra if t.startswith("-") or "=" not in t]
    if stray or (extra and slot is None):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        getattr(args, slot).extend(extra)
    return args


def _quiet() -> None:
    """Keep the terminal to progress bars and results (``-v`` restores library chatter)."""
    warnings.filterwarnings("ignore")
    import lightning  # noqa: F401  (it sets its loggers' levels on import)

    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)
    if not args.verbose:
        _quiet()
    try:
        return int(args.handler(args) or 0)
    except LococoError as err:
        print(f"lococo: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lococo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
