"""CMIM classification pieces: text CNN, image encoder, bilinear fusion, eq. 8.3.5 terms."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lococo import mi
from lococo.cmim.cls_losses import (
    ClsLossWeights,
    bound,
    classification_loss,
    local_global_loss,
    local_local_loss,
    total_loss,
)
from lococo.cmim.cls_models import CMIMClassifier, ImageOnlyClassifier, ImageTextLocalCritic
from lococo.cmim.fusion import BilinearFusion
from lococo.cmim.image import ImageEncoder, resnet
from lococo.cmim.text import TextCNN
from lococo.errors import DataError, LococoError


def _text(seed: int = 0, vocab: int = 30, dim: int = 8) -> TextCNN:
    torch.manual_seed(seed)
    emb = torch.randn(vocab, dim)
    emb[0] = 0
    return TextCNN(emb, channels=16, blocks=2, kernel_size=3, global_dim=12)


def _batch(seed: int = 0, n: int = 4, max_len: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (n,), generator=g)
    lengths[0] = max_len
    tokens = torch.randint(1, 30, (n, max_len), generator=g)
    tokens[torch.arange(max_len)[None] >= lengths[:, None]] = 0
    return tokens, lengths


@pytest.mark.parametrize("train", [False, True])
def test_text_cnn_shapes_and_padding_independence(train: bool) -> None:
    net = _text().train(train)
    tokens, lengths = _batch()
    out = net(tokens, lengths)
    assert out.local.shape == (4, 16, 9) and out.global_.shape == (4, 12)
    assert out.mask.sum(1).tolist() == lengths.tolist()
    assert (out.local[~out.mask[:, None, :].expand_as(out.local)] == 0).all()
    padded = torch.cat([tokens, torch.randint(1, 30, (4, 5))], 1)  # junk ids after the end
    more = net(padded, lengths)
    torch.testing.assert_close(more.global_, out.global_, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(more.local[..., :9], out.local, rtol=1e-5, atol=1e-5)
    for i in range(4):  # each sequence alone, without padding
        n = int(lengths[i])
        alone = net(tokens[i : i + 1, :n], lengths[i : i + 1])
        torch.testing.assert_close(alone.local[0], out.local[i, :, :n], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(alone.global_[0], out.global_[i], rtol=1e-5, atol=1e-5)


def test_text_cnn_embeddings_are_frozen_and_lengths_checked() -> None:
    net = _text()
    tokens, lengths = _batch()
    net(tokens, lengths).global_.sum().backward()
    assert not net.embedding.weight.requires_grad and net.embedding.weight.grad is None
    assert net.project.weight.grad is not None
    with pytest.raises(ValueError, match="length"):
        net(tokens, torch.zeros(4, dtype=torch.long))


def test_bilinear_fusion_matches_its_formula() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(5, 6), torch.randn(5, 4)
    full = BilinearFusion(6, 4, 3)
    w, b = full.bilinear.weight, full.bilinear.bias  # 3×6×4
    expected = torch.stack(
        [torch.stack([x[n] @ w[k] @ y[n] + b[k] for k in range(3)]) for n in range(5)]
    )
    torch.testing.assert_close(full(x, y), expected)
    low = BilinearFusion(6, 4, 3, rank=2)
    u, v, p = low.u.weight, low.v.weight, low.p
    expected = torch.stack(
        [
            torch.stack(
                [
                    sum(p.weight[k, s] * (u[s] @ x[n]) * (v[s] @ y[n]) for s in range(2))
                    + p.bias[k]
                    for k in range(3)
                ]
            )
            for n in range(5)
        ]
    )
    torch.testing.assert_close(low(x, y), expected)
    # the low-rank form is a bilinear map with W_k = Σ_s P_ks u_s v_sᵀ
    w_low = torch.einsum("ks,sa,sb->kab", p.weight, u, v)
    torch.testing.assert_close(low(x, y), torch.einsum("na,kab,nb->nk", x, w_low, y) + p.bias)


def _direct_jsd(scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Deep InfoMax JSD by explicit loops over (row i, column j, position s) with valid[j, s]."""
    pos, neg = [], []
    n = scores.shape[0]
    flat, ok = scores.reshape(n, n, -1), valid.reshape(n, -1)
    for i in range(n):
        for j in range(n):
            for s in range(flat.shape[2]):
                if ok[j, s]:
                    (pos if i == j else neg).append(flat[i, j, s])
    return -F.softplus(-torch.stack(pos)).mean() - F.softplus(torch.stack(neg)).mean()


