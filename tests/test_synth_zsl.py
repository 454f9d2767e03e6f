"""The synthetic compositional-birds generator: real CUB/xlsa17 formats, determinism, locality."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import loadmat
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from lococo.data.zsl import synth as sz
from lococo.errors import LococoError

SIZE = 48
CLASSES, UNSEEN, PER_CLASS = 8, 2, 6
CUB_PARTS = [
    "back",
    "beak",
    "belly",
    "breast",
    "crown",
    "forehead",
    "left eye",
    "left leg",
    "left wing",
    "nape",
    "right eye",
    "right leg",
    "right wing",
    "tail",
    "throat",
]


def _generate(out: Path, seed: int = 3, workers: int = 1) -> sz.SynthZSLInfo:
    return sz.synth_zsl(
        out,
        seed=seed,
        classes=CLASSES,
        unseen=UNSEEN,
        images_per_class=PER_CLASS,
        image_size=SIZE,
        workers=workers,
        progress=False,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> sz.SynthZSLInfo:
    return _generate(tmp_path_factory.mktemp("synth") / "out")


def _rows(path: Path) -> list[list[str]]:
    return [line.split(" ") for line in path.read_text().splitlines()]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_gives_identical_files_whatever_the_workers(
    data: sz.SynthZSLInfo, tmp_path: Path
) -> None:
    again = _tree(_generate(tmp_path / "again", workers=2).root)
    first = _tree(data.root)
    assert sorted(again) == sorted(first)
    assert any(name.endswith(".jpg") for name in first)
    assert [n for n in first if first[n] != again[n]] == []


def test_different_seed_gives_different_data(data: sz.SynthZSLInfo, tmp_path: Path) -> None:
    other = _generate(tmp_path / "other", seed=4)
    cub_a, cub_b = data.cub_dir, other.cub_dir
    for name in ("parts/part_locs.txt", "bounding_boxes.txt", "classes.txt"):
        assert (cub_a / name).read_bytes() != (cub_b / name).read_bytes()


@pytest.mark.parametrize(
    ("groups", "classes", "unseen"),
    [
        (None, 50, 10),
        (
            {
                "crown_color": ["red", "blue"],
                "size": ["small", "large"],
                "tail_shape": ["forked", "pointed"],
            },
            7,
            3,
        ),
    ],
)
def test_unseen_classes_are_new_combinations_of_seen_values(groups, classes, unseen) -> None:
    groups = sz.normalise_groups(groups)
    for seed in range(5):
        combos, unseen_ids = sz.choose_classes(groups, classes, unseen, np.random.default_rng(seed))
        assert combos.shape == (classes, len(groups))
        assert len({tuple(c) for c in combos}) == classes
        seen_ids = np.setdiff1d(np.arange(classes), unseen_ids)
        assert len(unseen_ids) == unseen and len(seen_ids) == classes - unseen
        for g in range(len(groups)):
            assert set(combos[unseen_ids, g]) <= set(combos[seen_ids, g])


def test_info_matches_files(data: sz.SynthZSLInfo) -> None:
    assert set(data.seen_classes).isdisjoint(data.unseen_classes)
    assert sorted([*data.seen_classes, *data.unseen_classes]) == list(range(CLASSES))
    for g, group in enumerate(data.groups):
        seen_values = {group.values[v] for v in data.class_values[data.seen_classes, g]}
        unseen_values = {group.values[v] for v in data.class_values[data.unseen_classes, g]}
        assert unseen_values <= seen_values
    classes = _rows(data.cub_dir / "classes.txt")
    assert [name for _, name in classes] == data.class_names
    assert data.num_images == CLASSES * PER_CLASS


def test_cub_text_files_have_real_format(data: sz.SynthZSLInfo) -> None:
    cub, n, c = data.cub_dir, data.num_images, CLASSES
    images = _rows(cub / "images.txt")
    assert [int(r[0]) for r in images] == list(range(1, n + 1))
    assert all(len(r) == 2 for r in images)
    classes = _rows(cub / "classes.txt")
    assert [int(r[0]) for r in classes] == list(range(1, c + 1))
    assert all(re.fullmatch(r"\d{3}\.[A-Za-z_]+", r[1]) for r in classes)
    labels = np.array([int(r[1]) for r in _rows(cub / "image_class_labels.txt")])
    assert labels.min() == 1 and labels.max() == c and len(labels) == n
    for (_, rel), label in zip(images, labels, strict=True):
        assert rel.split("/")[0] == classes[label - 1][1]
        with Image.open(cub / "images" / rel) as img:
            assert img.format == "JPEG" and img.size == (SIZE, SIZE) and img.mode == "RGB"
    split = _rows(cub / "train_test_split.txt")
    assert {r[1] for r in split} == {"0", "1"} and len(split) == n
    boxes = _rows(cub / "bounding_boxes.txt")
    assert all(len(r) == 5 and all(re.fullmatch(r"\d+\.0", v) for v in r[1:]) for r in boxes)
    parts = (cub / "parts" / "parts.txt").read_text().splitlines()
    assert parts == [f"{i + 1} {name}" for i, name in enumerate(CUB_PARTS)]  # names with spaces
    locs = _rows(cub / "parts" / "part_locs.txt")
    assert len(locs) == n * 15 and all(len(r) == 5 and r[4] in "01" for r in locs)
    assert all(r[2:4] == ["0.0", "0.0"] for r in locs if r[4] == "0")
    clicks = _rows(cub / "parts" / "part_click_locs.txt")
    assert all(len(r) == 6 and r[4] in "01" and float(r[5]) > 0 for r in clicks)
    assert {(r[0], r[1]) for r in clicks} == {(r[0], r[1]) for r in locs}
    attr_names = _rows(data.attributes_file)
    a = len(attr_names)
    assert a == sum(len(g.values) for g in data.groups)
    assert all(re.fullmatch(r"has_[a-z_]+::[a-z_]+", r[1]) for r in attr_names)
    certainties = (cub / "attributes" / "certainties.txt").read_text().splitlines()
    assert certainties == ["1 not visible", "2 guessing", "3 probably", "4 definitely"]
    labels_rows = _rows(cub / "attributes" / "image_attribute_labels.txt")
    assert len(labels_rows) == n * a and all(len(r) == 5 for r in labels_rows)
    table = np.array([[float(v) for v in r] for r in labels_rows])
    assert set(table[:, 2]) <= {0, 1} and set(table[:, 3]) <= {1, 2, 3, 4}
    assert np.all(table[table[:, 3] == 1, 2] == 0)
    continuous = np.loadtxt(cub / "attributes" / "class_attribute_labels_continuous.txt")
    assert continuous.shape == (c, a)
    present = table[:, 2].reshape(n, a)
    expected = np.stack([present[labels == k + 1].mean(0) * 100 for k in range(c)])
    np.testing.assert_allclose(continuous, expected, atol=1e-9)
    assert (cub / "README").read_text().strip()


def test_image_attributes_mostly_follow_the_class(data: sz.SynthZSLInfo) -> None:
    continuous = np.loadtxt(data.cub_dir / "attributes" / "class_attribute_labels_continuous.txt")
    truth = np.concatenate(
        [np.eye(len(g.values))[data.class_values[:, k]] for k, g in enumerate(data.groups)], 1
    )
    assert continuous[truth == 1].mean() > 75 and continuous[truth == 0].mean() < 15


def test_xlsa17_mat_files(data: sz.SynthZSLInfo) -> None:
    att_splits = loadmat(data.xlsa_dir / "att_splits.mat")
    res = loadmat(data.xlsa_dir / "res101.mat")
    n, c = data.num_images, CLASSES
    a = len(data.attribute_names)
    names = att_splits["allclasses_names"]
    assert names.shape == (c, 1) and names.dtype == object  # a MATLAB cell array
    assert [str(x[0][0]) for x in names] == data.class_names
    att, original = att_splits["att"], att_splits["original_att"]
    assert att.shape == original.shape == (a, c) and att.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(att, axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(att * np.linalg.norm(original, axis=0), original, atol=1e-9)
    continuous = np.loadtxt(data.cub_dir / "attributes" / "class_attribute_labels_continuous.txt")
    np.testing.assert_allclose(original, continuous.T, atol=1e-9)
    assert res["image_files"].shape == (n, 1) and res["labels"].shape == (n, 1)
    assert "features" not in res
    images = [r[1] for r in _rows(data.cub_dir / "images.txt")]
    files = [str(x[0][0]) for x in res["image_files"]]
    assert all(f == sz.FOREIGN_PREFIX + rel for f, rel in zip(files, images, strict=True))
    assert all(f.startswith("/") and "/CUB_200_2011/images/" in f for f in files)
    labels = res["labels"].ravel().astype(int)
    cub_labels = [int(r[1]) for r in _rows(data.cub_dir / "image_class_labels.txt")]
    assert labels.tolist() == cub_labels
    locs = {k: att_splits[f"{k}_loc"] for k in ("trainval", "test_seen", "test_unseen")}
    for loc in [*locs.values(), att_splits["train_loc"], att_splits["val_loc"]]:
        assert loc.ndim == 2 and loc.shape[1] == 1 and np.issubdtype(loc.dtype, np.integer)
        assert loc.min() >= 1 and loc.max() <= n
    everything = np.concatenate([v.ravel() for v in locs.values()])
    assert sorted(everything.tolist()) == list(range(1, n + 1))  # each image exactly once
    cls = {k: set(labels[v.ravel() - 1] - 1) for k, v in locs.items()}
    assert cls["test_unseen"] == set(data.unseen_classes)
    assert cls["trainval"] == cls["test_seen"] == set(data.seen_classes)
    per_class = np.bincount(labels[locs["trainval"].ravel() - 1] - 1, minlength=c)
    assert set(per_class[data.seen_classes]) == {round(0.8 * PER_CLASS)}
    train_cls = set(labels[att_splits["train_loc"].ravel() - 1] - 1)
    val_cls = set(labels[att_splits["val_loc"].ravel() - 1] - 1)
    assert train_cls and val_cls and train_cls.isdisjoint(val_cls)
    assert train_cls | val_cls == set(data.seen_classes)
    trainval_names = (data.xlsa_dir / "trainvalclasses.txt").read_text().split()
    assert trainval_names == [data.class_names[k] for k in data.seen_classes]


def test_parts_lie_in_the_box_and_image(data: sz.SynthZSLInfo) -> None:
    boxes = np.array(
        [[float(v) for v in r[1:]] for r in _rows(data.cub_dir / "bounding_boxes.txt")]
    )
    x0, y0, w, h = boxes.T
    assert np.all(x0 >= 0) and np.all(y0 >= 0) and np.all(w > 4) and np.all(h > 4)
    assert np.all(x0 + w <= SIZE - 1) and np.all(y0 + h <= SIZE - 1)
    locs = np.array([[float(v) for v in r] for r in _rows(data.cub_dir / "parts/part_locs.txt")])
    locs = locs.reshape(data.num_images, 15, 5)[..., 2:]
    for (x, y, vis), box in zip(locs.reshape(-1, 3), np.repeat(boxes, 15, 0), strict=True):
        if vis:
            assert box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]
    vis = locs[..., 2]
    idx = {name: i for i, name in enumerate(CUB_PARTS)}
    for part in ("eye", "wing"):  # a bird in profile shows exactly one eye and one wing
        np.testing.assert_array_equal(vis[:, idx[f"left {part}"]] + vis[:, idx[f"right {part}"]], 1)
    both_sides = [idx[p] for p in CUB_PARTS if not p.startswith(("left", "right"))]
    assert np.all(vis[:, both_sides] == 1)
    assert set(vis[:, idx["left eye"]]) == {0, 1}  # both facings occur


def test_clicks_scatter_around_the_part(data: sz.SynthZSLInfo) -> None:
    locs = np.array([[float(v) for v in r] for r in _rows(data.cub_dir / "parts/part_locs.txt")])
    clicks = np.array(
        [[float(v) for v in r] for r in _rows(data.cub_dir / "parts/part_click_locs.txt")]
    )
    truth = {(int(r[0]), int(r[1])): r[2:5] for r in locs}
    mirror = {i + 1: CUB_PARTS.index(_mirror(p)) + 1 for i, p in enumerate(CUB_PARTS)}
    workers = np.bincount(clicks[:, 0].astype(int))[1:] / 15
    assert set(workers) <= {3, 4, 5}
    agree = 0
    for img, part, x, y, vis, _ in clicks:
        tx, ty, tvis = truth[(int(img), int(part))]
        if not vis:
            assert x == y == 0
            continue
        if not tvis:  # a wrong "visible" lands on the visible mirror part
            tx, ty, _ = truth[(int(img), mirror[int(part)])]
        else:
            agree += 1
        assert abs(x - tx) <= 6 and abs(y - ty) <= 6
    assert agree > 0.9 * sum(v for *_, v in truth.values()) * 3


def _mirror(name: str) -> str:
    return name.replace("left", "@").replace("right", "left").replace("@", "right")


LOOKS = [
    {
        "crown_color": "red",
        "wing_color": "blue",
        "wing_pattern": "striped",
        "bill_shape": "needle",
        "tail_shape": "forked",
        "size": "small",
        "breast_color": "white",
        "upperparts_color": "green",
    },
    {
        "crown_color": "black",
        "wing_color": "yellow",
        "wing_pattern": "spotted",
        "size": "large",
        "bill_shape": "hooked",
        "tail_shape": "rounded",
        "breast_color": "grey",
        "upperparts_color": "brown",
    },
    {"wing_pattern": "solid", "bill_shape": "curved", "tail_shape": "squared", "size": "medium"},
]


@pytest.mark.parametrize("look", LOOKS)
def test_bird_is_local_and_visible_parts_are_drawn(look: dict[str, str]) -> None:
    for seed in range(6):
        img, ann = sz.render_bird(look, seed, 64)
        bg, ann_bg = sz.render_bird(look, seed, 64, draw_object=False)
        assert ann_bg.box == ann.box
        diff = np.abs(np.asarray(img, dtype=int) - np.asarray(bg, dtype=int)).sum(2)
        x, y, w, h = (int(v) for v in ann.box)
        outside = np.ones_like(diff, dtype=bool)
        outside[max(0, y - 1) : y + h + 2, max(0, x - 1) : x + w + 2] = False
        assert diff[outside].max() == 0  # the bird changes nothing outside its box
        assert (diff > 30).mean() > 0.3 * w * h / diff.size  # ... and much inside it
        for px, py, vis in ann.parts:
            if vis:
                r, c = round(py), round(px)
                assert diff[r - 1 : r + 2, c - 1 : c + 2].mean() > 20, (seed, px, py)


def test_render_bird_is_deterministic_and_seed_sensitive() -> None:
    a, ann_a = sz.render_bird(LOOKS[0], 11, 64)
    b, ann_b = sz.render_bird(LOOKS[0], 11, 64)
    c, _ = sz.render_bird(LOOKS[0], 12, 64)
    assert a.tobytes() == b.tobytes() and ann_a.box == ann_b.box
    np.testing.assert_array_equal(ann_a.parts, ann_b.parts)
    assert a.tobytes() != c.tobytes()


def test_pose_mirrors_the_parts() -> None:
    look = sz.look_of({})
    right = sz.Pose(1, 15.0, 0.0, 32.0, 32.0, True)
    left = sz.Pose(-1, 15.0, 0.0, 32.0, 32.0, True)
    pr, pl = sz.part_locations(look, right), sz.part_locations(look, left)
    for i, name in enumerate(CUB_PARTS):
        j = CUB_PARTS.index(_mirror(name))
        np.testing.assert_allclose(pl[j, 2], pr[i, 2])
        if pr[i, 2]:
            np.testing.assert_allclose(pl[j, 0], 64.0 - pr[i, 0])
            np.testing.assert_allclose(pl[j, 1], pr[i, 1])
    beak, tail = CUB_PARTS.index("beak"), CUB_PARTS.index("tail")
    assert pr[beak, 0] > 32 > pr[tail, 0]  # facing right: beak right of centre


def _crops(looks: list[dict[str, str]], per_class: int, draw: bool, offset: int) -> np.ndarray:
    """Pixels of a square crop around each bird box, resized to 12×12."""
    feats = []
    for k, look in enumerate(looks):
        for i in range(per_class):
            img, ann = sz.render_bird(look, [offset, k, i], SIZE, draw_object=draw)
            x, y, w, h = ann.box
            cx, cy, side = x + w / 2, y + h / 2, max(w, h) / 2 + 1
            crop = img.crop((cx - side, cy - side, cx + side, cy + side)).resize((12, 12))
            feats.append(np.asarray(crop, dtype=np.float32).ravel() / 255.0)
    return np.stack(feats)


def test_seen_classes_are_learnable_from_the_object_only() -> None:
    groups = sz.DEFAULT_GROUPS
    combos, unseen_ids = sz.choose_classes(groups, 12, 2, np.random.default_rng(0))
    seen = np.setdiff1d(np.arange(12), unseen_ids)
    looks = [{g.name: g.values[v] for g, v in zip(groups, combos[c], strict=True)} for c in seen]
    y_train, y_test = np.repeat(np.arange(len(looks)), 24), np.repeat(np.arange(len(looks)), 10)
    scores = {}
    for draw in (True, False):
        x_train, x_test = _crops(looks, 24, draw, 1), _crops(looks, 10, draw, 2)
        with threadpool_limits(1):  # tiny problem: BLAS threads only add contention
            model = LogisticRegression(C=0.05, max_iter=300).fit(x_train, y_train)
        scores[draw] = model.score(x_test, y_test)
    chance = 1 / len(looks)
    assert scores[True] > 4 * chance, scores  # the bird carries the class
    assert scores[False] < 2.5 * chance, scores  # the same crops without the bird do not


def test_attributes_learned_on_seen_classes_transfer_to_unseen_ones() -> None:
    """Zero-shot by attribute prediction (DAP-style) on crop pixels: one linear probe per group,
    trained on seen classes only, scores the unseen classes well above chance."""
    groups, n = sz.DEFAULT_GROUPS, 20
    combos, unseen_ids = sz.choose_classes(groups, 50, 10, np.random.default_rng(1))
    seen = np.setdiff1d(np.arange(50), unseen_ids)
    looks = [{g.name: g.values[v] for g, v in zip(groups, c, strict=True)} for c in combos]
    x = _crops(looks, n, True, 5).reshape(50, n, -1)
    x_seen, x_unseen = x[seen].reshape(-1, x.shape[-1]), x[unseen_ids].reshape(-1, x.shape[-1])
    scores = np.zeros((len(x_unseen), len(unseen_ids)))
    for g, group in enumerate(groups):
        with threadpool_limits(1):
            probe = LogisticRegression(C=0.1, max_iter=500).fit(
                x_seen, np.repeat(combos[seen, g], n)
            )
        logp = np.full((len(x_unseen), len(group.values)), -np.inf)
        logp[:, probe.classes_] = probe.predict_log_proba(x_unseen)
        scores += logp[:, combos[unseen_ids, g]]  # every unseen value is a seen value: finite
    assert np.isfinite(scores).all()
    accuracy = (scores.argmax(1) == np.repeat(np.arange(len(unseen_ids)), n)).mean()
    assert accuracy > 2.5 / len(unseen_ids), accuracy


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    bad = [
        dict(classes=5, unseen=4),
        dict(classes=5, unseen=0),
        dict(images_per_class=1),
        dict(image_size=16),
        dict(workers=0),
        dict(groups={"crown_color": ["red", "blue"]}, classes=3, unseen=1),
        dict(groups={"crown_color": ["red", "purple"]}),
        dict(groups={"beak_length": ["short", "long"]}),
        dict(groups={"size": ["small"]}),
        # one group: an unseen class's only value would have to be a seen class's too
        dict(groups={"size": ["small", "medium", "large"]}, classes=3, unseen=1),
    ]
    for kwargs in bad:
        with pytest.raises(ValueError) as err:
            sz.synth_zsl(tmp_path / "x", progress=False, **kwargs)
        assert isinstance(err.value, LococoError) and str(err.value)
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_refuses_non_empty_out_and_overwrites_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    small = dict(classes=4, unseen=1, images_per_class=2, image_size=32, progress=False)
    with pytest.raises(ValueError, match="not empty"):
        sz.synth_zsl(out, **small)
    sz.synth_zsl(out, overwrite=True, seed=1, **small)
    first = (out / "CUB_200_2011" / "parts" / "part_locs.txt").read_bytes()
    sz.synth_zsl(out, overwrite=True, seed=2, **small)
    assert (out / "CUB_200_2011" / "parts" / "part_locs.txt").read_bytes() != first
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["CUB_200_2011", "xlsa17", "attributes.txt", "synth_zsl.json", "keep.txt"]
    )


def test_failed_run_leaves_no_half_dataset(tmp_path: Path, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(sz, "_write_xlsa", boom)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        sz.synth_zsl(out, classes=4, unseen=1, images_per_class=2, image_size=32, progress=False)
    assert list(out.iterdir()) == []


def test_generation_speed(tmp_path: Path) -> None:
    start = time.perf_counter()
    info = sz.synth_zsl(
        tmp_path / "speed",
        classes=10,
        unseen=2,
        images_per_class=20,
        image_size=64,
        progress=False,
    )
    seconds = time.perf_counter() - start
    print(
        f"\nsynth_zsl: {info.num_images} images of 64 px in {seconds:.2f} s "
        f"({info.num_images / seconds * 60:.0f} images/min on one worker)"
    )
    assert info.num_images == 200
