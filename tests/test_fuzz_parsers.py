"""Fuzzing every parser of external files: arbitrary mutations of a valid file either load or
raise lococo's ``LococoError`` (``DataError``/``ConfigError``) — never another exception, never
a hang (hypothesis deadlines).

Budgets: the ``ci`` profile (default) keeps each target to a few seconds; ``deep`` runs many
more examples: ``HYPOTHESIS_PROFILE=deep pytest -m slow tests/test_fuzz_parsers.py`` (the
``slow`` tests use ``deep`` whatever the environment says).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zsl_fixtures as fx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lococo.errors import LococoError

COMMON = {
    "suppress_health_check": list(HealthCheck),
    "derandomize": True,
    "database": None,
    "print_blob": False,
}
settings.register_profile("ci", max_examples=25, deadline=3000, **COMMON)
settings.register_profile("deep", max_examples=100, deadline=10000, **COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ---------------------------------------------------------------- mutations


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` after 1-4 edits: flip, overwrite, delete, insert, duplicate or truncate."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "delete", "insert", "dup", "truncate"]))
        if not out:
            out += draw(st.binary(max_size=16))
            continue
        i = draw(st.integers(0, len(out) - 1))
        if op == "flip":
            out[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            out[i] = draw(st.sampled_from(b" \t\n\r0-9.,;:e\x00\xff\"'{}[]<>&"))
        elif op == "delete":
            del out[i : i + draw(st.integers(1, 16))]
        elif op == "insert":
            out[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "dup":
            j = min(len(out), i + draw(st.integers(1, 64)))
            out[i:i] = out[i:j]
        else:
            del out[i:]
    return bytes(out)


def _fuzz_file(path: Path, load: Callable[[], object]) -> Callable[..., None]:
    """A hypothesis test body: write a mutation of ``path``, call ``load``, restore ``path``."""
    original = path.read_bytes()

    @given(mutated(original))
    def body(data: bytes) -> None:
        path.write_bytes(data)
        try:
            load()
        except LococoError:
            pass
        finally:
            path.write_bytes(original)

    return body


def _run(body: Callable[[], None], deep: bool) -> None:
    if deep:
        settings(settings.get_profile("deep"))(body)()
    else:
        body()


DEPTHS = [pytest.param(False, id="ci"), pytest.param(True, id="deep", marks=pytest.mark.slow)]


# ---------------------------------------------------------------- ZSL


@pytest.fixture(scope="module")
def cub(tmp_path_factory: pytest.TempPathFactory) -> fx.Tree:
    return fx.make_cub(tmp_path_factory.mktemp("fuzz_cub"))


CUB_FILES = [
    "images.txt",
    "image_class_labels.txt",
    "classes.txt",
    "train_test_split.txt",
    "bounding_boxes.txt",
    "parts/parts.txt",
    "parts/part_locs.txt",
    "parts/part_click_locs.txt",
    "attributes/image_attribute_labels.txt",
    "attributes/class_attribute_labels_continuous.txt",
]


@pytest.mark.parametrize("deep", DEPTHS)
@pytest.mark.parametrize("name", CUB_FILES)
def test_cub_text_files(cub: fx.Tree, name: str, deep: bool) -> None:
    from lococo.data.zsl.cub import load_cub

    _run(_fuzz_file(cub.root / "CUB_200_2011" / name, lambda: load_cub(cub.root)), deep)


@pytest.mark.parametrize("deep", DEPTHS)
@pytest.mark.parametrize("name", ["att_splits.mat", "res101.mat"])
def test_xlsa17_mat(cub: fx.Tree, name: str, deep: bool) -> None:
    from lococo.data.zsl.cub import load_cub

    _run(_fuzz_file(cub.splits / name, lambda: load_cub(cub.root)), deep)


# ---------------------------------------------------------------- config overrides

KEYS = [
    "data.batch_size",
    "data.image_size",
    "optim.lr",
    "trainer.max_epochs",
    "method.p",
    "trainer.precision",
    "trainer.devices",
    "trainer.accelerator",
    "encoder.width",
    "zsl.epochs",
    "data.num_workers",
    "seed",
]
VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "",
            "nan",
            "-inf",
            "[1, 2",
            "{a: 1}",
            "null",
            "true",
            "1e400",
            "0x10",
            "!!python/object:os.system",
            "'quoted'",
            "a: b: c",
        ]
    ),
)
OVERRIDE = st.one_of(
    st.tuples(st.sampled_from(KEYS), VALUES).map("=".join),
    st.text(max_size=30),
)


@pytest.mark.parametrize("deep", DEPTHS)
def test_config_overrides(deep: bool) -> None:
    from lococo.config.loading import load_config
    from lococo.zfs.config import ZFSConfig

    load_config(ZFSConfig, system="zfs", profile="quick")  # imports outside the deadline

    @given(st.lists(OVERRIDE, max_size=3))
    def body(items: list[str]) -> None:
        with contextlib.suppress(LococoError):
            load_config(ZFSConfig, system="zfs", profile="quick", overrides=items)

    _run(body, deep)


@pytest.mark.parametrize("deep", DEPTHS)
def test_config_file(tmp_path_factory: pytest.TempPathFactory, deep: bool) -> None:
    from lococo.config.loading import load_config
    from lococo.zfs.config import ZFSConfig

    path = tmp_path_factory.mktemp("fuzz_cfg") / "config.yaml"
    path.write_text(
        "data:\n  batch_size: 16\n  image_size: 64\noptim:\n  lr: 0.001\n"
        "trainer:\n  max_epochs: 2\n  precision: 32\nmethod:\n  p: 0.5\n"
    )
    _run(_fuzz_file(path, lambda: load_config(ZFSConfig, system="zfs", config_file=path)), deep)


# ---------------------------------------------------------------- layouts


@pytest.fixture(scope="module")
def coco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lococo.data.layout.synth import synth_layout

    root = tmp_path_factory.mktemp("fuzz_coco") / "coco"
    synth_layout(root, seed=2, images=10, image_size=32, workers=1, progress=False)
    return root


JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(), st.text(max_size=5)
)
KEY = st.text(max_size=8)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEY, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def json_edit(draw: st.DrawFn, payload: object) -> object:
    """``payload`` with one value somewhere inside replaced by an arbitrary JSON value."""
    payload = json.loads(json.dumps(payload))
    node = payload
    for _ in range(draw(st.integers(0, 4))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], dict | list) or not node[key]:
                node[key] = draw(JSON_VALUE)
                return payload
            node = node[key]
        elif isinstance(node, list) and node:
            i = draw(st.integers(0, len(node) - 1))
            if not isinstance(node[i], dict | list) or not node[i]:
                node[i] = draw(JSON_VALUE)
                return payload
            node = node[i]
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        if draw(st.booleans()):
            del node[key]
        else:
            node[key] = draw(JSON_VALUE)
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(JSON_VALUE)
    return payload


COCO_FILES = ["instances_train2017.json", "stuff_val2017.json"]


@pytest.mark.parametrize("deep", DEPTHS)
@pytest.mark.parametrize("name", COCO_FILES)
def test_coco_json_structure(coco: Path, name: str, deep: bool) -> None:
    from lococo.data.layout import load_layout

    path = coco / "annotations" / name
    original = path.read_bytes()

    @given(json_edit(json.loads(original)))
    def body(payload: object) -> None:
        path.write_text(json.dumps(payload))
        try:
            load_layout(coco, "coco-stuff")
        except LococoError:
            pass
        finally:
            path.write_bytes(original)

    _run(body, deep)


@pytest.mark.parametrize("deep", DEPTHS)
def test_coco_json_bytes(coco: Path, deep: bool) -> None:
    from lococo.data.layout import load_layout

    path = coco / "annotations" / "instances_val2017.json"
    _run(_fuzz_file(path, lambda: load_layout(coco, "coco-stuff")), deep)


@pytest.fixture(scope="module")
def vg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_layout_readers import _objects, write_vg

    root = tmp_path_factory.mktemp("fuzz_vg") / "vg"
    return write_vg(root, {"train": [_objects(3)], "val": [_objects(4)], "test": [_objects(3)]})


@pytest.mark.parametrize("deep", DEPTHS)
def test_vg_vocab_json(vg: Path, deep: bool) -> None:
    from lococo.data.layout import load_layout

    path = vg / "vocab.json"
    original = path.read_bytes()

    @given(json_edit(json.loads(original)))
    def body(payload: object) -> None:
        path.write_text(json.dumps(payload))
        try:
            load_layout(vg, "vg")
        except LococoError:
            pass
        finally:
            path.write_bytes(original)

    _run(body, deep)


@pytest.mark.parametrize("deep", DEPTHS)
def test_vg_h5_bytes(vg: Path, deep: bool) -> None:
    from lococo.data.layout import load_layout

    _run(_fuzz_file(vg / "val.h5", lambda: load_layout(vg, "vg")), deep)


# ---------------------------------------------------------------- Open-I XML, GloVe


@pytest.fixture(scope="module")
def openi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lococo.data.cxr.synth import synth_cxr

    root = tmp_path_factory.mktemp("fuzz_openi") / "openi"
    synth_cxr(root, seed=2, reports=4, image_size=32, progress=False)
    return root


@pytest.mark.parametrize("deep", DEPTHS)
def test_openi_xml(openi: Path, deep: bool) -> None:
    from lococo.data.cxr.openi import parse_report

    path = openi / "ecgen-radiology" / "1.xml"
    _run(_fuzz_file(path, lambda: parse_report(path)), deep)


@pytest.mark.parametrize("deep", DEPTHS)
def test_glove_text(tmp_path_factory: pytest.TempPathFactory, deep: bool) -> None:
    from lococo.data.cxr.glove import read_glove, write_glove

    path = tmp_path_factory.mktemp("fuzz_glove") / "glove.txt"
    rng = np.random.default_rng(0)
    write_glove(path, ["the", "lung", "is", "clear", "<unk>"], rng.normal(size=(5, 4)))
    _run(_fuzz_file(path, lambda: read_glove(path)), deep)
    _run(_fuzz_file(path, lambda: read_glove(path, dim=4, vocabulary=["lung", "x"])), deep)


# ---------------------------------------------------------------- NIfTI / MHA headers


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import gzip

    import nibabel as nib
    import SimpleITK as sitk

    sitk.ProcessObject_SetGlobalWarningDisplay(False)  # mutated headers would flood stderr
    root = tmp_path_factory.mktemp("fuzz_volumes")
    data = np.arange(4 * 5 * 3, dtype=np.int16).reshape(4, 5, 3)
    nib.save(nib.Nifti1Image(data, np.diag([1.5, 2.0, 3.0, 1.0])), root / "v.nii")
    with gzip.open(root / "v.nii.gz", "wb") as f:
        f.write((root / "v.nii").read_bytes())
    image = sitk.GetImageFromArray(data)
    image.SetSpacing((1.0, 2.0, 3.0))
    sitk.WriteImage(image, str(root / "v.mha"))
    return {"nii": root / "v.nii", "nii.gz": root / "v.nii.gz", "mha": root / "v.mha"}


@pytest.mark.parametrize("deep", DEPTHS)
@pytest.mark.parametrize("kind", ["nii", "mha"])
def test_volume_headers(volumes: dict[str, Path], kind: str, deep: bool) -> None:
    """Mutations confined to the header (NIfTI: first 352 bytes; MHA: the text lines)."""
    from lococo.data.mri.volumes import header_geometry, read_oriented

    path = volumes[kind]
    original = path.read_bytes()
    cut = 352 if kind == "nii" else original.index(b"ElementDataFile") + 40

    @given(mutated(original[:cut]))
    def body(header: bytes) -> None:
        path.write_bytes(header + original[cut:])
        try:
            header_geometry(path)
            read_oriented(path)
        except LococoError:
            pass
        finally:
            path.write_bytes(original)

    _run(body, deep)


@pytest.fixture(scope="module")
def decathlon(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_mri_readers import make_canonical, write_decathlon

    root = tmp_path_factory.mktemp("fuzz_decathlon") / "dec"
    return write_decathlon(root, {"BRATS_001": make_canonical(5)}, ["flair", "t1", "t1c", "t2"])


@pytest.mark.parametrize("deep", DEPTHS)
def test_decathlon_dataset_json(decathlon: Path, deep: bool) -> None:
    from lococo.data.mri import load_mri

    path = decathlon / "dataset.json"
    original = path.read_bytes()

    @given(json_edit(json.loads(original)))
    def body(payload: object) -> None:
        path.write_text(json.dumps(payload))
        try:
            load_mri(decathlon, "decathlon")
        except LococoError:
            pass
        finally:
            path.write_bytes(original)

    _run(body, deep)


def test_mutations_change_the_file() -> None:
    """The mutation strategy really edits its input (a fuzzer that never mutates proves nothing)."""
    data = b"1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n"
    seen: list[bytes] = []

    @settings(max_examples=30)
    @given(mutated(data))
    def body(out: bytes) -> None:
        seen.append(out)

    body()
    assert sum(out != data for out in seen) >= 25
