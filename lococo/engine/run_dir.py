"""Run directories: resolved config, checkpoints, logs, figures and ``results.json``."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from lococo import __version__
from lococo.errors import DataError, LococoError, ResultsNotSaved, describe_os_error
from lococo.io import atomic_open, read_json, remove_stale_temp_files, write_json

C = TypeVar("C")

_CORRUPT = "not valid JSON ({}); repair or move the file away, then re-run"


@dataclass(frozen=True)
class RunDir:
    """The files of one run, all under ``path``."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def read_results(self) -> dict[str, Any]:
        """``results.json`` (``{}`` when absent); a corrupt file is one line naming it."""
        if not self.results.exists():
            return {}
        try:
            data = read_json(self.results)
        except UnicodeDecodeError:
            raise DataError(self.results, _CORRUPT.format("not UTF-8 text")) from None
        except json.JSONDecodeError as err:
            raise DataError(self.results, _CORRUPT.format(err.msg), err.lineno) from None
        if not isinstance(data, dict):
            raise DataError(self.results, _CORRUPT.format("not a JSON object"))
        return data

    def check_writable(self) -> None:
        """Refuse, before any work, a run whose ``results.json`` cannot be read or rewritten."""
        self.read_results()
        if self.path.is_dir() and not os.access(self.path, os.W_OK | os.X_OK):
            raise LococoError(f"{self.path}: run directory is not writable (permission denied)")
        if self.results.exists() and not os.access(self.results, os.R_OK):
            raise LococoError(f"{self.results}: cannot read (permission denied)")

    def write_result(self, section: str, value: Any) -> None:
        """Set one section of ``results.json`` (atomic, rank 0 only). When the file cannot be
        read or the directory written any more, the section is saved to
        ``results.<section>.json`` (in the run, else in the temporary folder) and
        :class:`~lococo.errors.ResultsNotSaved` names that file and holds the results."""
        if not is_rank_zero():
            return
        try:
            data = self.read_results()
            data[section] = value
            write_json(self.results, data)
        except (LococoError, OSError) as err:
            problem = describe_os_error(err) if isinstance(err, OSError) else str(err)
            spare = self._save_aside(section, value)
            raise ResultsNotSaved(problem, section, value, spare) from None

    @contextlib.contextmanager
    def keeping_results(self, section: str, value: Any) -> Iterator[None]:
        """Write a command's side files (figures, arrays) inside this block: when one fails
        with an OS error, ``value`` is still stored (``results.json``, else aside, see
        :meth:`write_result`) and :class:`~lococo.errors.ResultsNotSaved` says where."""
        try:
            yield
        except OSError as err:
            try:
                self.write_result(section, value)
                kept: Path | None = self.results
            except ResultsNotSaved as lost:
                kept = lost.spare
            raise ResultsNotSaved(describe_os_error(err), section, value, kept) from None

    def _save_aside(self, section: str, value: Any) -> Path | None:
        """Write ``{section: value}`` where it can be written; the path, or ``None``."""
        name = f"results.{section}.json"
        fallback = Path(tempfile.gettempdir()) / f"lococo-{self.path.name}-{os.getpid()}-{name}"
        for spare in (self.path / name, fallback):
            try:
                write_json(spare, {section: value})
                return spare
            except OSError:
                continue
        return None

    def read_config(self) -> dict[str, Any]:
        if not self.config.exists():
            raise LococoError(f"{self.path}: not a lococo run directory (no config.yaml)")
        try:
            data = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            mark = getattr(err, "problem_mark", None)
            raise DataError(
                self.config,
                "not a valid run config (the file is corrupt; restore it or start a new run)",
                mark.line + 1 if mark is not None else None,
            ) from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise DataError(self.config, "not a valid run config (expected a mapping)")
        return data

    def saved_config(self, config_type: type[C]) -> C:
        """The resolved config the run was started with, as ``config_type`` (``meta`` left out)."""
        from lococo.config.loading import from_dict

        saved = {k: v for k, v in self.read_config().items() if k != "meta"}
        return from_dict(config_type, saved, str(self.config))

    def write_config(self, config: dict[str, Any]) -> None:
        if not is_rank_zero():
            return
        with atomic_open(self.config, "w") as handle:
            yaml.safe_dump(config, handle, sort_keys=False)


