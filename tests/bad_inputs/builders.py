"""Small builders for the bad-input catalogue: pristine dataset trees and runs (made once per
session), private copies, file mutations and the before/after snapshot of a folder."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

# A folder name with a space and non-ASCII characters: every case's inputs live under it.
AWKWARD = "données d'entrée é"


# ---------------------------------------------------------------- snapshots


def snapshot(root: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every file (``"dir"`` for folders) under ``root``."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def copy_tree(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=True)
    return dest


# ---------------------------------------------------------------- mutations


def set_line(path: Path, lineno: int, text: str) -> None:
    """Replace line ``lineno`` (1-based) of a text file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def field_line(path: Path, lineno: int, index: int, value: str) -> None:
    """Set whitespace-separated field ``index`` of line ``lineno`` to ``value``."""
    fields = path.read_text(encoding="utf-8").splitlines()[lineno - 1].split()
    fields[index] = value
    set_line(path, lineno, " ".join(fields))


def append_line(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text + "\n")


def raw_line(path: Path, lineno: int, data: bytes) -> None:
    """Replace line ``lineno`` with raw bytes (e.g. not UTF-8)."""
    lines = path.read_bytes().splitlines()
    lines[lineno - 1] = data
    path.write_bytes(b"\n".join(lines) + b"\n")


def truncate(path: Path, fraction: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def zero(path: Path) -> None:
    path.write_bytes(b"")


def garbage(path: Path, size: int = 512, seed: int = 0) -> None:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())


def edit_json(path: Path, edit) -> None:
    payload = json.loads(path.read_text(encoding="utf-8"))
    result = edit(payload)
    path.write_text(json.dumps(payload if result is None else result), encoding="utf-8")


def pickled_object(path: Path) -> None:
    """A pickle whose loading would execute code (``os.system``): must never be unpickled."""

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > /dev/null",))

    path.write_bytes(pickle.dumps({"state_dict": Evil()}))


def first(root: Path, pattern: str) -> Path:
    """The first file (sorted) under ``root`` matching ``pattern``."""
    found = sorted(root.rglob(pattern))
    assert found, f"no {pattern} under {root}"
    return found[0]


# ---------------------------------------------------------------- pristine trees


def zsl_tree(root: Path) -> Path:
    from lococo.data.zsl.synth import synth_zsl

    synth_zsl(root, seed=0, classes=6, unseen=2, images_per_class=4, image_size=64, workers=1,
              progress=False)  # fmt: skip
    return root


def layout_tree(root: Path) -> Path:
    from lococo.data.layout.synth import synth_layout

    synth_layout(root, seed=1, images=12, image_size=32, workers=1, progress=False)
    return root


def brats_tree(root: Path) -> Path:
    from lococo.data.mri.synth import synth_mri

    synth_mri(root, seed=1, cases=3, size=24, progress=False)
    return root


def openi_tree(root: Path) -> Path:
    from lococo.data.cxr.synth import synth_cxr

    synth_cxr(root, seed=1, reports=8, image_size=32, progress=False)
    return root


def vg_tree(root: Path) -> Path:
    from test_layout_readers import _objects, write_vg

    rows = {
        "train": [_objects(3), _objects(4), _objects(5)],
        "val": [_objects(4)],
        "test": [_objects(3, name=2)],
    }
    return write_vg(root, rows)


def brats2015_tree(root: Path) -> Path:
    from test_mri_readers import make_canonical, write_brats2015

    for i, patient in enumerate(("pat1", "pat2")):
        c = make_canonical(30 + i)
        write_brats2015(root, "HGG", patient, c, c.label)
    return root


def decathlon_tree(root: Path) -> Path:
    from test_mri_readers import make_canonical, write_decathlon

    cases = {f"BRATS_{i:03d}": make_canonical(40 + i) for i in range(1, 3)}
    return write_decathlon(root, cases, ["flair", "t1", "t1c", "t2"])


def image_folder(root: Path, n: int = 6, seed: int = 0) -> Path:
    """``n`` 16×16 PNGs (a generation-metrics input folder) and ``clf.pt``, a small lococo
    classifier to pass as ``--substitute`` (no Inception weights needed)."""
    import torch

    from lococo.metrics.objects import CropClassifier, save_classifier

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / f"{i}.png")
    torch.manual_seed(seed)
    save_classifier(root / "clf.pt", CropClassifier(18, 3, 32), {"note": "catalogue"})
    return root


ZFS_FAST = ["--profile", "quick", "--no-progress", "trainer.max_epochs=1", "zsl.epochs=2",
            "data.batch_size=8", "checkpoint_interval_s=0"]  # fmt: skip


def zfs_run(data: Path, out: Path) -> Path:
    """A finished tiny ZFS run (FC, one epoch, evaluated)."""
    from lococo.cli.main import main

    code = main(["zfs", "pretrain", "--data", str(data), "--out", str(out), "--evaluate",
                 *ZFS_FAST])  # fmt: skip
    assert code == 0, "building the catalogue's ZFS run failed"
    return out


GAN_FAST = ["--profile", "quick", "--no-progress", "model.g_channels=8", "model.d_channels=8",
            "model.sgsm=false", "data.batch_size=8", "trainer.max_epochs=1"]  # fmt: skip
GAN_LAYOUTS = [[{"label": "disc", "box": [0.1, 0.2, 0.45, 0.6]}]]


def gan_run(root: Path) -> Path:
    """A tiny trained OC-GAN run (``root/run``) on synthetic scenes and a valid layout file
    (``root/layouts.json``): the input of ``lococo ocgan sample``."""
    import json

    from lococo.cli.main import main
    from lococo.data.layout.synth import synth_layout

    synth_layout(root / "coco", seed=0, images=20, image_size=32, progress=False)
    code = main(["ocgan", "train", "--data", str(root / "coco"), "--out", str(root / "run"),
                 *GAN_FAST])  # fmt: skip
    assert code == 0, "building the catalogue's OC-GAN run failed"
    (root / "layouts.json").write_text(json.dumps(GAN_LAYOUTS))
    return root
