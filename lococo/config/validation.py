"""Value checks shared by every system's config: ranges by key name, ``trainer.*`` values.

Every check raises :class:`~lococo.errors.ConfigError` with one line naming the key, the value
and what is allowed, before a command writes anything. The range rules go by the last part of
a key, so a new system's config gets them by naming its fields the usual way:

=====================================  ===================================================
key name                               allowed
=====================================  ===================================================
any number                             finite (no ``nan``/``inf``)
``*batch_size``, ``*image_size``,      integers >= 1
``*epochs``, ``*_dim``, ``*_steps``,
``*_size``
``lr``, ``*_lr``, ``width``            numbers > 0
``num_workers``, ``weight_decay``,     >= 0
``*_weight``, ``checkpoint_interval_s``
``p``, ``dropout``, ``*_prob``         numbers in [0, 1]
``beta1``, ``beta2``                   numbers in [0, 1)
=====================================  ===================================================
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from typing import Any

from lococo.errors import ConfigError

_POSITIVE_INT = ("batch_size", "image_size", "epochs", "_dim", "_steps", "_size")
_POSITIVE = ("lr", "width")
_NON_NEGATIVE = ("num_workers", "weight_decay", "_weight", "checkpoint_interval_s")
_UNIT = ("p", "dropout", "_prob")
_HALF_OPEN_UNIT = ("beta1", "beta2")

PRECISIONS = (
    "64",
    "32",
    "16",
    "bf16",
    "64-true",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
    "transformer-engine",
    "transformer-engine-float16",
)
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")


def did_you_mean(name: str, choices: Sequence[str], prefix: str = "") -> str:
    """``" (did you mean 'x.y'?)"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {prefix + close[0]!r}?)" if close else ""


def _matches(name: str, rules: Sequence[str]) -> bool:
    return any(name == r or (r.startswith("_") and name.endswith(r)) for r in rules) or any(
        not r.startswith("_") and name.endswith("_" + r) for r in rules
    )


def check_value(key: str, value: Any, source: str = "override") -> None:
    """Refuse a value outside the range its key's name implies (see the module's table)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    name = key.rsplit(".", 1)[-1]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{source}: {key}={v!r} is not allowed; expected a finite number")
        if isinstance(v, int) and _matches(name, _POSITIVE_INT) and v < 1:
            raise ConfigError(f"{source}: {key}={v!r} is not allowed; expected an integer >= 1")
        if _matches(name, _POSITIVE) and v <= 0:
            raise ConfigError(f"{source}: {key}={v!r} is not allowed; expected a number > 0")
        if _matches(name, _NON_NEGATIVE) and v < 0:
            raise ConfigError(f"{source}: {key}={v!r} is not allowed; expected a number >= 0")
        if _matches(name, _UNIT) and not 0 <= v <= 1:
            raise ConfigError(f"{source}: {key}={v!r} is not allowed; expected a number in [0, 1]")
        if name in _HALF_OPEN_UNIT and not 0 <= v < 1:
            raise ConfigError(f"{source}: {key}={v!r} is not allowed; expected a number in [0, 1)")


def check_trainer_values(cfg: dict[str, Any]) -> None:
    """Check the values of ``trainer.*`` keys that lococo's commands pass to Lightning."""
    for key, value in cfg.items():  # Lightning's own names: only finiteness by name
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"trainer.{key}={value!r} is not allowed; expected a finite number")
    if "max_epochs" in cfg:
        _int_at_least(cfg, "max_epochs", 0, "an integer >= 0 (0: no training)")
    for key, low in (("min_epochs", 0), ("accumulate_grad_batches", 1), ("log_every_n_steps", 1)):
        if cfg.get(key) is not None:
            _int_at_least(cfg, key, low, f"an integer >= {low}")
    if cfg.get("max_steps") not in (None, -1):
        _int_at_least(cfg, "max_steps", 1, "-1 (no limit) or an integer >= 1")
    if "precision" in cfg:
        precision = str(cfg["precision"])
        if precision not in PRECISIONS:
            raise ConfigError(
                f"trainer.precision={cfg['precision']!r} is not valid"
                f"{did_you_mean(precision, PRECISIONS)}; choose one of {', '.join(PRECISIONS)}"
            )
    accelerator = cfg.get("accelerator", "auto")
    if not isinstance(accelerator, str) or accelerator not in ACCELERATORS:
        raise ConfigError(
            f"trainer.accelerator={accelerator!r} is not valid; "
            f"choose one of {', '.join(ACCELERATORS)}"
        )
    if accelerator in ("gpu", "cuda") and not _cuda_devices():
        raise ConfigError(
            f"trainer.accelerator={accelerator!r}: no CUDA GPU is available on this machine; "
            "use trainer.accelerator=cpu or auto"
        )
    if accelerator == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise ConfigError("trainer.accelerator='mps': MPS is not available on this machine")
    if accelerator == "tpu":
        raise ConfigError("trainer.accelerator='tpu' is not supported by lococo")
    if "devices" in cfg:
        _check_devices(cfg["devices"], accelerator)
    if "strategy" in cfg and not isinstance(cfg["strategy"], str):
        raise ConfigError(f"trainer.strategy={cfg['strategy']!r} is not valid; expected a name")


