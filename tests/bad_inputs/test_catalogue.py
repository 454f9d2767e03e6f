"""The bad-input catalogue: one row per broken input, run through the real CLI.

Every row copies a pristine input (built once per session) into a folder whose name has a space
and non-ASCII characters, breaks it, runs ``lococo ...`` and asserts: a non-zero exit code, one
line on stderr that names the file (and the line or key where there is one), no traceback,
nothing written or half-written, and every input byte left as it was (a hash of every file
under the case folder before and after). A new format or command joins by adding rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import pytest
import yaml

from bad_inputs import builders as b
from lococo.cli.main import main

CUB = "CUB_200_2011"
SPLITS = "xlsa17/data/CUB"


@dataclass(frozen=True)
class Case:
    """``base``: the pristine input copied to ``IN``; ``mutate(IN)`` breaks it; ``argv(IN, OUT)``
    is the command line (``OUT`` is a path inside the case folder that does not exist yet);
    ``expect``: fragments the error line must contain (``{in}``/``{out}`` are substituted)."""

    id: str
    base: str
    argv: Callable[[Path, Path], list[str]]
    expect: tuple[str, ...]
    mutate: Callable[[Path], object] = lambda root: None
    code: int | None = None
    marks: tuple = field(default_factory=tuple)


def check(fmt: str, *extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda root, out: ["data", "check", str(root), "--format", fmt, "--no-progress", *extra]


def cub_case(id: str, mutate, *expect: str, **kw) -> Case:
    return Case(id, "zsl", check("cub"), expect, mutate, **kw)


def cub_file(rel: str) -> Callable[[Path], Path]:
    return lambda root: root / CUB / rel


def _image(root: Path) -> Path:
    return b.first(root / CUB / "images", "*.jpg")


def _image_name(root: Path) -> str:
    return _image(root).name


def _escape_images_txt(root: Path) -> None:
    """Without res101.mat (whose names would not match first) a ``../`` path is refused."""
    (root / SPLITS / "res101.mat").unlink()
    b.field_line(root / CUB / "images.txt", 5, 1, "../../secret.jpg")


def _mat(update: dict) -> Callable[[Path], None]:
    import zsl_fixtures as fx

    return lambda root: fx.update_mat(root / SPLITS / "att_splits.mat", **update(root))


def _locs(root: Path) -> dict:
    import scipy.io

    return scipy.io.loadmat(str(root / SPLITS / "att_splits.mat"))


def _trainval_out_of_range(root: Path) -> dict:
    loc = _locs(root)["trainval_loc"].copy()
    loc[0, 0] = 10_000
    return {"trainval_loc": loc}


def _trainval_repeated(root: Path) -> dict:
    loc = _locs(root)["trainval_loc"].copy()
    loc[1, 0] = loc[0, 0]
    return {"trainval_loc": loc}


def _unseen_in_trainval(root: Path) -> dict:
    m = _locs(root)
    loc = m["trainval_loc"].copy()
    loc[0, 0] = m["test_unseen_loc"][0, 0]
    return {"trainval_loc": loc}


# fmt: off
ZSL_CASES = [
    Case("zsl-missing-dir", "none", lambda r, o: check("cub")(r / "absent", o), ("absent",)),
    Case("zsl-empty-dir", "none", check("cub"), ("{in}",)),
    cub_case("cub-images-txt-short-line", lambda r: b.set_line(cub_file("images.txt")(r), 3, "3"),
             "images.txt:3"),
    cub_case("cub-images-txt-id-not-int", lambda r: b.field_line(cub_file("images.txt")(r), 2, 0,
             "two"), "images.txt:2"),
    cub_case("cub-images-txt-duplicate-id", lambda r: b.field_line(cub_file("images.txt")(r), 4, 0,
             "3"), "images.txt:4"),
    cub_case("cub-images-txt-escapes-root", _escape_images_txt, "images.txt:5"),
    cub_case("cub-images-txt-not-utf8", lambda r: b.raw_line(cub_file("images.txt")(r), 6,
             b"6 caf\xe9/\xff\xfe.jpg"), "images.txt"),
    cub_case("cub-labels-not-int",
             lambda r: b.set_line(cub_file("image_class_labels.txt")(r), 7, "7 banana"),
             "image_class_labels.txt:7"),
    cub_case("cub-labels-class-out-of-range",
             lambda r: b.set_line(cub_file("image_class_labels.txt")(r), 2, "2 999"),
             "image_class_labels.txt:2"),
    cub_case("cub-labels-image-id-out-of-range",
             lambda r: b.append_line(cub_file("image_class_labels.txt")(r), "999 1"),
             "image_class_labels.txt"),
    cub_case("cub-classes-malformed", lambda r: b.set_line(cub_file("classes.txt")(r), 2, "2"),
             "classes.txt:2"),
    cub_case("cub-split-malformed",
             lambda r: b.set_line(cub_file("train_test_split.txt")(r), 4, "4 yes"),
             "train_test_split.txt:4"),
    cub_case("cub-boxes-malformed",
             lambda r: b.set_line(cub_file("bounding_boxes.txt")(r), 3, "3 1.0 2.0 x"),
             "bounding_boxes.txt:3"),
    cub_case("cub-parts-malformed", lambda r: b.set_line(cub_file("parts/parts.txt")(r), 2, "x"),
             "parts.txt:2"),
    cub_case("cub-part-locs-malformed",
             lambda r: b.set_line(cub_file("parts/part_locs.txt")(r), 5, "1 5 1.0 nan? 1"),
             "part_locs.txt:5"),
    cub_case("cub-part-clicks-malformed",
             lambda r: b.set_line(cub_file("parts/part_click_locs.txt")(r), 2, "1 1 19.0"),
             "part_click_locs.txt:2"),
    cub_case("cub-image-attributes-malformed",
             lambda r: b.set_line(cub_file("attributes/image_attribute_labels.txt")(r), 9,
                                  "2 9 zero 2 1.0"),
             "image_attribute_labels.txt:9"),
    cub_case("cub-class-attributes-malformed",
             lambda r: b.set_line(cub_file("attributes/class_attribute_labels_continuous.txt")(r),
                                  2, "1.0 2.0 oops"),
             "class_attribute_labels_continuous.txt:2"),
    cub_case("cub-attribute-names-malformed",
             lambda r: b.set_line(r / "attributes.txt", 3, "three has_bill_shape::cone"),
             "attributes.txt:3"),
    cub_case("cub-image-zero-bytes", lambda r: b.zero(_image(r)), "_0001_1.jpg"),
    cub_case("cub-image-truncated", lambda r: b.truncate(_image(r), 0.3), "_0001_1.jpg"),
    cub_case("cub-image-corrupt", lambda r: b.garbage(_image(r)), "_0001_1.jpg"),
    cub_case("cub-image-missing", lambda r: _image(r).unlink(), "_0001_1.jpg"),
    cub_case("xlsa17-att-splits-missing", lambda r: (r / SPLITS / "att_splits.mat").unlink(),
             "att_splits.mat"),
    cub_case("xlsa17-att-splits-corrupt", lambda r: b.garbage(r / SPLITS / "att_splits.mat"),
             "att_splits.mat"),
    cub_case("xlsa17-att-splits-truncated",
             lambda r: b.truncate(r / SPLITS / "att_splits.mat", 0.5), "att_splits.mat"),
    cub_case("xlsa17-att-splits-no-trainval", _mat(lambda r: {"trainval_loc": None}),
             "att_splits.mat", "trainval_loc"),
    cub_case("xlsa17-trainval-out-of-range", _mat(_trainval_out_of_range),
             "att_splits.mat", "trainval_loc"),
    cub_case("xlsa17-trainval-repeated-index", _mat(_trainval_repeated),
             "att_splits.mat", "trainval_loc"),
    cub_case("xlsa17-unseen-image-in-trainval", _mat(_unseen_in_trainval), "att_splits.mat"),
    cub_case("xlsa17-res101-corrupt", lambda r: b.garbage(r / SPLITS / "res101.mat"),
             "res101.mat"),
    Case("xlsa17-splits-dir-missing", "zsl",
         lambda r, o: check("cub", "--splits", str(r / "nowhere"))(r, o), ("nowhere",)),
]
# fmt: on


# ---------------------------------------------------------------- runs


def _zfs(*words: str) -> Callable[[Path, Path], list[str]]:
    return lambda run, out: [
        "zfs",
        *[str(run) if w == "RUN" else w for w in words],
        "--no-progress",
    ]


def _killed_with_truncated_checkpoint(run: Path) -> None:
    """A run killed during training (no results yet) whose checkpoint was cut short."""
    (run / "results.json").unlink()
    (run / "encoder.pt").unlink()
    b.truncate(run / "checkpoints" / "last.ckpt", 0.5)


def _read_only(path: Path) -> None:
    path.chmod(0o555)


# fmt: off
RUN_CASES = [
    Case("run-results-json-corrupt", "run", _zfs("evaluate", "RUN"), ("results.json",),
         lambda r: (r / "results.json").write_text('{"pretrain": {"epochs": 1,')),
    Case("run-results-json-not-object", "run", _zfs("evaluate", "RUN"), ("results.json",),
         lambda r: (r / "results.json").write_text("[1, 2]")),
    Case("run-analyze-results-json-corrupt", "run", _zfs("analyze", "RUN"), ("results.json",),
         lambda r: b.truncate(r / "results.json", 0.5)),
    Case("run-config-yaml-corrupt", "run", _zfs("evaluate", "RUN"), ("config.yaml",),
         lambda r: (r / "config.yaml").write_text("data: [unclosed\n")),
    Case("run-config-yaml-missing", "run", _zfs("evaluate", "RUN"), ("config.yaml",),
         lambda r: (r / "config.yaml").unlink()),
    Case("run-encoder-pt-corrupt", "run", _zfs("evaluate", "RUN"), ("encoder.pt",),
         lambda r: b.garbage(r / "encoder.pt")),
    Case("run-encoder-pt-zero-bytes", "run", _zfs("evaluate", "RUN"), ("encoder.pt",),
         lambda r: b.zero(r / "encoder.pt")),
    Case("run-encoder-pt-pickled-code", "run", _zfs("evaluate", "RUN"), ("encoder.pt",),
         lambda r: b.pickled_object(r / "encoder.pt")),
    Case("run-checkpoint-truncated", "run",
         lambda run, out: ["zfs", "pretrain", "--out", str(run), "--resume", "--no-progress"],
         ("last.ckpt",), _killed_with_truncated_checkpoint),
    Case("run-resume-with-other-config", "run",
         lambda run, out: ["zfs", "pretrain", "--out", str(run), "--resume", "--no-progress",
                           "optim.lr=0.5"], ("optim.lr",)),
    Case("run-resume-with-other-method", "run",
         lambda run, out: ["zfs", "pretrain", "--out", str(run), "--resume", "--no-progress",
                           "--method", "vae"], ("method",)),
    Case("run-dir-missing", "none", lambda r, o: ["zfs", "evaluate", str(r / "no run")],
         ("no run",)),
    Case("run-out-is-a-file", "zsl",
         lambda r, o: ["zfs", "pretrain", "--data", str(r), "--out", str(r / "attributes.txt"),
                       *b.ZFS_FAST], ("attributes.txt",)),
    Case("run-out-parent-is-a-file", "zsl",
         lambda r, o: ["zfs", "pretrain", "--data", str(r), "--out",
                       str(r / "attributes.txt" / "run"), *b.ZFS_FAST],
         ("attributes.txt",)),
    Case("run-out-read-only", "zsl",
         lambda r, o: ["zfs", "pretrain", "--data", str(r), "--out", str(r / "ro" / "run"),
                       *b.ZFS_FAST], ("ro",),
         lambda r: (r / "ro").mkdir() or _read_only(r / "ro"),
         marks=(pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions"),)),
    Case("run-out-exists-without-resume", "run",
         lambda run, out: ["zfs", "pretrain", "--data", str(run), "--out", str(run),
                           *b.ZFS_FAST], ("{in}",)),
]
# fmt: on


# ---------------------------------------------------------------- OC-GAN / layout formats


def _coco_ann(root: Path, edit) -> None:
    b.edit_json(root / "annotations" / "instances_train2017.json", edit)


def _unknown_category(payload: dict) -> None:
    payload["annotations"][0]["category_id"] = 9999


def _unknown_image(payload: dict) -> None:
    payload["annotations"][0]["image_id"] = 123456789


# fmt: off
LAYOUT_CASES = [
    Case("coco-instances-json-truncated", "coco", check("coco-stuff"),
         ("instances_train2017.json",),
         lambda r: b.truncate(r / "annotations" / "instances_train2017.json", 0.5)),
    Case("coco-stuff-json-missing", "coco", check("coco-stuff"), ("stuff_val2017.json",),
         lambda r: (r / "annotations" / "stuff_val2017.json").unlink()),
    Case("coco-json-top-level-list", "coco", check("coco-stuff"), ("instances_val2017.json",),
         lambda r: (r / "annotations" / "instances_val2017.json").write_text("[]")),
    Case("coco-unknown-category", "coco", check("coco-stuff"), ("instances_train2017.json",),
         lambda r: _coco_ann(r, _unknown_category)),
    Case("coco-unknown-image-id", "coco", check("coco-stuff"), ("instances_train2017.json",),
         lambda r: _coco_ann(r, _unknown_image)),
    Case("coco-json-not-utf8", "coco", check("coco-stuff"), ("stuff_train2017.json",),
         lambda r: (r / "annotations" / "stuff_train2017.json").write_bytes(b'{"a": "\xff\xfe"}')),
    Case("coco-image-zero-bytes", "coco", check("coco-stuff"), (".png",),
         lambda r: b.zero(b.first(r / "train2017", "*.png"))),
    Case("coco-ocgan-missing-data", "none",
         lambda r, o: ["ocgan", "pretrain-sgsm", "--data", str(r / "absent"), "--out", str(o),
                       "--profile", "quick", "--no-progress"], ("absent",)),
    Case("coco-ocgan-corrupt-json", "coco",
         lambda r, o: ["ocgan", "pretrain-sgsm", "--data", str(r), "--out", str(o),
                       "--profile", "quick", "--no-progress"],
         ("instances_val2017.json",),
         lambda r: b.garbage(r / "annotations" / "instances_val2017.json")),
    Case("vg-h5-corrupt", "vg", check("vg"), ("train.h5",), lambda r: b.garbage(r / "train.h5")),
    Case("vg-h5-missing-dataset", "vg", check("vg"), ("val.h5", "object_boxes"),
         lambda r: _drop_h5(r / "val.h5", "object_boxes")),
    Case("vg-vocab-json-corrupt", "vg", check("vg"), ("vocab.json",),
         lambda r: (r / "vocab.json").write_text("{'object_idx_to_name': ")),
    Case("coco-file-name-escapes-root", "coco", check("coco-stuff"),
         ("instances_train2017.json", "images[0].file_name", "outside the dataset folder"),
         lambda r: _coco_ann(r, _file_name("../../secret.png"))),
    Case("coco-file-name-absolute", "coco", check("coco-stuff"),
         ("instances_train2017.json", "images[0].file_name", "outside the dataset folder"),
         lambda r: _coco_ann(r, _file_name("/etc/secret.png"))),
    Case("vg-image-path-escapes-root", "vg", check("vg"),
         ("train.h5", "image_paths[", "outside the dataset folder"),
         lambda r: _vg_paths(r / "train.h5", "../../secret.jpg")),
    Case("vg-image-path-absolute", "vg", check("vg"),
         ("train.h5", "image_paths[", "outside the dataset folder"),
         lambda r: _vg_paths(r / "train.h5", "/etc/secret.jpg")),
]
# fmt: on


def _sample(root: Path, out: Path) -> list[str]:
    return ["ocgan", "sample", str(root / "run"), "--layouts", str(root / "layouts.json"),
            "--out", str(out)]  # fmt: skip


def _layouts(scenes) -> Callable[[Path], object]:
    import json

    return lambda root: (root / "layouts.json").write_text(json.dumps(scenes))


_DISC = {"label": "disc", "box": [0.1, 0.1, 0.5, 0.5]}
# fmt: off
GAN_CASES = [
    Case("ocgan-layout-unknown-label", "gan", _sample,
         ("layouts.json", "scene 0, object 0", "unknown label 'zebra'"),
         _layouts([[{"label": "zebra", "box": [0.1, 0.1, 0.5, 0.5]}]])),
    Case("ocgan-layout-box-outside", "gan", _sample, ("layouts.json", "outside [0, 1]"),
         _layouts([[_DISC], [{"label": "disc", "box": [0.1, 0.1, 1.5, 0.5]}]])),
    Case("ocgan-layout-box-inverted", "gan", _sample, ("layouts.json", "inverted"),
         _layouts([[{"label": "disc", "box": [0.5, 0.5, 0.1, 0.9]}]])),
    Case("ocgan-layout-empty-scene", "gan", _sample, ("layouts.json", "scene 1: empty scene"),
         _layouts([[_DISC], []])),
    Case("ocgan-layout-too-many-objects", "gan", _sample,
         ("layouts.json", "more than the model allows"), _layouts([[_DISC] * 9])),
    Case("ocgan-layout-not-json", "gan", _sample, ("layouts.json", "not valid JSON"),
         lambda r: (r / "layouts.json").write_text("[[{label: disc}]]")),
    Case("ocgan-evaluate-no-inception-weights", "gan",
         lambda r, o: ["ocgan", "evaluate", str(r / "run"), "eval.extractor=inception",
                       "eval.weights=" + str(r / "absent.pth"), "--no-progress"],
         ("absent.pth",)),
]
# fmt: on


def _drop_h5(path: Path, key: str) -> None:
    with h5py.File(path, "a") as f:
        del f[key]


def _file_name(name: str) -> Callable[[dict], None]:
    def edit(payload: dict) -> None:
        payload["images"][0]["file_name"] = name

    return edit


def _vg_paths(path: Path, name: str) -> None:
    """Every ``image_paths`` entry of an sg2im h5 file set to ``name``."""
    with h5py.File(path, "a") as f:
        n = len(f["image_paths"])
        del f["image_paths"]
        f.create_dataset("image_paths", data=[name.encode()] * n)


# ---------------------------------------------------------------- CMIM / MRI, Open-I


def _dataset_json(root: Path, edit) -> None:
    b.edit_json(root / "dataset.json", edit)


# fmt: off
MRI_CASES = [
    Case("brats-nifti-truncated", "brats", check("brats"), (".nii.gz",),
         lambda r: b.truncate(b.first(r, "*_flair.nii.gz"), 0.5)),
    Case("brats-nifti-zero-bytes", "brats", check("brats"), ("_seg.nii.gz",),
         lambda r: b.zero(b.first(r, "*_seg.nii.gz"))),
    Case("brats-modality-missing", "brats", check("brats"), ("_t2.nii.gz",),
         lambda r: b.first(r, "*_t2.nii.gz").unlink()),
    Case("brats2015-mha-truncated", "brats2015", check("brats2015"), (".mha",),
         lambda r: b.truncate(b.first(r, "*MR_T1c*.mha"), 0.5)),
    Case("brats2015-mha-header-garbage", "brats2015", check("brats2015"), (".mha",),
         lambda r: b.first(r, "*MR_T2*.mha").write_bytes(b"NDims = banana\nElementType = ?\n")),
    Case("decathlon-dataset-json-corrupt", "decathlon", check("decathlon"), ("dataset.json",),
         lambda r: b.truncate(r / "dataset.json", 0.5)),
    Case("decathlon-dataset-json-no-modality", "decathlon", check("decathlon"),
         ("dataset.json", "modality"), lambda r: _dataset_json(r, lambda p: p.pop("modality"))),
    Case("decathlon-image-escapes-root", "decathlon", check("decathlon"),
         ("dataset.json", "'training'[0].image", "outside the dataset folder"),
         lambda r: _dataset_json(r, _escape_decathlon)),
    Case("decathlon-label-absolute", "decathlon", check("decathlon"),
         ("dataset.json", "'training'[1].label", "outside the dataset folder"),
         lambda r: _dataset_json(r, _absolute_decathlon_label)),
    Case("brats2015-mha-data-file-escapes-root", "brats2015", check("brats2015"),
         (".mha", "ElementDataFile", "outside the dataset folder"),
         lambda r: b.first(r, "*MR_Flair*.mha").write_bytes(MHA_ESCAPE)),
    Case("openi-image-id-escapes-root", "openi", check("openi"),
         ("7.xml", "parentImage", "outside the dataset folder"),
         lambda r: _openi_image_id(r / "ecgen-radiology" / "7.xml", "../../../secret")),
    Case("openi-image-id-absolute", "openi", check("openi"),
         ("6.xml", "parentImage", "outside the dataset folder"),
         lambda r: _openi_image_id(r / "ecgen-radiology" / "6.xml", "/etc/secret")),
    Case("cmim-train-corrupt-nifti", "brats",
         lambda r, o: ["cmim", "train", "--data", str(r), "--out", str(o), "--profile", "quick",
                       "--no-progress"], (".nii.gz",),
         lambda r: b.garbage(b.first(r, "*_t1.nii.gz"))),
    Case("openi-xml-malformed", "openi", check("openi"), (".xml",),
         lambda r: b.truncate(b.first(r / "ecgen-radiology", "1.xml"), 0.5)),
    Case("openi-xml-entity-bomb", "openi", check("openi"), ("2.xml",),
         lambda r: (r / "ecgen-radiology" / "2.xml").write_text(LAUGHS)),
    Case("openi-xml-external-entity", "openi", check("openi"), ("3.xml",),
         lambda r: (r / "ecgen-radiology" / "3.xml").write_text(EXTERNAL)),
    Case("openi-xml-not-utf8", "openi", check("openi"), ("4.xml",),
         lambda r: (r / "ecgen-radiology" / "4.xml").write_bytes(b"<eCitation>\xff\xfe</")),
    Case("openi-reports-missing", "none", check("openi"), ("ecgen-radiology",)),
]
# fmt: on


def _escape_decathlon(payload: dict) -> None:
    payload["training"][0]["image"] = "../../etc/passwd.nii.gz"


def _absolute_decathlon_label(payload: dict) -> None:
    payload["training"][1]["label"] = "/etc/passwd.nii.gz"


def _openi_image_id(path: Path, image_id: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert 'parentImage id="' in text
    path.write_text(text.replace('parentImage id="', f'parentImage id="{image_id}', 1))


MHA_ESCAPE = (
    b"ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementType = MET_SHORT\n"
    b"ElementDataFile = ../../../../etc/passwd\n"
)


LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<eCitation><MedlineCitation>&lol3;</MedlineCitation></eCitation>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<eCitation><MedlineCitation>&x;</MedlineCitation></eCitation>
"""


