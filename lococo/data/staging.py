"""Writing a synthetic dataset safely: check the output folder, build the dataset in a hidden
staging folder inside it, then swap the finished files into place (no half-written dataset)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from lococo.errors import LococoError


class SynthArgumentError(LococoError, ValueError):
    """A synthetic-data option is invalid (also a ``ValueError``)."""


def check_output_dir(out: Path, overwrite: bool, tmp_prefix: str) -> None:
    """Refuse a non-directory ``out``, or a non-empty one unless ``overwrite`` (leftover staging
    folders named ``tmp_prefix*`` do not count)."""
    if out.exists() and not out.is_dir():
        raise SynthArgumentError(f"{out}: exists and is not a directory")
    if not out.exists() or overwrite:
        return
    entries = [p.name for p in out.iterdir() if not p.name.startswith(tmp_prefix)]
    if entries:
        raise SynthArgumentError(
            f"{out}: directory is not empty ({', '.join(sorted(entries)[:5])}); "
            "pass overwrite=True (--overwrite) to replace it"
        )


def staging_dir(out: Path, tmp_prefix: str) -> Path:
    """A fresh (not yet created) staging folder path inside ``out``; staging folders left by
    killed earlier runs (their process is gone) are removed first."""
    remove_stale_staging(out, tmp_prefix)
    return out / f"{tmp_prefix}{os.getpid()}-{time.time_ns()}"


def remove_stale_staging(out: Path, tmp_prefix: str) -> list[Path]:
    """Delete the ``tmp_prefix<pid>-...`` folders in ``out`` whose process no longer runs."""
    from lococo.io import _alive

    removed = []
    if not out.is_dir():
        return removed
    for entry in out.iterdir():
        if not entry.name.startswith(tmp_prefix):
            continue
        pid = entry.name[len(tmp_prefix) :].split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def worker_pool(workers: int, context: Any) -> ProcessPoolExecutor:
    """A process pool whose workers die with this process (even when it is SIGKILLed), so a
    killed ``lococo data synth`` leaves no writer processes behind (Linux; elsewhere workers
    exit when they find their task queue closed)."""
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),)
    )


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def move_into_place(tmp: Path, out: Path, names: Sequence[str]) -> None:
    """Swap the finished entries ``names`` of ``tmp`` into ``out``: old outputs go to a trash
    folder first, then are deleted."""
    trash = tmp.with_name(tmp.name + "-old")
    for name in names:
        if (out / name).exists() or (out / name).is_symlink():
            trash.mkdir(exist_ok=True)
            os.replace(out / name, trash / name)
    for name in names:
        os.replace(tmp / name, out / name)
    shutil.rmtree(trash, ignore_errors=True)
