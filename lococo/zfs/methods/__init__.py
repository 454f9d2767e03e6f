"""ZFS pretraining methods: one Lightning module per family on a shared base.

Methods are looked up lazily so that importing one does not import every family.
"""

from __future__ import annotations

import importlib

from lococo.zfs.methods.base import ZFSMethod

#: method name -> "module:Class" under ``lococo.zfs.methods``
METHODS: dict[str, str] = {
    "fc": "fc:FCMethod",
    "pn": "pn:PNMethod",
    "vae": "vae:VAEMethod",
    "beta_vae": "vae:BetaVAEMethod",
    "aae": "aae:AAEMethod",
    "dim": "dim:DIMMethod",
    "amdim": "amdim:AMDIMMethod",
    "cmdim": "dim:CMDIMMethod",
}
#: CMDIM's class per ``method.base`` (``dim``: single-view DIM; ``twopass``: AMDIM's objective)
CMDIM_BASES: dict[str, str] = {
    "dim": "dim:CMDIMMethod",
    "twopass": "cmdim_twopass:CMDIMTwoPassMethod",
}


def method_class(name: str, base: str | None = None) -> type[ZFSMethod]:
    """The Lightning module of method ``name``; for ``cmdim``, ``base`` picks its base model
    (``None``: the single-view ``dim`` base). Other methods ignore ``base``."""
    try:
        target = METHODS[name]
        if name == "cmdim" and base is not None:
            target = CMDIM_BASES[base]
    except KeyError:
        raise ValueError(
            f"unknown method {name!r} (base {base!r}); choose one of {', '.join(METHODS)}"
        ) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(f"lococo.zfs.methods.{module}"), cls)


__all__ = ["CMDIM_BASES", "METHODS", "ZFSMethod", "method_class"]
