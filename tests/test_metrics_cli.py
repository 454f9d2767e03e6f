"""``lococo metrics fid|kid|is``: folders and saved statistics, substitute extractors, and bad
input (one line, exit 1, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lococo.cli.main import main
from lococo.cli.metrics_cmd import Side, load_stats, save_stats
from lococo.metrics import frechet_distance, kernel_inception_distance
from lococo.metrics.inception import WEIGHTS_ENV, WEIGHTS_FILE, random_fid_inception
from lococo.metrics.objects import CropClassifier, save_classifier


def _folder(root: Path, seed: int, n: int, offset: int = 0) -> Path:
    """``n`` 16×16 images, half PNG at the top, half JPEG in a nested folder."""
    rng = np.random.default_rng(seed)
    (root / "nested" / "deeper").mkdir(parents=True)
    for i in range(n):
        pixels = np.clip(rng.integers(0, 200, (16, 16, 3)) + offset, 0, 255).astype(np.uint8)
        where = root / f"{i}.png" if i % 2 == 0 else root / "nested" / "deeper" / f"{i}.jpg"
        Image.fromarray(pixels).save(where)
    return root


def _classifier(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    save_classifier(path, CropClassifier(18, 3, 32), {"note": "test"})
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_error(rc: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert rc == 1 and len(lines) == 1 and lines[0].startswith("lococo: error: "), err
    return lines[0]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    return _folder(tmp_path / "real", 0, 6), _folder(tmp_path / "fake", 1, 5, offset=50)


def test_substitute_extractor_folders_and_saved_stats(tmp_path, folders, capsys) -> None:
    real, fake = folders
    clf = _classifier(tmp_path / "clf.pt", 0)
    out, stats = tmp_path / "res" / "metrics.json", tmp_path / "real.npz"
    args = ["--substitute", str(clf), "--no-progress", "--device", "cpu", "--out", str(out)]
    rc, printed, _ = _run(
        capsys, "metrics", "fid", str(real), str(fake), *args, "--save-stats", str(stats)
    )
    assert rc == 0 and "NOT comparable" in printed
    result = json.loads(out.read_text())["fid"]
    assert result["comparable"] is False and result["extractor"] == "lococo-ca-resnet18"
    assert result["num_real"] == 6 and result["num_fake"] == 5 and result["fid"] > 0
    saved = load_stats(stats)
    assert saved.features.shape == (6, 512) and saved.logits.shape == (6, 3)

    # The saved statistics stand in for the folder and give the same FID.
    rc, _, _ = _run(capsys, "metrics", "fid", str(stats), str(fake), *args)
    assert rc == 0 and json.loads(out.read_text())["fid"]["fid"] == pytest.approx(result["fid"])

    rc, _, _ = _run(capsys, "metrics", "kid", str(stats), str(fake), *args, "--subsets", "3")
    kid = json.loads(out.read_text())["kid"]
    assert rc == 0 and kid["kid_subset_size"] == 5 and kid["kid_subset_size_requested"] == 1000
    fake_stats = tmp_path / "fake.npz"
    assert _run(capsys, "metrics", "is", str(fake), *args, "--save-stats", str(fake_stats))[0] == 0
    expected = kernel_inception_distance(
        saved.features, load_stats(fake_stats).features, subsets=3, subset_size=5
    )
    assert kid["kid_mean"] == pytest.approx(expected[0], rel=1e-6)

    rc, printed, _ = _run(capsys, "metrics", "is", str(stats), "--splits", "2", "--out", str(out))
    isc = json.loads(out.read_text())["is"]
    assert rc == 0 and isc["is_splits"] == 2 and isc["num_images"] == 6 and isc["is_mean"] >= 1
    assert set(json.loads(out.read_text())) == {"fid", "kid", "is"}


def test_missing_weights_one_line_nothing_written(tmp_path, folders, capsys, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    real, fake = folders
    out, stats = tmp_path / "o.json", tmp_path / "s.npz"
    argv = ["metrics", "fid", str(real), str(fake), "--out", str(out), "--save-stats", str(stats)]
    line = _one_line_error(*_run(capsys, *argv)[::2])
    assert WEIGHTS_FILE in line and WEIGHTS_ENV in line and "--weights" in line
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere"))
    line = _one_line_error(*_run(capsys, *argv)[::2])
    assert str(tmp_path / "nowhere" / WEIGHTS_FILE) in line
    assert not out.exists() and not stats.exists()


def test_wrong_weights_file(tmp_path, folders, capsys) -> None:
    import torchvision

    real, fake = folders
    wrong = tmp_path / "vgg.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), wrong)
    out = tmp_path / "o.json"
    argv = ["metrics", "fid", str(real), str(fake), "--weights", str(wrong), "--out", str(out)]
    line = _one_line_error(*_run(capsys, *argv)[::2])
    assert str(wrong) in line and "not the FID Inception-V3 weights" in line
    assert not out.exists()


@pytest.mark.parametrize("case", ["empty", "one image", "absent", "corrupt"])
def test_bad_folders(tmp_path, folders, capsys, case) -> None:
    real, _ = folders
    bad = tmp_path / "bad"
    if case == "empty":
        (bad / "sub").mkdir(parents=True)
        (bad / "notes.txt").write_text("no images here")
        expected = "no PNG/JPEG images"
    elif case == "one image":
        _folder(bad, 2, 1)
        expected = "only 1 image"
    elif case == "absent":
        expected = "not an image folder"
    else:
        _folder(bad, 2, 3)
        (bad / "nested" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        expected = "cannot decode image"
    clf = _classifier(tmp_path / "clf.pt", 0)
    out, stats = tmp_path / "o.json", tmp_path / "s.npz"
    argv = ["metrics", "fid", str(real), str(bad), "--substitute", str(clf), "--no-progress"]
    argv += ["--device", "cpu", "--out", str(out), "--save-stats", str(stats)]
    line = _one_line_error(*_run(capsys, *argv)[::2])
    assert expected in line
    assert (str(bad / "nested" / "broken.png") if case == "corrupt" else str(bad)) in line
    assert not out.exists() and not stats.exists()


def _stats(path: Path, dim: int, info: dict) -> Path:
    feats = np.random.default_rng(dim).standard_normal((4, dim)).astype(np.float32)
    mu, sigma = feats.mean(0).astype(np.float64), np.cov(feats, rowvar=False)
    save_stats(path, Side(path, features=feats, mu=mu, sigma=sigma, info=info), "test")
    return path


def test_mismatched_statistics(tmp_path, capsys) -> None:
    info = {"extractor": "x", "comparable": False}
    a, b = _stats(tmp_path / "a.npz", 8, info), _stats(tmp_path / "b.npz", 6, info)
    out = tmp_path / "o.json"
    line = _one_line_error(*_run(capsys, "metrics", "fid", str(a), str(b), "--out", str(out))[::2])
    assert str(b) in line and "6-d" in line and "8-d" in line
    c = _stats(tmp_path / "c.npz", 8, {"extractor": "y", "comparable": False})
    line = _one_line_error(*_run(capsys, "metrics", "kid", str(a), str(c))[::2])
    assert str(c) in line and "extractor y" in line
    line = _one_line_error(*_run(capsys, "metrics", "is", str(a))[::2])
    assert "no logits" in line
    junk = tmp_path / "junk.npz"
    np.savez(junk, mu=np.zeros(3))
    line = _one_line_error(*_run(capsys, "metrics", "fid", str(junk), str(a))[::2])
    assert str(junk) in line and "--save-stats" in line
    assert not out.exists()
    # Two npz inputs with the same extractor need no network.
    b8 = _stats(tmp_path / "b8.npz", 8, info)
    rc, _, _ = _run(capsys, "metrics", "fid", str(a), str(b8), "--out", str(out))
    sa, sb = load_stats(a), load_stats(b8)
    expected = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)
    assert rc == 0 and json.loads(out.read_text())["fid"]["fid"] == pytest.approx(expected)


def test_statistics_of_another_substitute_refused(tmp_path, folders, capsys) -> None:
    real, fake = folders
    first, second = _classifier(tmp_path / "a.pt", 0), _classifier(tmp_path / "b.pt", 1)
    stats = tmp_path / "real.npz"
    common = ["--no-progress", "--device", "cpu"]
    argv = ["metrics", "is", str(real), "--substitute", str(first), "--save-stats", str(stats)]
    assert _run(capsys, *argv, *common)[0] == 0
    argv = ["metrics", "fid", str(stats), str(fake), "--substitute", str(second), *common]
    line = _one_line_error(*_run(capsys, *argv)[::2])
    assert str(stats) in line and "statistics come from extractor" in line


@pytest.mark.slow
def test_fid_with_a_weights_file(tmp_path, capsys) -> None:
    real, fake = _folder(tmp_path / "real", 0, 2), _folder(tmp_path / "fake", 1, 2, offset=40)
    weights = tmp_path / WEIGHTS_FILE
    torch.save(random_fid_inception(seed=3).net.state_dict(), weights)
    out = tmp_path / "o.json"
    argv = ["metrics", "fid", str(real), str(fake), "--weights", str(weights), "--no-progress"]
    rc, printed, _ = _run(capsys, *argv, "--device", "cpu", "--out", str(out))
    result = json.loads(out.read_text())["fid"]
    assert rc == 0 and result["extractor"] == "inception-v3-fid" and result["fid"] >= 0
    assert printed.startswith("FID ") and "(2 real, 2 generated" in printed
    assert result["weights"] == str(weights.resolve()) and len(result["weights_sha256"]) == 64
    assert result["resize"].startswith("299x299")


def test_too_few_images_for_the_splits(tmp_path, folders, capsys, monkeypatch) -> None:
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)  # checked before any network is needed
    _, fake = folders
    line = _one_line_error(*_run(capsys, "metrics", "is", str(fake), "--splits", "6")[::2])
    assert str(fake) in line and "5 images cannot fill 6 splits" in line