_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def is_rank_zero() -> bool:
    """False in every process but the global rank 0 of a distributed launch (Lightning's DDP
    children, SLURM tasks); True for ordinary single-process commands."""
    return all(int(os.environ.get(name, 0) or 0) == 0 for name in _RANK_VARIABLES)


def is_ddp_child() -> bool:
    """True in a process re-launched by Lightning's DDP launcher (not the original command)."""
    return not is_rank_zero()


def open_run(path: str | Path, *, resume: bool) -> RunDir:
    """Name a fresh run directory (created when its config is written), or open one to resume.

    A fresh run refuses a non-empty directory so that no earlier results are mixed in, except
    one left by the same command line when it stopped before its first checkpoint (a
    ``config.yaml`` recording that command, logs and temporary files only), which is
    cleared. ``resume`` requires the run's ``config.yaml``. Temporary files of killed writes
    are removed in both cases. When the command then fails before its first checkpoint,
    :func:`discard_unfinished_runs` removes what it wrote, so it can simply be run again.
    """
    run = RunDir(Path(path))
    if is_ddp_child():
        return run
    if run.path.exists() and not run.path.is_dir():
        raise LococoError(f"{run.path}: exists and is not a directory; choose another --out")
    if run.path.is_dir():
        remove_stale_temp_files(run.path)
        remove_stale_temp_files(run.checkpoints)
    if resume:
        if not run.config.exists():
            raise LococoError(f"{run.path}: cannot resume: no config.yaml (start without --resume)")
        return run
    if run.path.exists() and any(run.path.iterdir()):
        if not _abandoned(run):
            raise LococoError(
                f"{run.path}: directory exists and is not empty; pass --resume to continue that "
                "run or choose a new --out"
            )
        for entry in run.path.iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    _FRESH.append((run, run.path.exists()))
    return run


#: Fresh runs opened by this process: (run, whether its directory existed before).
_FRESH: list[tuple[RunDir, bool]] = []


def has_checkpoint(run: RunDir) -> bool:
    return run.checkpoints.is_dir() and any(
        p.is_file() and not p.name.endswith(".tmp") for p in run.checkpoints.iterdir()
    )


def _abandoned(run: RunDir) -> bool:
    """A run directory holding only what this same command line left when it died before its
    first checkpoint (``config.yaml`` recording this command, logs, temporary files)."""
    if not run.config.is_file() or has_checkpoint(run) or run.results.exists():
        return False
    allowed = {"config.yaml", "logs", "checkpoints"}
    if not all(p.name in allowed or p.name.endswith(".tmp") for p in run.path.iterdir()):
        return False
    try:
        meta = (yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}).get("meta") or {}
    except (yaml.YAMLError, UnicodeDecodeError, AttributeError, OSError):
        return False
    return isinstance(meta, dict) and meta.get("command") == " ".join(sys.argv)


def discard_unfinished_runs() -> list[Path]:
    """Remove what the fresh runs of this process wrote when they hold no checkpoint yet
    (called by the CLI when a command fails); returns the directories cleaned."""
    cleaned = []
    while _FRESH:
        run, existed = _FRESH.pop()
        if not run.path.is_dir() or has_checkpoint(run) or not is_rank_zero():
            continue
        if existed:
            for entry in run.path.iterdir():
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
        else:
            shutil.rmtree(run.path, ignore_errors=True)
        cleaned.append(run.path)
    return cleaned


def forget_runs() -> None:
    """The command succeeded: keep its runs."""
    _FRESH.clear()


def run_metadata() -> dict[str, Any]:
    """Provenance stored with every run."""
    import torch

    return {
        "lococo_version": __version__,
        "torch_version": str(torch.__version__),
        "python": platform.python_version(),
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
