"""``lococo ocgan sample``: layout JSON validation (one line, nothing written), determinism per
seed, layout editing under the same noise; ``donut`` on a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_ocgan_train import tiny_config

from lococo.data.layout.synth import synth_layout
from lococo.engine.run_dir import open_run
from lococo.errors import DataError, LococoError
from lococo.ocgan.gan_sample import read_layouts, sample_layouts
from lococo.ocgan.gan_train import train_gan

GOOD = [
    [
        {"label": "disc", "box": [0.1, 0.2, 0.45, 0.6]},
        {"label": "sky-other", "box": [0, 0, 1, 0.4]},
    ],
    [{"label": "square", "box": [0.5, 0.5, 0.9, 0.95]}],
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ocgan_sample")
    synth_layout(root / "coco", seed=1, images=20, image_size=32, progress=False)
    cfg = tiny_config(root / "coco", **{"trainer.max_epochs": 1})
    train_gan(cfg, open_run(root / "run", resume=False), progress=False)
    return root / "run"


def _write(tmp_path: Path, payload) -> Path:
    path = tmp_path / "layouts.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def test_same_seed_same_images_other_seed_other_images(run, tmp_path):
    layouts = _write(tmp_path, GOOD)
    a = sample_layouts(run, layouts, tmp_path / "a", seed=3, per_layout=2)
    sample_layouts(run, layouts, tmp_path / "b", seed=3, per_layout=2)
    sample_layouts(run, layouts, tmp_path / "c", seed=4, per_layout=2)
    assert a["images"] == 4
    names = sorted(p.name for p in (tmp_path / "a" / "images").iterdir())
    assert names == ["scene0_0.png", "scene0_1.png", "scene1_0.png", "scene1_1.png"]
    for name in names:
        assert np.array_equal(
            _pixels(tmp_path / "a" / "images" / name), _pixels(tmp_path / "b" / "images" / name)
        )
    assert not np.array_equal(
        _pixels(tmp_path / "a" / "images" / "scene0_0.png"),
        _pixels(tmp_path / "c" / "images" / "scene0_0.png"),
    )
    # two images of one layout differ (different noise)
    assert not np.array_equal(
        _pixels(tmp_path / "a" / "images" / "scene0_0.png"),
        _pixels(tmp_path / "a" / "images" / "scene0_1.png"),
    )
    for name in ("grid.png", "editing.png", "sample.json"):
        assert (tmp_path / "a" / name).is_file()
    edit = tmp_path / "a" / "editing"
    original = _pixels(edit / "scene0_original.png")
    # the original of the editing row is the first image of the layout (same noise)
    assert np.array_equal(original, _pixels(tmp_path / "a" / "images" / "scene0_0.png"))
    assert not np.array_equal(original, _pixels(edit / "scene0_moved.png"))
    assert not np.array_equal(original, _pixels(edit / "scene0_resized.png"))


# fmt: off
BAD = {
    "unknown-label": ([[{"label": "unicorn", "box": [0.1, 0.1, 0.5, 0.5]}]],
                      "scene 0, object 0: unknown label 'unicorn'"),
    "box-outside": ([[{"label": "disc", "box": [0.1, 0.1, 1.2, 0.5]}]], "outside [0, 1]"),
    "box-negative": ([GOOD[0], [{"label": "disc", "box": [-0.1, 0.1, 0.5, 0.5]}]],
                     "scene 1, object 0"),
    "box-inverted": ([[{"label": "disc", "box": [0.6, 0.1, 0.5, 0.5]}]], "inverted"),
    "box-three-numbers": ([[{"label": "disc", "box": [0.1, 0.1, 0.5]}]], "four numbers"),
    "empty-scene": ([GOOD[0], []], "scene 1: empty scene"),
    "too-many-objects": ([[{"label": "disc", "box": [0.1, 0.1, 0.5, 0.5]}] * 9],
                         "more than the model allows (8)"),
    "not-a-list": ({"label": "disc"}, "non-empty JSON list"),
    "no-scenes": ([], "non-empty JSON list"),
    "extra-key": ([[{"label": "disc", "box": [0.1, 0.1, 0.5, 0.5], "colour": 3}]], "expected {"),
    "not-json": ("[[{'label': 'disc'}]]", "not valid JSON"),
}
# fmt: on


@pytest.mark.parametrize("case", list(BAD))
def test_bad_layout_file_is_one_line_and_nothing_is_written(run, tmp_path, case):
    payload, fragment = BAD[case]
    layouts = _write(tmp_path, payload)
    out = tmp_path / "out"
    with pytest.raises(DataError) as err:
        sample_layouts(run, layouts, out)
    message = str(err.value)
    assert fragment in message and str(layouts) in message and "\n" not in message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["layouts.json"]  # no temporary leftovers


def test_missing_layout_file_and_non_empty_out(run, tmp_path):
    with pytest.raises(DataError, match="layout file not found"):
        read_layouts(tmp_path / "absent.json", ["disc"], 8)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(LococoError, match="not an empty directory"):
        sample_layouts(run, _write(tmp_path, GOOD), tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_donut_writes_fractions_per_gap(run, tmp_path):
    from lococo.ocgan.donut import GAPS, run_donut, separation

    result = run_donut(run, tmp_path / "donut", layouts=3)
    (model,) = result["models"].values()
    assert set(model["per_gap"]) == {f"{g:+.2f}" for g in GAPS}
    assert 0.0 <= model["distinct_overlapping"] <= 1.0
    assert (tmp_path / "donut" / "donut.png").is_file()
    # the measure itself: two red squares on grey, apart (a grey valley) or merged into a bar
    import torch

    apart = -torch.ones(1, 3, 32, 32) * 0.2
    merged = apart.clone()
    apart[:, 0, 10:20, 4:12] = 1.0
    apart[:, 0, 10:20, 20:28] = 1.0
    merged[:, 0, 10:20, 4:28] = 1.0
    boxes = torch.tensor(
        [[[4 / 32, 10 / 32, 12 / 32, 20 / 32], [20 / 32, 10 / 32, 28 / 32, 20 / 32]]]
    )
    assert float(separation(apart, boxes)[0]) > 0.3 > float(separation(merged, boxes)[0])