# ---------------------------------------------------------------- generation metrics


def _fid(*words: str) -> Callable[[Path, Path], list[str]]:
    return lambda r, o: [
        "metrics",
        "fid",
        *[w.replace("IN", str(r)) for w in words],
        "--device",
        "cpu",
        "--no-progress",
    ]


# fmt: off
METRIC_CASES = [
    Case("fid-folder-empty", "none", _fid("IN", "IN"), ("{in}",)),
    Case("fid-folder-missing", "images", _fid("IN", "IN/absent"), ("absent",)),
    Case("fid-image-corrupt", "images", _fid("IN", "IN", "--substitute", "IN/clf.pt"), ("3.png",),
         lambda r: b.garbage(r / "3.png")),
    Case("fid-substitute-corrupt", "images", _fid("IN", "IN", "--substitute", "IN/clf.pt"),
         ("clf.pt",), lambda r: b.truncate(r / "clf.pt", 0.5)),
    Case("fid-npz-corrupt", "images", _fid("IN/stats.npz", "IN"), ("stats.npz",),
         lambda r: b.garbage(r / "stats.npz")),
    Case("fid-npz-wrong-keys", "images", _fid("IN/stats.npz", "IN"), ("stats.npz",),
         lambda r: _npz(r / "stats.npz")),
    Case("fid-weights-corrupt", "images", _fid("IN", "IN", "--weights", "IN/w.pth"), ("w.pth",),
         lambda r: b.garbage(r / "w.pth")),
    Case("fid-weights-pickled-code", "images", _fid("IN", "IN", "--weights", "IN/w.pth"),
         ("w.pth",), lambda r: b.pickled_object(r / "w.pth")),
    Case("fid-weights-missing", "images", _fid("IN", "IN", "--weights", "IN/none.pth"),
         ("none.pth",)),
]
# fmt: on