def test_local_local_term_against_direct_pairs() -> None:
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(4, 4, 6, 5, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 0]]).bool()
    valid = mask[:, None, :].expand(4, 6, 5)
    torch.testing.assert_close(local_local_loss(scores, mask), -_direct_jsd(scores, valid))
    # padded positions do not matter, whatever their scores
    junk = scores.clone()
    junk[~valid[None].expand_as(junk)] = 1e3
    torch.testing.assert_close(local_local_loss(junk, mask), local_local_loss(scores, mask))


def test_local_global_term_against_direct_pairs() -> None:
    g = torch.Generator().manual_seed(2)
    image = torch.randn(3, 3, 2, 2, generator=g)
    text = torch.randn(3, 3, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]]).bool()
    expected = -0.5 * (
        _direct_jsd(image, torch.ones(3, 2, 2, dtype=torch.bool)) + _direct_jsd(text, mask)
    )
    torch.testing.assert_close(local_global_loss(image, text, mask), expected)


@pytest.mark.parametrize("estimator", mi.ESTIMATORS)
def test_masked_bound_equals_mi_estimate_without_padding(estimator: str) -> None:
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(5, 5, 3, 4, generator=g)
    full = torch.ones(5, 3, 4, dtype=torch.bool)
    torch.testing.assert_close(bound(scores, estimator, full), mi.estimate(scores, estimator))


def test_classification_and_total() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    direct = (
        -sum(
            math.log(torch.sigmoid(logits[i, k]).item())
            if y[i, k]
            else math.log(1 - torch.sigmoid(logits[i, k]).item())
            for i in range(2)
            for k in range(2)
        )
        / 4
    )
    assert classification_loss(logits, y).item() == pytest.approx(direct, rel=1e-6)
    terms = {
        k: torch.tensor(v)
        for k, v in (("local_global", 1.0), ("local_local", 2.0), ("classif", 3.0))
    }
    assert total_loss(terms, ClsLossWeights(0.5, 0.25, 2.0)).item() == pytest.approx(7.0)
    with pytest.raises(ValueError):
        total_loss(terms, ClsLossWeights(0, 0, 0))


def _model(seed: int = 0) -> CMIMClassifier:
    torch.manual_seed(seed)
    image = ImageEncoder(depth=10, local_layer="layer3", input_size=32)
    return CMIMClassifier(image, _text(seed), num_classes=3, joint_dim=8, critic_hidden=8)


def test_critics_against_direct_per_pair_scores() -> None:
    model = _model().eval()
    tokens, lengths = _batch(n=3)
    images = torch.randn(3, 1, 32, 32)
    out = model(images, tokens, lengths)
    assert out.image_local.shape == (3, 256, 2, 2) and out.ll_scores.shape == (3, 3, 4, 9)
    crit = model.ll_critic
    for i in range(3):
        for j in range(3):
            f = crit.f(out.image_local[i : i + 1]).flatten(2)[0]  # E×P
            gj = crit.g(out.text_local[j : j + 1])[0]  # E×L
            torch.testing.assert_close(out.ll_scores[i, j], f.T @ gj * crit.scale)
            pair = torch.cat([out.joint[i][:, None].expand(-1, 9), out.text_local[j]], 0)
            direct = model.lg_text_critic.net(pair[None])[0, 0]
            torch.testing.assert_close(out.lg_text_scores[i, j], direct, rtol=1e-4, atol=1e-5)
    terms = model.losses(out, torch.ones(3, 3))
    assert set(terms) == {"local_local", "local_global", "classif", "total"}
    assert terms["local_local"].item() == pytest.approx(
        -_direct_jsd(out.ll_scores, out.text_mask[:, None, :].expand(3, 4, 9)).item(), rel=1e-5
    )
    # more padding changes nothing
    wide = torch.cat([tokens, torch.zeros(3, 4, dtype=torch.long)], 1)
    again = model.losses(model(images, wide, lengths), torch.ones(3, 3))
    for k, v in terms.items():
        assert again[k].item() == pytest.approx(v.item(), rel=1e-5, abs=1e-6)


