"""User-facing errors: one clear line, non-zero exit code, no traceback."""

from __future__ import annotations

from pathlib import Path


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
