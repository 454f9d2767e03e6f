"""Writing a synthetic dataset safely: check the output folder, build the dataset in a hidden
staging folder inside it, then swap the finished files into place (no half-written dataset)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

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
    """A fresh (not yet created) staging folder path inside ``out``."""
    return out / f"{tmp_prefix}{os.getpid()}-{time.time_ns()}"


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