def _npz(path: Path) -> None:
    import numpy as np

    np.savez(path, something=np.zeros(3))


# ---------------------------------------------------------------- other commands

# fmt: off
COMMAND_CASES = [
    Case("study-data-missing", "none",
         lambda r, o: ["zfs", "study", "--data", str(r / "absent"), "--out", str(o),
                       "--methods", "fc", *b.ZFS_FAST], ("absent",)),
    Case("study-bad-images-txt", "zsl",
         lambda r, o: ["zfs", "study", "--data", str(r), "--out", str(o), "--methods", "fc",
                       *b.ZFS_FAST], ("images.txt:3",),
         lambda r: b.set_line(r / CUB / "images.txt", 3, "3")),
    Case("report-results-json-corrupt", "run", lambda r, o: ["report", str(r)],
         ("results.json",), lambda r: b.truncate(r / "results.json", 0.4)),
    Case("report-dir-missing", "none", lambda r, o: ["report", str(r / "absent")], ("absent",)),
    Case("compare-study-missing", "none",
         lambda r, o: ["zfs", "compare", str(r / "absent"), "--out", str(o)], ("absent",)),
    Case("synth-out-is-a-file", "zsl",
         lambda r, o: ["data", "synth", "zsl", "--out", str(r / "attributes.txt"),
                       "--no-progress"], ("attributes.txt",)),
    Case("cmim-evaluate-run-missing", "none",
         lambda r, o: ["cmim", "evaluate", str(r / "no run"), "--no-progress"], ("no run",)),
    Case("kid-folder-empty", "none",
         lambda r, o: ["metrics", "kid", str(r), str(r), "--device", "cpu", "--no-progress"],
         ("{in}",)),
]
# fmt: on


