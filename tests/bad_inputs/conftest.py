"""Session-wide pristine inputs of the bad-input catalogue (each case works on a private copy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bad_inputs import builders

BUILDERS: dict[str, Callable[[Path], Path]] = {
    "zsl": builders.zsl_tree,
    "coco": builders.layout_tree,
    "vg": builders.vg_tree,
    "brats": builders.brats_tree,
    "brats2015": builders.brats2015_tree,
    "decathlon": builders.decathlon_tree,
    "openi": builders.openi_tree,
    "images": builders.image_folder,
    "gan": builders.gan_run,
}


class Pristine:
    """Builds each pristine input the first time a case asks for it."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.built: dict[str, Path] = {}

    def get(self, name: str) -> Path:
        if name not in self.built:
            base = self.factory.mktemp(f"pristine_{name}")
            if name == "run":
                self.built[name] = builders.zfs_run(self.get("zsl"), base / "run")
            elif name == "none":
                self.built[name] = base / "empty"
                self.built[name].mkdir()
            else:
                self.built[name] = BUILDERS[name](base / name)
        return self.built[name]


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    return Pristine(tmp_path_factory)
