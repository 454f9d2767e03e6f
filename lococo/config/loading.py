"""Build a config from dataclass defaults, a profile, a YAML file and ``key=value`` overrides.

Precedence (later wins): dataclass defaults < profile YAML < ``--config`` file < overrides.
Every key is checked against the schema; an unknown key or a value of the wrong type raises
:class:`~lococo.errors.ConfigError` naming the key and the valid choices.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from lococo.config.validation import check_value, did_you_mean
from lococo.errors import ConfigError

T = TypeVar("T")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
PROFILES = ("quick", "paper")


def profile_path(system: str, profile: str) -> Path:
    """The packaged YAML of ``profile`` (quick|paper) for ``system`` (e.g. ``zfs``)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return Path(str(resources.files("lococo") / "configs" / f"{system}_{profile}.yaml"))


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; --config expects a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({_yaml_problem(err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
    return data


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A one-line description of a YAML error with its line number."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return " ".join(f"{where}{problem}".split())


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``a.b=value`` strings; values are YAML scalars (``1e-3``, ``true``, ``[1,2]``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads "1e-3" as a string
        out[key.strip()] = value
    return out


def load_config(
    schema: type[T],
    *,
    system: str | None = None,
    profile: str | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | Iterable[str] = (),
) -> T:
    """Resolve a config of type ``schema`` from its layers."""
    cfg = schema()
    if profile is not None:
        if system is None:
            raise ValueError("a profile needs the system name")
        cfg = apply_overrides(cfg, _flatten(read_yaml(profile_path(system, profile))), "profile")
    if config_file is not None:
        cfg = apply_overrides(cfg, _flatten(read_yaml(config_file)), str(config_file))
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    cfg = apply_overrides(cfg, overrides, "override")
    trainer = getattr(cfg, "trainer", None)
    if isinstance(trainer, dict):  # Lightning's arguments: checked before anything is written
        from lococo.engine.trainer import validate_trainer_config

        validate_trainer_config(trainer)
    return cfg


def apply_overrides(cfg: T, values: Mapping[str, Any], source: str = "override") -> T:
    """Return a copy of ``cfg`` with dotted keys set; every key and value is validated."""
    cfg = _deepcopy(cfg)
    for dotted, value in values.items():
        _set(cfg, dotted, value, source)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain nested dict (YAML/JSON friendly) of a config dataclass."""
    return _plain(dataclasses.asdict(cfg))


def from_dict(schema: type[T], data: Mapping[str, Any], source: str) -> T:
    """Rebuild a config from a saved nested dict (e.g. a run's ``config.yaml``)."""
    return apply_overrides(schema(), _flatten(dict(data)), source)


def _set(cfg: Any, dotted: str, value: Any, source: str) -> None:
    parts = dotted.split(".")
    node = cfg
    for depth, name in enumerate(parts):
        prefix = ".".join(parts[:depth])
        if isinstance(node, dict):  # free-form section (e.g. trainer): validated by its owner
            if depth != len(parts) - 1:
                raise ConfigError(f"{source}: {dotted}: {prefix} takes flat keys only")
            node[name] = value
            return
        fields = {f.name: f for f in dataclasses.fields(node)}
        if name not in fields:
            where = f"{prefix}." if prefix else ""
            raise ConfigError(
                f"{source}: unknown config key {dotted!r}"
                f"{did_you_mean(name, list(fields), where)}; "
                f"valid keys: {', '.join(where + f for f in fields)}"
            )
        if depth == len(parts) - 1:
            hint = typing.get_type_hints(type(node))[name]
            coerced = _coerce(value, hint, dotted, source)
            if not dataclasses.is_dataclass(coerced):
                check_value(dotted, coerced, source)
            setattr(node, name, coerced)
            return
        node = getattr(node, name)
        if not (dataclasses.is_dataclass(node) or isinstance(node, dict)):
            raise ConfigError(
                f"{source}: {dotted}: {'.'.join(parts[: depth + 1])} is not a section"
            )


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {key} is a section; set its keys as {key}.<name>=...")
        return apply_overrides(hint(), _flatten(dict(value)), source)
    if hint is Any:
        return value
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            valid = ", ".join(repr(c) for c in choices)
            raise ConfigError(f"{source}: {key}={value!r} is not valid; choose one of {valid}")
        return value
    if origin in (Union, types.UnionType):
        args = get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, source)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{source}: {key}: invalid value {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            value = [value]
        args = get_args(hint)
        item = args[0] if args else Any
        items = [_coerce(v, item, key, source) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {key} expects a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {key} expects true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{source}: {key} expects an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{source}: {key} expects a number, got {value!r}")
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{source}: {key} expects a string, got {value!r}")
    return value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and prefix.count(".") < 8:
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _deepcopy(cfg: T) -> T:
    import copy

    return copy.deepcopy(cfg)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


#: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (the keys of ``key=value`` overrides).
flatten = _flatten
