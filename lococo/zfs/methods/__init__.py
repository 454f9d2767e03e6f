"""ZFS pretraining methods: one Lightning module per family on a shared base.

Methods are looked up lazily so that importing one does not import every family.
"""

from __future__ import annotations

import importlib

from lococo.zfs.methods.base import ZFSMethod

#: method name -> "module:Class" under ``lococo.zfs.methods``
METHODS: dict[str, str] = {
    "fc": "fc:FCMethod",
    "vae": "vae:VAEMethod",
    "beta_vae": "vae:BetaVAEMethod",
    "aae": "aae:AAEMethod",
    "dim": "dim:DIMMethod",
    "amdim": "amdim:AMDIMMethod",
    "cmdim": "dim:CMDIMMethod",
}


def method_class(name: str) -> type[ZFSMethod]:
    try:
        module, cls = METHODS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None
    return getattr(importlib.import_module(f"lococo.zfs.methods.{module}"), cls)


__all__ = ["METHODS", "ZFSMethod", "method_class"]
