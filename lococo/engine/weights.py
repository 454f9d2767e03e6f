"""Reading and writing PyTorch files safely: weights-only loading, one-line errors.

Every ``torch.load`` in lococo goes through :func:`load_weights` (``weights_only=True``: no
pickled code runs). A file that is truncated, corrupt, not a PyTorch file, or that holds
pickled objects other than tensors and plain containers is refused with one line naming the
file; lococo never suggests loading it with ``weights_only=False``.
"""

from __future__ import annotations

import errno
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lococo.errors import DataError, LococoError
from lococo.io import atomic_open

_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_weights(path: str | Path, what: str = "PyTorch file") -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; one-line :class:`DataError` when the
    file is missing, unreadable, corrupt or holds objects that are not tensors."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"{what} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = _GLOBAL.search(str(err))
        if found is None:  # not a pickle PyTorch can read at all
            problem = f"{what} is truncated, corrupt or not a PyTorch file; {_ADVICE}"
            raise DataError(path, problem) from None
        raise DataError(
            path,
            f"{what} holds a pickled {found.group(1)} object, not only tensors; lococo does not "
            "load such files (delete it, or re-create it with lococo)",
        ) from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, KeyError) as err:
        raise DataError(
            path, f"{what} is truncated or corrupt ({_first_line(err)}); {_ADVICE}"
        ) from None
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM, errno.EISDIR, errno.EIO):
            raise DataError(path, f"cannot read {what} ({err.strerror})") from None
        # PyTorch's reader reports a truncated archive as e.g. "Invalid argument"
        raise DataError(
            path, f"{what} is truncated or corrupt ({_first_line(err)}); {_ADVICE}"
        ) from None


_ADVICE = "delete or replace it"


def load_state_dict(path: str | Path, what: str = "weights file") -> dict[str, torch.Tensor]:
    """A state dict (name -> tensor) from ``path``; anything else is refused with one line."""
    state = load_weights(path, what)
    if (
        isinstance(state, Mapping)
        and "state_dict" in state
        and isinstance(state["state_dict"], Mapping)
    ):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise DataError(path, f"{what} is not a state dict (a mapping of names to tensors)")
    return dict(state)


def save_weights(obj: Any, path: str | Path) -> None:
    """``torch.save`` atomically; a full disk or unwritable folder is one line naming ``path``."""
    path = Path(path)
    try:
        with atomic_open(path, "wb") as handle:
            torch.save(obj, handle)
    except RuntimeError as err:  # PyTorch reports a full disk as "unexpected pos ..."
        raise LococoError(
            f"{path}: could not write ({_first_line(err)}); is the disk full?"
        ) from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    line = line.split(". ")[0].replace("weights_only=False", "").strip().rstrip(".")
    return line[:160]
