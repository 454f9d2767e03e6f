"""User-facing errors: one clear line, non-zero exit code, no traceback."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any


class LococoError(Exception):
    """An error caused by the user's input (files, configs, options)."""


class DataError(LococoError):
    """A dataset file is missing, unreadable or malformed."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class ConfigError(LococoError):
    """A config key is unknown or a value has the wrong type."""


class DivergenceError(LococoError):
    """Training produced NaN/Inf; the last good checkpoint is kept."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM stopped a command; ``checkpoint`` is where training state was saved.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int, checkpoint: Path | None = None, where: str = "") -> None:
        import signal

        self.signum = signum
        self.checkpoint = checkpoint
        self.where = where
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class ResultsNotSaved(LococoError):
    """Computed results could not be written to ``results.json`` (it became unreadable, or the
    run directory unwritable, while the command computed). ``value`` holds them, ``spare`` is
    where they were saved instead (``None`` when nowhere could be written)."""

    def __init__(self, problem: str, section: str, value: Any, spare: Path | None) -> None:
        self.section = section
        self.value = value
        self.spare = spare
        self.shown = False  # set once the command has printed ``value``
        where = f"saved to {spare}" if spare else "printed above only (nowhere could be written)"
        super().__init__(f"{problem}; the new '{section}' results were {where}")


def describe_os_error(err: OSError) -> str:
    """``PATH: problem`` for an error from the operating system."""
    problems = {
        errno.ENOSPC: "no space left on the device (disk full)",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "read-only file system",
        errno.ENAMETOOLONG: "file name too long",
        errno.ENOTDIR: "a path component is a file, not a directory",
        errno.EISDIR: "is a directory, not a file",
        errno.EEXIST: "already exists",
        errno.ENOENT: "no such file or directory",
    }
    problem = problems.get(err.errno or -1, err.strerror or str(err))
    path = err.filename if err.filename is not None else None
    if path is None:
        return problem
    where = f"{path} -> {err.filename2}" if err.filename2 is not None else str(path)
    return f"{where}: {problem}"