def _int_at_least(cfg: dict[str, Any], key: str, low: int, allowed: str) -> None:
    value = cfg[key]
    if isinstance(value, float) and value.is_integer():
        value = cfg[key] = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"trainer.{key}={value!r} is not allowed; expected {allowed}")


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _check_devices(devices: Any, accelerator: str) -> None:
    """``devices``: a positive count, ``-1``/``"auto"`` (all), or a list of device indices."""
    bad = ConfigError(
        f"trainer.devices={devices!r} is not valid; expected a count >= 1, -1, 'auto' "
        "or a list of device indices like [0,1]"
    )
    if devices == "auto" or devices == -1:
        return
    if isinstance(devices, str):
        try:
            parsed: Any = [int(d) for d in devices.split(",") if d.strip()]
        except ValueError:
            raise bad from None
        if "," not in devices and parsed:
            parsed = parsed[0]
        devices = parsed
    if isinstance(devices, bool):
        raise bad
    if isinstance(devices, int):
        if devices < 1:
            raise bad
        count = devices
    elif isinstance(devices, (list, tuple)) and devices:
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in devices):
            raise bad
        count = max(devices) + 1
    else:
        raise bad
    if accelerator in ("gpu", "cuda") and count > _cuda_devices():
        raise ConfigError(
            f"trainer.devices={devices!r}: only {_cuda_devices()} CUDA GPU(s) on this machine"
        )


def config_changes(
    old: dict[str, Any], new: dict[str, Any], ignore: Sequence[str] = ("meta",)
) -> list[tuple[str, Any, Any]]:
    """``(dotted key, old value, new value)`` for every setting that differs (``ignore``: top-level
    sections left out, e.g. provenance). An empty section sets nothing: it equals an absent one
    (a section added since ``old`` was recorded is no change)."""
    from lococo.config.loading import flatten

    def settings(config: dict[str, Any]) -> dict[str, Any]:
        flat = flatten({k: v for k, v in config.items() if k not in ignore})
        return {k: v for k, v in flat.items() if v != {}}

    a, b = settings(old), settings(new)
    missing = object()
    return [
        (key, a.get(key), b.get(key))
        for key in dict.fromkeys([*a, *b])
        if a.get(key, missing) != b.get(key, missing)
    ]


def describe_changes(changes: Sequence[tuple[str, Any, Any]], limit: int = 4) -> str:
    """``"a.b: 1 -> 2, c: 'x' -> 'y'"`` (at most ``limit`` keys, then a count)."""
    parts = [f"{k}: {old!r} -> {new!r}" for k, old, new in changes[:limit]]
    if len(changes) > limit:
        parts.append(f"and {len(changes) - limit} more")
    return ", ".join(parts)


def refuse_changes(run: Any, saved: dict[str, Any], wanted: dict[str, Any]) -> None:
    """``--resume`` continues a run with the settings it started with: refuse any change."""
    changes = config_changes(saved, wanted)
    if changes:
        raise ConfigError(
            f"{run.path}: --resume continues a run with the settings in its config.yaml; this "
            f"command changes {describe_changes(changes)}. Drop those options to continue the "
            "run, or start a fresh run with another --out"
        )
