"""Typed configs: dataclass schemas, YAML profiles and files, ``key=value`` overrides."""

from lococo.config.loading import apply_overrides, load_config, parse_overrides, to_dict

__all__ = ["apply_overrides", "load_config", "parse_overrides", "to_dict"]