CASES = ZSL_CASES + RUN_CASES + LAYOUT_CASES + GAN_CASES + MRI_CASES + METRIC_CASES + COMMAND_CASES


def _param(case: Case):
    return pytest.param(case, id=case.id, marks=case.marks)


# Known gaps in layers this catalogue does not own: listed here so the run stays green and
# strict (an xfail that starts passing fails the run, so the entry must then be removed).
XFAIL: dict[str, str] = {}


def prepare(case: Case, pristine, tmp_path: Path) -> tuple[list[str], Path, Path]:
    """Copy and break the input; return the command line, the case folder and the input."""
    folder = tmp_path / b.AWKWARD
    folder.mkdir()
    source = pristine.get(case.base)
    root = b.copy_tree(source, folder / source.name)
    case.mutate(root)
    return case.argv(root, folder / "out put"), folder, root


def assert_clean_failure(case: Case, code: int, err: str, folder: Path, root: Path) -> None:
    lines = err.strip().splitlines()
    assert code != 0, f"exit code 0; stderr={err!r}"
    if case.code is not None:
        assert code == case.code
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith("lococo: error: "), err
    for fragment in case.expect:
        wanted = fragment.format(**{"in": root, "out": folder / "out put"})
        assert wanted in lines[0], f"{wanted!r} not in {lines[0]!r}"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_ends_in_one_line_and_changes_nothing(case, pristine, tmp_path, capsys, request):
    if case.id in XFAIL:
        request.applymarker(pytest.mark.xfail(strict=True, reason=XFAIL[case.id]))
    argv, folder, root = prepare(case, pristine, tmp_path)
    before = b.snapshot(folder)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        for path in folder.rglob("*"):  # undo read-only folders so tmp_path can be removed
            if path.is_dir() and not os.access(path, os.W_OK):
                path.chmod(0o755)
    err = capsys.readouterr().err
    assert b.snapshot(folder) == before, "the command wrote or changed files"
    assert_clean_failure(case, code, err, folder, root)


