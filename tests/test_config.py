"""Configs: profiles, YAML files and typed key=value overrides."""

from __future__ import annotations

import pytest

from lococo.config.loading import from_dict, load_config, parse_overrides, to_dict
from lococo.engine.trainer import validate_trainer_config
from lococo.errors import ConfigError
from lococo.zfs.config import ZFSConfig


def test_profiles_differ_and_overrides_win():
    quick = load_config(ZFSConfig, system="zfs", profile="quick")
    paper = load_config(ZFSConfig, system="zfs", profile="paper")
    assert quick.data.image_size == 64 and paper.data.image_size == 128
    assert paper.optim.lr == pytest.approx(1e-4) and paper.data.batch_size == 64  # app. A.2
    cfg = load_config(
        ZFSConfig,
        system="zfs",
        profile="quick",
        overrides=["optim.lr=3e-4", "trainer.max_epochs=2", "encoder.name=alexnet"],
    )
    assert cfg.optim.lr == pytest.approx(3e-4)
    assert cfg.trainer["max_epochs"] == 2 and cfg.trainer["accelerator"] == "cpu"
    assert cfg.encoder.name == "alexnet"


def test_yaml_file_layer(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  batch_size: 16\nseed: 7\n")
    cfg = load_config(
        ZFSConfig, system="zfs", profile="quick", config_file=path, overrides=["seed=8"]
    )
    assert cfg.data.batch_size == 16 and cfg.seed == 8


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lrr=1", "unknown config key 'optim.lrr' (did you mean 'optim.lr'"),
        ("encoder.name=resnet", "choose one of 'basic', 'alexnet'"),
        ("data.batch_size=abc", "data.batch_size expects an integer"),
        ("data.cache_images=3", "expects true or false"),
        ("seed", "not of the form key=value"),
        ("optim=1", "optim is a section"),
    ],
)
def test_bad_overrides_name_key_and_choices(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(ZFSConfig, overrides=[override])


def test_trainer_keys_are_checked_against_lightning():
    validate_trainer_config({"max_epochs": 3, "precision": "bf16-mixed", "strategy": "ddp"})
    with pytest.raises(ConfigError, match=r"trainer\.max_epoch'"):
        validate_trainer_config({"max_epoch": 3})
    with pytest.raises(ConfigError, match="managed by lococo"):
        validate_trainer_config({"logger": False})


def test_round_trip_through_plain_dict():
    cfg = load_config(ZFSConfig, system="zfs", profile="quick", overrides=["data.splits_dir=/x"])
    again = from_dict(ZFSConfig, to_dict(cfg), "saved")
    assert again == cfg


def test_override_values_are_yaml_typed():
    assert parse_overrides(["a=1e-3", "b=true", "c=[1, 2]", "d=text"]) == {
        "a": 1e-3,
        "b": True,
        "c": [1, 2],
        "d": "text",
    }
