"""FID / IS / KID against reference implementations and known values; the FID Inception
extractor (random weights, weights-file path); object crops, SceneFID and the CA classifier."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lococo.errors import DataError, LococoError
from lococo.metrics import (
    feature_statistics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
)
from lococo.metrics.generation import polynomial_mmd2
from lococo.metrics.inception import (
    WEIGHTS_ENV,
    WEIGHTS_FILE,
    WEIGHTS_HASH_PREFIX,
    extract,
    load_fid_inception,
    random_fid_inception,
)
from lococo.metrics.objects import (
    CAConfig,
    ClassifierExtractor,
    ca_classifier,
    classification_accuracy,
    object_crops,
    scene_fid,
    train_crop_classifier,
)


def _gaussian_stats(rng: np.random.Generator, n: int, d: int, shift: float):
    a = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) / math.sqrt(d)
    return feature_statistics(a + shift)


# --- Fréchet distance ------------------------------------------------------------------------


@pytest.mark.parametrize("d", [8, 64])
def test_frechet_distance_matches_pytorch_fid(d: int) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(d)
    mu1, s1 = _gaussian_stats(rng, 500, d, 0.0)
    mu2, s2 = _gaussian_stats(rng, 500, d, 0.3)
    ours = frechet_distance(mu1, s1, mu2, s2)
    ref = float(calculate_frechet_distance(mu1, s1, mu2, s2))
    assert ours == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(ours, rel=1e-9)


def test_frechet_distance_analytic_commuting_covariances() -> None:
    # Σ1 = Q diag(a) Qᵀ, Σ2 = Q diag(b) Qᵀ commute, so tr √(Σ1Σ2) = Σ √(a b) and
    # FD = |μ1 - μ2|² + Σ (√a - √b)².
    rng = np.random.default_rng(0)
    d = 32
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a, b = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, torch.tensor(mu2), q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_rank_deficient_and_duplicates() -> None:
    rng = np.random.default_rng(1)
    d = 48
    few = rng.standard_normal((5, d))  # 5 samples in 48-d: rank-4 covariance
    mu1, s1 = feature_statistics(few)
    mu2, s2 = feature_statistics(rng.standard_normal((7, d)) + 0.1)
    value = frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(value) and value >= 0
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-6 * np.trace(s1))
    # Duplicate images: zero covariance, so only the mean term and tr Σ2 remain.
    dup = np.repeat(few[:1], 4, axis=0)
    mu3, s3 = feature_statistics(dup)
    assert frechet_distance(mu3, s3, mu2, s2) == pytest.approx(
        np.sum((mu3 - mu2) ** 2) + np.trace(s2), rel=1e-9
    )


def test_frechet_distance_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="means"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="covariances"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full(2, np.nan), np.eye(2), np.zeros(2), np.eye(2))


# --- Inception Score -------------------------------------------------------------------------


def _reference_is(logits: np.ndarray, splits: int) -> tuple[float, float]:
    """Per-sample loop in plain Python floats, consecutive splits."""
    n = len(logits)
    scores = []
    for i in range(splits):
        rows = range(i * n // splits, (i + 1) * n // splits)
        probs = []
        for r in rows:
            m = max(logits[r])
            e = [math.exp(v - m) for v in logits[r]]
            probs.append([v / sum(e) for v in e])
        marginal = [sum(p[c] for p in probs) / len(probs) for c in range(logits.shape[1])]
        kl = [sum(p[c] * math.log(p[c] / marginal[c]) for c in range(len(p))) for p in probs]
        scores.append(math.exp(sum(kl) / len(kl)))
    mean = sum(scores) / splits
    return mean, math.sqrt(sum((s - mean) ** 2 for s in scores) / splits)


@pytest.mark.parametrize(("n", "splits"), [(23, 5), (20, 1), (12, 3)])
def test_inception_score_matches_loop_and_torch_fidelity(n: int, splits: int) -> None:
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = np.random.default_rng(n).standard_normal((n, 10)) * 3
    mean, std = inception_score(logits, splits=splits)
    ref_mean, ref_std = _reference_is(logits, splits)
    assert mean == pytest.approx(ref_mean, rel=1e-10)
    assert std == pytest.approx(ref_std, rel=1e-8, abs=1e-12)
    tf = isc_features_to_metric(torch.tensor(logits), splits=splits, shuffle=False)
    assert mean == pytest.approx(tf["inception_score_mean"], rel=1e-10)


def test_inception_score_known_values() -> None:
    # Confident, evenly spread predictions over k classes in each split give IS = k.
    k = 4
    onehot = np.eye(k)[np.tile(np.arange(k), 3)] * 60.0
    assert inception_score(onehot, splits=3) == pytest.approx((k, 0.0), abs=1e-9)
    # One identical prediction for every sample gives IS = 1.
    assert inception_score(np.ones((6, 5)), splits=2)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="split"):
        inception_score(np.ones((3, 5)), splits=5)


# --- KID -------------------------------------------------------------------------------------


def _reference_kid(a: np.ndarray, b: np.ndarray, subsets: int, m: int, seed: int):
    rng = np.random.RandomState(seed)
    d = a.shape[1]

    def k(x, y):
        return (sum(float(u) * float(v) for u, v in zip(x, y, strict=True)) / d + 1) ** 3

    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
        values.append(xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m))
    mean = sum(values) / subsets
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / subsets)


def test_kid_matches_direct_loop_and_torch_fidelity() -> None:
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng(3)
    a = rng.standard_normal((30, 6))
    b = rng.standard_normal((25, 6)) * 1.3 + 0.2
    mean, std = kernel_inception_distance(a, b, subsets=4, subset_size=9, seed=7)
    ref_mean, ref_std = _reference_kid(a, b, 4, 9, 7)
    assert mean == pytest.approx(ref_mean, rel=1e-6)
    assert std == pytest.approx(ref_std, rel=1e-6)
    tf = kid_features_to_metric(
        torch.tensor(a),
        torch.tensor(b),
        kid_subsets=4,
        kid_subset_size=9,
        rng_seed=7,
        verbose=False,
    )
    assert mean == pytest.approx(tf["kernel_inception_distance_mean"], rel=1e-6)


def test_kid_same_distribution_near_zero_and_bad_subset_size() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((200, 8)), rng.standard_normal((200, 8))
    same, _ = kernel_inception_distance(a, b, subsets=20, subset_size=100)
    shifted, _ = kernel_inception_distance(a, b + 1.0, subsets=20, subset_size=100)
    assert abs(same) < 0.1 * shifted
    with pytest.raises(ValueError, match="subset_size"):
        kernel_inception_distance(a[:5], b, subset_size=10)


def test_paired_kid_is_gretton_u_statistic_and_stays_unbiased_for_paired_samples() -> None:
    """Real and generated images of one layout are paired: the all-pairs cross term of the
    usual estimator then reads them as closer than the distributions are."""
    rng = np.random.default_rng(5)
    m, d = 12, 5
    x, y = rng.standard_normal((m, d)), rng.standard_normal((m, d))

    def k(u, v):
        return (float(u @ v) / d + 1) ** 3

    h = [
        k(x[i], x[j]) + k(y[i], y[j]) - k(x[i], y[j]) - k(x[j], y[i])
        for i in range(m) for j in range(m) if i != j
    ]  # fmt: skip
    assert polynomial_mmd2(x, y, paired=True) == pytest.approx(sum(h) / (m * (m - 1)), rel=1e-9)

    # y_i = x_i + small noise: one distribution, strongly paired rows (MMD² = 0)
    unpaired, paired = [], []
    for seed in range(40):
        r = np.random.default_rng(100 + seed)
        a = r.standard_normal((60, 8))
        b = (a + 0.3 * r.standard_normal((60, 8))) / np.sqrt(1.09)  # N(0, I), as a
        unpaired.append(kernel_inception_distance(a, b, subsets=5, subset_size=60)[0])
        paired.append(kernel_inception_distance(a, b, subsets=5, subset_size=60, paired=True)[0])
    spread = np.std(paired) / np.sqrt(len(paired))
    assert np.mean(unpaired) < -10 * spread  # the all-pairs estimator is biased below zero
    assert abs(np.mean(paired)) < 3 * spread  # the paired one is not
    with pytest.raises(ValueError, match="one row count"):
        kernel_inception_distance(x, y[:10], subset_size=5, paired=True)


# --- FID Inception-V3 extractor ------------------------------------------------------------


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (2, 3, 40, 40), generator=gen, dtype=torch.uint8)


@pytest.fixture(scope="module")
def net():
    return random_fid_inception(seed=0)


def test_inception_shapes_determinism_and_batch_invariance(images, net) -> None:
    feats, logits = net(images)
    assert feats.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(feats).all() and feats.std(0).mean() > 0
    again, _ = random_fid_inception(seed=0)(images)
    torch.testing.assert_close(again, feats, rtol=0, atol=0)
    single = torch.cat([net(images[i : i + 1])[0] for i in range(2)])
    torch.testing.assert_close(single, feats, rtol=1e-4, atol=1e-5)
    w0 = net.net.Mixed_7c.branch_pool.conv.weight
    w1 = random_fid_inception(seed=1).net.Mixed_7c.branch_pool.conv.weight
    assert not torch.equal(w0, w1)
    assert net.info()["comparable"] is False


def test_extract_mixes_sizes_in_order(images, net) -> None:
    big = F.interpolate(images.float(), size=60).round().to(torch.uint8)
    out = extract(net, [images[:1], big[1:]], total=2, device="cpu", progress=False)
    assert out.features.shape == (2, 2048) and out.logits.shape == (2, 1008)
    np.testing.assert_allclose(out.features[:1], net(images[:1])[0].numpy(), rtol=1e-5)


def test_weights_file_loading_and_errors(tmp_path, monkeypatch, images) -> None:
    source = random_fid_inception(seed=5)
    path = tmp_path / WEIGHTS_FILE
    state = {k: v for k, v in source.net.state_dict().items() if "num_batches" not in k}
    torch.save(state, path)
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    loaded = load_fid_inception()
    torch.testing.assert_close(loaded(images)[0], source(images)[0], rtol=0, atol=0)
    info = loaded.info()
    assert info["comparable"] is True and info["extractor"] == "inception-v3-fid"
    assert info["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["weights_hash_matches_name"] is False  # a random state dict, not the real file

    monkeypatch.delenv(WEIGHTS_ENV)
    with pytest.raises(LococoError) as err:
        load_fid_inception()
    message = str(err.value)
    assert "\n" not in message and WEIGHTS_FILE in message and WEIGHTS_ENV in message
    assert "--weights" in message and WEIGHTS_HASH_PREFIX in message
    with pytest.raises(LococoError, match="file not found"):
        load_fid_inception(tmp_path / "absent.pth")

    import torchvision

    wrong = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), wrong)
    with pytest.raises(DataError, match="not the FID Inception-V3 weights") as err:
        load_fid_inception(wrong)
    assert str(wrong) in str(err.value) and "\n" not in str(err.value)
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(DataError, match="not a readable PyTorch weights file"):
        load_fid_inception(junk)


# --- object crops, SceneFID, CA --------------------------------------------------------------


def test_object_crops_exact_on_pixel_aligned_boxes() -> None:
    gen = torch.Generator().manual_seed(1)
    image = torch.randint(0, 256, (3, 64, 48), generator=gen, dtype=torch.uint8)
    boxes = torch.tensor([[8 / 48, 16 / 64, 24 / 48, 32 / 64], [0.0, 0.0, 1.0, 1.0]])
    crops = object_crops([image, image], [boxes[:1], torch.zeros(0, 4)], size=16)
    assert crops.shape == (1, 3, 16, 16) and crops.dtype == torch.uint8
    torch.testing.assert_close(crops[0], image[:, 16:32, 8:24])
    # Halving a 32×32 box averages 2×2 blocks (adaptive sampling).
    half = object_crops(image[None], [torch.tensor([[0.0, 0.0, 32 / 48, 0.5]])], size=16)
    pooled = F.avg_pool2d(image[None, :, :32, :32].float(), 2).round().to(torch.uint8)
    assert (half.int() - pooled.int()).abs().max() <= 1
    with pytest.raises(ValueError, match="normalised"):
        object_crops(image[None], [torch.tensor([[0.5, 0.0, 0.2, 1.0]])])


class _ColourStats(torch.nn.Module):
    """A tiny deterministic extractor: per-channel mean and std of the image."""

    name, comparable, feature_dim = "colour-stats", False, 6

    def info(self):
        return {"extractor": self.name, "comparable": self.comparable}

    def forward(self, images):
        x = images.float().flatten(2) / 255
        return torch.cat([x.mean(-1), x.std(-1)], 1), None


def _scenes(seed: int, n: int, bright: bool):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 128, (n, 3, 32, 32), generator=gen, dtype=torch.uint8)
    if bright:
        images = images + 100
    boxes = [torch.tensor([[0.1, 0.1, 0.5, 0.6], [0.4, 0.3, 0.9, 0.9]])] * n
    return images, boxes


def test_scene_fid_is_fid_of_crops() -> None:
    real, real_boxes = _scenes(0, 4, bright=False)
    fake, fake_boxes = _scenes(1, 3, bright=True)
    ext = _ColourStats()
    out = scene_fid(ext, real, real_boxes, fake, fake_boxes, crop_size=24, progress=False)
    f_real = ext(object_crops(real, real_boxes, 24))[0]
    f_fake = ext(object_crops(fake, fake_boxes, 24))[0]
    expected = frechet_distance(*feature_statistics(f_real), *feature_statistics(f_fake))
    assert out["scene_fid"] == pytest.approx(expected, rel=1e-9)
    assert out["crops_real"] == 8 and out["crops_generated"] == 6 and out["crop_size"] == 24
    assert out["comparable"] is False and "roi_align" in out["crop_method"]
    same = scene_fid(ext, real, real_boxes, real, real_boxes, crop_size=24, progress=False)
    assert same["scene_fid"] == pytest.approx(0.0, abs=1e-9) and expected > 1e-3


def _labelled_crops(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: dark crops with a bright vertical bar; class 1: bright crops, dark bar across."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    crops = torch.randint(0, 60, (n, 3, 32, 32), generator=gen, dtype=torch.uint8)
    crops[labels == 1] += 150
    crops[labels == 0, :, :, 12:20] = 240
    crops[labels == 1, :, 12:20, :] = 10
    return crops, labels


@pytest.mark.slow
def test_ca_classifier_beats_chance() -> None:
    train, train_y = _labelled_crops(0, 64)
    test, test_y = _labelled_crops(1, 32)
    cfg = CAConfig(depth=18, input_size=32, epochs=3, batch_size=16, lr=1e-3)
    model = train_crop_classifier(train, train_y, 2, cfg, device="cpu", progress=False)
    result = classification_accuracy(model, test, test_y, test, test_y, device="cpu")
    assert result["ca_generated"] >= 0.9  # chance is 0.5
    assert result["ca_real_test"] == result["ca_generated"] and result["classifier"] == "resnet18"


def test_ca_classifier_saved_and_reused(tmp_path) -> None:
    train, train_y = _labelled_crops(0, 16)
    test, _ = _labelled_crops(1, 4)
    cfg = CAConfig(depth=18, input_size=32, epochs=1, batch_size=8)
    model, meta = ca_classifier(tmp_path, train, train_y, 2, cfg, device="cpu", progress=False)
    assert meta["reused"] is False and (tmp_path / "ca_classifier.pt").is_file()
    again, meta2 = ca_classifier(tmp_path, train, train_y, 2, cfg, progress=False)
    assert meta2["reused"] is True
    torch.testing.assert_close(again(test), model(test))
    with pytest.raises(LococoError, match="remove it to retrain"):
        ca_classifier(tmp_path, train, train_y, 2, CAConfig(depth=34), progress=False)
    with pytest.raises(LococoError, match="remove it to retrain"):
        ca_classifier(tmp_path, train, 1 - train_y, 2, cfg, progress=False)

    substitute = ClassifierExtractor.from_file(tmp_path / "ca_classifier.pt")
    feats, logits = substitute(test)
    assert feats.shape == (4, 512) and logits.shape == (4, 2)
    torch.testing.assert_close(logits, model(test))
    info = substitute.info()
    assert info["comparable"] is False and info["extractor"] == "lococo-ca-resnet18"


def test_folder_batches_keep_order_and_split_on_size_change(tmp_path) -> None:
    from PIL import Image

    from lococo.metrics.inception import folder_batches, list_images

    rng = np.random.default_rng(0)
    sizes = [16, 16, 16, 20, 20, 16]
    (tmp_path / "a" / "b").mkdir(parents=True)
    written = []
    for i, side in enumerate(sizes):
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        path = tmp_path / ("a/b" if i % 2 else "a") / f"{i}.png"
        Image.fromarray(pixels).convert("L" if i == 5 else "RGB").save(path)
        written.append((path, pixels))
    paths = list_images(tmp_path)
    assert paths == sorted(p for p, _ in written)
    batches = list(folder_batches(paths, batch_size=2))
    order = {p: side for (p, _), side in zip(written, sizes, strict=True)}
    expected_sides = [order[p] for p in paths]
    got_sides = [b.shape[-1] for b in batches for _ in range(len(b))]
    assert got_sides == expected_sides and all(len(b) <= 2 for b in batches)
    assert all(b.shape[1] == 3 and b.dtype == torch.uint8 for b in batches)  # grey becomes RGB
    first = dict(written)[paths[0]]
    torch.testing.assert_close(batches[0][0], torch.from_numpy(first).permute(2, 0, 1))
