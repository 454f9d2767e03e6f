"""Entry point of the ``lococo`` console script."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from lococo import __version__
from lococo.errors import (
    ConfigError,
    Interrupted,
    LococoError,
    ResultsNotSaved,
    describe_os_error,
)


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
    """Run one command. Exit codes: 0 success, 1 error (one line on stderr), 2 usage or config
    error, 128 + signal when interrupted (130 Ctrl-C, 143 SIGTERM). ``-v`` adds tracebacks."""
    from lococo.engine import signals
    from lococo.engine.run_dir import discard_unfinished_runs, forget_runs

    parser = build_parser()
    args = parse_args(parser, argv)
    if not args.verbose:
        _quiet()
    signals.install()
    try:
        code = int(args.handler(args) or 0)
        forget_runs()
        return code
    except BaseException as err:
        discard_unfinished_runs()  # a failed command never blocks its own re-run
        if not isinstance(err, LococoError | Interrupted | KeyboardInterrupt | OSError):
            raise  # a bug (or SystemExit): keep Python's own report
        if args.verbose:
            traceback.print_exc()
        return _report(err, args, argv)
    finally:
        signals.uninstall()


def _report(err: BaseException, args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Print the one line of a user error or interrupt; return the exit code."""
    if isinstance(err, KeyboardInterrupt):
        err = Interrupted(signal.SIGINT)
    if isinstance(err, Interrupted):
        print(f"lococo: {err}{_resume_hint(err, args, argv)}", file=sys.stderr)
        return err.exit_code
    if isinstance(err, OSError):
        print(f"lococo: error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    if isinstance(err, ResultsNotSaved) and not err.shown:  # computed numbers are never lost
        print(json.dumps({err.section: err.value}, indent=1, default=str), flush=True)
    print(f"lococo: error: {err}", file=sys.stderr)
    return 2 if isinstance(err, ConfigError) else 1


@contextlib.contextmanager
def showing_unsaved(printer: Callable[[Any], None]) -> Iterator[None]:
    """Print results that could not be written (:class:`ResultsNotSaved`) with the command's
    own ``printer`` before the error line (commands without one get them as JSON)."""
    try:
        yield
    except ResultsNotSaved as err:
        if not err.shown:
            printer(err.value)
            err.shown = True
        raise


def _resume_hint(err: Interrupted, args: argparse.Namespace, argv: Sequence[str] | None) -> str:
    if err.checkpoint is None:
        return ""
    words = list(sys.argv[1:] if argv is None else argv)
    if hasattr(args, "resume") and "--resume" not in words:
        words.append("--resume")
    where = f" at {err.where}" if err.where else ""
    command = " ".join(["lococo", *(shlex.quote(w) for w in words)])
    return f"{where}; checkpoint saved to {err.checkpoint}; continue with: {command}"


if __name__ == "__main__":
    sys.exit(main())
