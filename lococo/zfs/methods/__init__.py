"""ZFS pretraining methods: one Lightning module per family on a shared base."""

from __future__ import annotations

from lococo.zfs.methods.base import ZFSMethod
from lococo.zfs.methods.fc import FCMethod

METHODS: dict[str, type[ZFSMethod]] = {"fc": FCMethod}


def method_class(name: str) -> type[ZFSMethod]:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None


__all__ = ["METHODS", "FCMethod", "ZFSMethod", "method_class"]
