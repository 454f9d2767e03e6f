"""Dataset rules checked whatever files are present, file names kept inside the dataset, and a
killed ``lococo data synth`` leaving no processes or staging folders behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zsl_fixtures as fx

from lococo.data.images import inside_root
from lococo.data.staging import staging_dir
from lococo.data.zsl.cub import load_cub
from lococo.errors import DataError


def test_repeated_split_index_is_refused(tmp_path):
    tree = fx.make_cub(tmp_path, res101=False)
    att = tree.splits / "att_splits.mat"
    trainval = tree.locs["trainval"]
    doubled = np.concatenate([trainval, trainval[:1]]) + 1
    fx.update_mat(att, trainval_loc=doubled.reshape(-1, 1).astype(np.float64))
    with pytest.raises(DataError, match=f"'trainval_loc' lists image {trainval[0] + 1} twice"):
        load_cub(tree.root, with_parts=False)


def test_class_listed_unseen_never_in_training(tmp_path):
    tree = fx.make_cub(tmp_path, res101=False)
    seen = sorted({int(tree.labels[i]) for i in tree.locs["trainval"]})
    (tree.splits / "testclasses.txt").write_text(tree.class_names[seen[0]] + "\n")
    with pytest.raises(DataError, match=r"which testclasses\.txt lists as unseen"):
        load_cub(tree.root, with_parts=False)


def test_image_in_another_class_folder_is_refused(tmp_path):
    tree = fx.make_cub(tmp_path, res101=False)
    listing = tree.root / "CUB_200_2011" / "images.txt"
    lines = listing.read_text().splitlines()
    first, last = lines[0].split(" ", 1), lines[-1].split(" ", 1)
    lines[0], lines[-1] = f"{first[0]} {last[1]}", f"{last[0]} {first[1]}"  # names swapped
    listing.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="is in the folder of class") as caught:
        load_cub(tree.root, with_parts=False)
    assert caught.value.path == listing and caught.value.line == 1


@pytest.mark.parametrize("name", ["../outside.jpg", "/etc/passwd", "a/../../b.jpg", "C:/x.jpg"])
def test_file_names_escaping_the_dataset_are_refused(tmp_path, name):
    with pytest.raises(DataError, match="points outside the dataset folder"):
        inside_root(tmp_path, name, tmp_path / "images.txt", 3)
    assert inside_root(tmp_path, "a/b.jpg", tmp_path / "images.txt") == tmp_path / "a" / "b.jpg"


def test_images_txt_escaping_the_root_names_file_and_line(tmp_path):
    tree = fx.make_cub(tmp_path, res101=False)
    listing = tree.root / "CUB_200_2011" / "images.txt"
    fx.set_line(listing, 2, "2 ../../../secret.jpg")
    with pytest.raises(DataError, match="points outside") as caught:
        load_cub(tree.root, with_parts=False)
    assert caught.value.path == listing and caught.value.line == 2


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status  # a zombie has exited already


#: family -> options that keep ``lococo data synth FAMILY`` busy for a while
SYNTH_SIZES = {"zsl": ["--images-per-class", "200"], "layout": ["--images", "20000"]}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
@pytest.mark.parametrize("family", SYNTH_SIZES)
def test_killed_synth_leaves_no_writers_and_its_staging_folder_is_cleaned(tmp_path, family):
    out = tmp_path / "synth"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    command = [sys.executable, "-m", "lococo", "data", "synth", family, "--out", str(out)]
    command += ["--workers", "2", *SYNTH_SIZES[family], "--no-progress"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while len(_children(proc.pid)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.2)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    deadline = time.monotonic() + 20
    while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(w) for w in workers)
    prefix = f".tmp-synth-{family}-"
    leftovers = [p for p in out.iterdir() if p.name.startswith(prefix)]
    assert leftovers  # the killed run's staging folder ...
    staging_dir(out, prefix)  # ... is removed when the next run starts
    assert not any(p.exists() for p in leftovers)
