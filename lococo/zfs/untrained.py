"""The encoder of a run at initialisation, the baseline every learned measure is read against.

A trained encoder's parts F1, TRE ratio and zero-shot accuracy only mean something next to the
same measures of the same architecture with the weights it started from: random convolutional
features already localise colourful parts and carry some class information. Every run's
``results.json`` therefore holds ``zsl.top1_untrained``, ``analysis.parts_f1_untrained`` and
``analysis.tre_ratio_untrained`` (see :mod:`lococo.zfs.evaluate`, :mod:`lococo.zfs.analyze`).

The untrained measures depend only on the data, the architecture, the seed and the evaluation
settings, so cells of a study that share those (every method of ``lococo run``) compute them
once per process (:func:`cached`).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from lococo.config.loading import to_dict
from lococo.nn.encoders import Encoder
from lococo.zfs.config import ZFSConfig

T = TypeVar("T")
_CACHE: OrderedDict[str, Any] = OrderedDict()
CACHE_SIZE = 8


def initial_encoder(cfg: ZFSConfig) -> Encoder:
    """The encoder ``lococo zfs pretrain`` starts from for ``cfg``: same architecture, weights
    drawn after seeding torch with ``cfg.seed`` (as ``pretrain`` does before building the
    method, whose first module is the encoder). The global RNG state is left untouched."""
    from lococo.zfs.methods.base import encoder_from_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return encoder_from_config(to_dict(cfg)).eval()


def baseline_key(cfg: ZFSConfig, kind: str, extra: Any = None) -> str:
    """What an untrained measure depends on: data (path and the time its image list changed),
    architecture, seed and the evaluation settings of ``kind`` (``zsl`` or ``analysis``)."""
    images = Path(cfg.data.path) / "CUB_200_2011" / "images.txt"
    stamp = images.stat().st_mtime_ns if images.is_file() else None
    full = to_dict(cfg)
    parts = {
        "kind": kind,
        "data": full["data"],
        "stamp": stamp,
        "encoder": full["encoder"],
        "seed": full["seed"],
        "settings": full[kind],
        "extra": extra,
    }
    return json.dumps(parts, sort_keys=True, default=str)


def fingerprint(encoder: Encoder) -> str:
    """A cheap fingerprint of an encoder's architecture and weights (part of a cache key)."""
    state = encoder.state_dict()
    total = sum(float(v.double().sum()) for v in state.values() if v.is_floating_point())
    return f"{type(encoder).__name__}:{len(state)}:{total:.10e}"


def cached(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, remembered under ``key`` for the rest of the process (a few entries)."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = compute()
    _CACHE[key] = value
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def clear_cache() -> None:
    _CACHE.clear()


#: Per-cell keys of the untrained baseline -> the measure they are a baseline of.
BASELINE_KEYS = {
    "top1_untrained": "top1",
    "parts_f1_untrained": "parts_f1",
    "tre_ratio_untrained": "tre_ratio",
}
UNTRAINED_MODEL = "untrained"


def untrained_row(results: dict[str, Any]) -> dict[str, Any]:
    """The untrained-encoder measures of a run's ``results.json`` (absent ones left out)."""
    zsl, analysis = results.get("zsl") or {}, results.get("analysis") or {}
    row = {"top1_untrained": zsl.get("top1_untrained")}
    row["parts_f1_untrained"] = analysis.get("parts_f1_untrained")
    row["tre_ratio_untrained"] = analysis.get("tre_ratio_untrained")
    return {k: v for k, v in row.items() if v is not None}


def untrained_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summary rows (model ``untrained``, one per encoder) of a study's cell rows: the
    baselines under the names of the measures they are baselines of, mean ± std over seeds.
    Cells of one encoder and seed share their initial weights, so each seed counts once."""
    from lococo.study.stats import summarize_groups

    by_seed: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        values = {m: row[k] for k, m in BASELINE_KEYS.items() if row.get(k) is not None}
        if values:
            entry = by_seed.setdefault((row["encoder"], row["seed"]), {})
            for key, value in values.items():
                entry.setdefault(key, value)
    flat = [
        {"model": UNTRAINED_MODEL, "local_loss": "none", "encoder": e, "seed": s, **v}
        for (e, s), v in sorted(by_seed.items())
    ]
    chance = {row["encoder"]: row.get("chance") for row in rows}
    out = summarize_groups(flat, ("model", "local_loss", "encoder"), tuple(BASELINE_KEYS.values()))
    for row in out:
        row["chance"] = chance.get(row["encoder"])
    return out
