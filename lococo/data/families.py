"""Which data family reads which ``--format``: one table the CLI and the checks share.

Each family subpackage (``lococo.data.<family>``) has a ``check`` module with
``check_dataset(root, fmt, *, verify_images, progress, **options) -> dict`` (a JSON-friendly
summary whose ``"format"`` key is ``fmt``) and ``summary_lines(summary) -> list[str]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from lococo.errors import LococoError

#: ``--format`` name -> family subpackage of ``lococo.data``.
FORMATS: dict[str, str] = {
    "cub": "zsl",
    "awa2": "zsl",
    "sun": "zsl",
    "coco-stuff": "layout",
    "vg": "layout",
    "brats2015": "mri",
    "brats": "mri",
    "decathlon": "mri",
    "openi": "cxr",
}


def family_of(fmt: str) -> str:
    """The family subpackage reading ``fmt``; an unknown format is a one-line error."""
    try:
        return FORMATS[fmt.lower()]
    except KeyError:
        raise LococoError(
            f"unknown dataset format {fmt!r}; expected one of {', '.join(FORMATS)}"
        ) from None


def check_module(fmt: str) -> ModuleType:
    """The ``check`` module of the family reading ``fmt``."""
    return importlib.import_module(f"lococo.data.{family_of(fmt)}.check")