def test_predict_path_needs_and_ignores_no_text() -> None:
    model = _model().eval()
    images = torch.randn(2, 1, 32, 32)
    a = model(images, *_batch(seed=1, n=2))
    b = model(images, *_batch(seed=2, n=2))
    torch.testing.assert_close(a.logits, b.logits)
    torch.testing.assert_close(model.predict(images), a.logits)
    with pytest.raises(ValueError, match="predict"):
        model(images)
    base = ImageOnlyClassifier(model.image, 3).eval()
    base.head.load_state_dict(model.head.state_dict())
    torch.testing.assert_close(base.predict(images), model.predict(images))
    torch.testing.assert_close(base(images, *_batch(n=2)).logits, base(images).logits)
    assert set(base.losses(base(images), torch.zeros(2, 3))) == {"classif", "total"}


def test_image_encoder_weights_from_a_local_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = resnet(10)
    torch.save(net.state_dict(), tmp_path / "r10.pth")
    enc = ImageEncoder(10, "layer2", 32, weights=tmp_path / "r10.pth")
    assert enc.weights_source.startswith("imagenet:") and enc.local_shape == (128, 4, 4)
    loaded = dict(enc.encoder.inner.body.named_parameters())
    torch.testing.assert_close(loaded["conv1.weight"], net.conv1.weight)
    assert ImageEncoder(10, "layer3", 32).weights_source == "scratch"
    assert ImageEncoder(50, "layer3", 32).global_dim == 2048
    with pytest.raises(DataError, match="not found"):
        ImageEncoder(10, weights=tmp_path / "absent.pth")
    with pytest.raises(DataError, match="do not fit"):
        ImageEncoder(18, weights=tmp_path / "r10.pth")
    with pytest.raises(LococoError, match="depth"):
        ImageEncoder(11)
    with pytest.raises(LococoError, match="layer9"):
        ImageEncoder(10, "layer9", 32)


def test_critic_scale_option() -> None:
    crit = ImageTextLocalCritic(4, 5, embed_dim=16, scale=False)
    assert crit(torch.randn(2, 4, 3, 3), torch.randn(2, 5, 7)).shape == (2, 2, 9, 7)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["image_only", "cmim"])
def test_short_training_beats_chance(tmp_path: Path, method: str) -> None:
    """A few hundred steps on synthetic X-rays: AUC on the strongly drawn findings ≫ 0.5."""
    from sklearn.metrics import roc_auc_score
    from torch.utils.data import DataLoader

    from lococo.data.cxr.dataset import CXRDataset, collate, prepare_openi
    from lococo.data.cxr.glove import read_glove
    from lococo.data.cxr.synth import synth_cxr

    synth_cxr(tmp_path, seed=0, reports=240, image_size=32, progress=False)
    prep = prepare_openi(tmp_path, view_list=tmp_path / "views.csv", seed=0)
    torch.manual_seed(0)
    train = CXRDataset(prep.splits["train"], prep.vocab, 32)
    test = CXRDataset(prep.splits["val"] + prep.splits["test"], prep.vocab, 32)
    k = len(prep.label_names)
    image = ImageEncoder(10, "layer3", 32)
    if method == "cmim":
        emb = prep.vocab.embedding_matrix(read_glove(tmp_path / "glove.txt"))
        text = TextCNN(emb, channels=32, blocks=1, global_dim=32)
        model: ImageOnlyClassifier = CMIMClassifier(image, text, k, joint_dim=32)
    else:
        model = ImageOnlyClassifier(image, k)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    loader = DataLoader(
        train,
        batch_size=32,
        shuffle=True,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(0),
    )
    for _ in range(8):
        for batch in loader:
            out = model(batch["image"], batch["tokens"], batch["lengths"])
            loss = model.losses(out, batch["labels"], ClsLossWeights(0.5, 0.5, 1.0))["total"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        scores = torch.sigmoid(model.predict(test.images)).numpy()
    y = test.labels.numpy()
    strong = [prep.label_names.index(n) for n in ("Cardiomegaly", "Effusion", "Mass")]
    aucs = [roc_auc_score(y[:, c], scores[:, c]) for c in strong]
    assert min(aucs) > 0.7, aucs