def test_catalogue_covers_every_format_and_has_40_cases():
    from lococo.data.families import FORMATS

    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    checked = {
        c.argv(Path("R"), Path("O"))[4]
        for c in CASES
        if c.argv(Path("R"), Path("O"))[:2] == ["data", "check"]
    }
    assert set(FORMATS) - {"awa2", "sun"} <= checked


SUBPROCESS_SAMPLE = ["cub-labels-not-int", "run-encoder-pt-pickled-code", "openi-xml-entity-bomb"]


@pytest.mark.parametrize("case_id", SUBPROCESS_SAMPLE)
def test_sample_through_a_real_process(case_id, pristine, tmp_path):
    """The same assertions with ``python -m lococo`` in a child process (real exit code)."""
    case = next(c for c in CASES if c.id == case_id)
    argv, folder, root = prepare(case, pristine, tmp_path)
    before = b.snapshot(folder)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "lococo", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert b.snapshot(folder) == before
    assert_clean_failure(case, proc.returncode, proc.stderr, folder, root)


def test_config_yaml_written_by_a_run_is_valid(pristine):
    """The run the RUN rows break is itself sound (so each row tests only its own breakage)."""
    run = pristine.get("run")
    assert isinstance(yaml.safe_load((run / "config.yaml").read_text()), dict)
    import json

    results = json.loads((run / "results.json").read_text())
    assert {"pretrain", "zsl"} <= set(results)
