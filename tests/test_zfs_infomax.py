"""The mutual-information family (DIM, CMDIM, AMDIM): pure losses, modules, end to end."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lococo import mi
from lococo.cli.main import main
from lococo.config.loading import to_dict
from lococo.data.zsl.synth import synth_zsl
from lococo.nn.encoders import EncoderFeatures
from lococo.zfs import infomax
from lococo.zfs.config import ZFSConfig
from lococo.zfs.methods import method_class

ESTIMATORS = ("jsd", "infonce", "dv")


def _scores(n: int, positions: int = 4, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, n, positions, generator=g) * 2.0


# --- CMDIM pairing ---------------------------------------------------------------------------


def test_draw_matching_respects_p_and_generator():
    match, u = infomax.draw_matching(20000, 0.3, torch.Generator().manual_seed(1))
    assert match.dtype == torch.bool and u.shape == (20000,)
    assert abs(match.float().mean().item() - 0.3) < 0.015
    assert u.min() >= 0.0 and u.max() < 1.0
    again = infomax.draw_matching(20000, 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(match, again[0]) and torch.equal(u, again[1])
    assert not infomax.draw_matching(100, 0.0)[0].any()
    assert infomax.draw_matching(100, 1.0)[0].all()
    with pytest.raises(ValueError, match="p must lie"):
        infomax.draw_matching(4, 1.5)


def test_choose_partners_picks_same_class_others_uniformly():
    labels = torch.tensor([0, 1, 0, 0, 2])
    on = torch.ones(5, dtype=torch.bool)
    # image 0 has partners 2 and 3 (batch order): u < 1/2 picks 2, u >= 1/2 picks 3
    assert infomax.choose_partners(labels, on, torch.full((5,), 0.2))[0] == 2
    assert infomax.choose_partners(labels, on, torch.full((5,), 0.7))[0] == 3
    # classes without partners (1, 2) and unmatched images fall back to themselves
    partners = infomax.choose_partners(labels, on, torch.full((5,), 0.99))
    assert partners.tolist() == [3, 1, 3, 2, 4]
    off = torch.tensor([False, True, True, False, True])
    assert infomax.choose_partners(labels, off, torch.zeros(5)).tolist() == [0, 1, 0, 3, 4]
    # with random u every candidate is chosen about equally often
    many = torch.tensor([5] * 4)
    picks = torch.stack(
        [
            infomax.choose_partners(many, torch.ones(4, dtype=torch.bool), torch.rand(4))
            for _ in range(3000)
        ]
    )
    counts = torch.bincount(picks[:, 0], minlength=4)
    assert counts[0] == 0 and (counts[1:] - 1000).abs().max() < 120


def test_class_matching_masks_structure():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (30,), generator=g)
    match, u = infomax.draw_matching(30, 0.5, g)
    partners = infomax.choose_partners(labels, match, u)
    pos, neg = infomax.class_matching_masks(labels, partners)
    assert (pos.sum(1) == 1).all() and not (pos & neg).any()
    assert torch.equal(labels[partners], labels)  # positives are always same-class
    assert torch.equal(neg, labels[:, None] != labels[None, :])
    ignored = ~pos & ~neg
    assert torch.equal(ignored, (labels[:, None] == labels[None, :]) & ~pos)
    has_partner = (labels[:, None] == labels[None, :]).sum(1) > 1
    assert torch.equal(partners != torch.arange(30), match & has_partner)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_cmdim_with_p0_is_dim_with_class_negatives(estimator):
    scores = _scores(8)
    labels = torch.tensor([0, 0, 1, 2, 2, 2, 3, 4])
    match, u = infomax.draw_matching(8, 0.0)
    partners = infomax.choose_partners(labels, match, u)
    assert torch.equal(partners, torch.arange(8))
    eye = torch.eye(8, dtype=torch.bool)
    expected = mi.loss(scores, estimator, eye, labels[:, None] != labels[None, :])
    torch.testing.assert_close(infomax.cmdim_loss(scores, labels, partners, estimator), expected)
    # with all-distinct labels CMDIM is exactly DIM, whatever p
    distinct = torch.arange(8)
    match, u = infomax.draw_matching(8, 1.0)
    cm = infomax.cmdim_loss(
        scores, distinct, infomax.choose_partners(distinct, match, u), estimator
    )
    assert torch.equal(cm, infomax.dim_loss(scores, estimator))


def test_cmdim_jsd_known_value_with_p1():
    scores = _scores(4, positions=2)
    labels = torch.tensor([0, 0, 1, 1])
    partners = infomax.choose_partners(labels, torch.ones(4, dtype=torch.bool), torch.zeros(4))
    assert partners.tolist() == [1, 0, 3, 2]
    s = scores.flatten(2)
    pos = torch.cat([s[0, 1], s[1, 0], s[2, 3], s[3, 2]])
    neg = torch.cat([s[i, j] for i in range(4) for j in range(4) if labels[i] != labels[j]])
    expected = F.softplus(-pos).mean() + F.softplus(neg).mean()
    torch.testing.assert_close(infomax.cmdim_loss(scores, labels, partners, "jsd"), expected)


def test_cmdim_single_class_batch_has_zero_loss_and_gradient():
    scores = _scores(4).requires_grad_()
    labels = torch.zeros(4, dtype=torch.long)
    loss = infomax.cmdim_loss(scores, labels, torch.tensor([1, 0, 3, 2]), "dv")
    loss.backward()
    assert loss.item() == 0.0 and scores.grad is not None and not scores.grad.any()


def test_partner_rate():
    assert infomax.partner_rate(torch.tensor([0, 0, 1, 2])) == 0.5
    assert infomax.partner_rate(torch.arange(6)) == 0.0
    assert infomax.partner_rate(torch.tensor([3, 3, 3])) == 1.0


# --- AMDIM pieces ----------------------------------------------------------------------------


def test_multi_nce_matches_cross_entropy_and_infonce():
    s = _scores(6, positions=1).reshape(6, 6)
    torch.testing.assert_close(infomax.multi_nce(s), F.cross_entropy(s, torch.arange(6)))
    s = _scores(5, positions=6)
    offset = math.log(1 + 4 * 6)
    torch.testing.assert_close(infomax.multi_nce(s), offset - mi.estimate(s, "infonce"))
    # explicit: every positive against all negatives of its row, at every position
    flat = s.flatten(2)
    losses = []
    for i in range(5):
        negatives = torch.cat([flat[i, j] for j in range(5) if j != i])
        for p in range(6):
            logits = torch.cat([flat[i, i, p : p + 1], negatives])
            losses.append(-torch.log_softmax(logits, 0)[0])
    torch.testing.assert_close(infomax.multi_nce(s), torch.stack(losses).mean())


def test_amdim_scores_clip_and_regulariser():
    g = torch.Generator().manual_seed(0)
    src, trg = torch.randn(3, 16, generator=g), torch.randn(3, 16, 5, generator=g)
    raw = infomax.amdim_scores(src, trg)
    assert raw.shape == (3, 3, 5)
    torch.testing.assert_close(raw[1, 2, 4], (src[1] * trg[2, :, 4]).sum() / 4.0)
    big = torch.tensor([-1e4, -5.0, 0.0, 0.01, 1e4])
    clipped = infomax.tanh_clip(big, 20.0)
    assert clipped.abs().max() <= 20.0 and clipped[-1] > 19.99
    torch.testing.assert_close(clipped[3], torch.tensor(0.01), atol=1e-7, rtol=1e-5)
    assert torch.equal(infomax.tanh_clip(big, 0.0), big)
    reg = infomax.score_regulariser(torch.tensor([1.0, -2.0, 3.0]), 0.05)
    torch.testing.assert_close(reg, torch.tensor(0.05 * 14 / 3))


def test_color_jitter():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, 10, 10, generator=g) * 2 - 1
    out = infomax.color_jitter(images, torch.Generator().manual_seed(5))
    assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1
    again = infomax.color_jitter(images, torch.Generator().manual_seed(5))
    assert torch.equal(out, again) and not torch.equal(out, images)
    same = infomax.color_jitter(images, strength=0.0, p_grey=0.0)
    torch.testing.assert_close(same, images)
    grey = infomax.color_jitter(images, strength=0.0, p_grey=1.0)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])


def test_grad_reverse_and_prior_matching():
    x = torch.randn(4, 3, requires_grad=True)
    (infomax.grad_reverse(x, 2.0) * torch.arange(3.0)).sum().backward()
    assert torch.equal(x.grad, -2.0 * torch.arange(3.0).expand(4, 3))
    disc = torch.nn.Linear(3, 1)
    codes = torch.randn(16, 3, requires_grad=True)
    prior = torch.rand(16, 3)
    plain = torch.autograd.grad(infomax.prior_matching_loss(disc, codes, prior), codes)[0]
    loss = infomax.prior_matching_loss(disc, infomax.grad_reverse(codes), prior)
    reversed_ = torch.autograd.grad(loss, codes)[0]
    torch.testing.assert_close(reversed_, -plain)
    # a discriminator that is exactly ambiguous pays 2·log 2
    torch.nn.init.zeros_(disc.weight), torch.nn.init.zeros_(disc.bias)
    loss = infomax.prior_matching_loss(disc, codes, prior)
    torch.testing.assert_close(loss, torch.tensor(2 * math.log(2)))


# --- Lightning modules -----------------------------------------------------------------------


def _module(name: str, encoder: str = "basic", size: int = 32, **method):
    torch.manual_seed(0)
    cfg = ZFSConfig()
    cfg.method.name, cfg.encoder.name, cfg.data.image_size = name, encoder, size
    cfg.encoder.width, cfg.method.critic_dim = 0.25, 32
    for key, value in method.items():
        setattr(cfg.method, key, value)
    return method_class(name)(to_dict(cfg), torch.rand(6, 5))


def _images(n: int, side: int, views: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    shape = (n, views, 3, side, side) if views > 1 else (n, 3, side, side)
    return torch.rand(*shape, generator=g) * 2 - 1


def _freeze_bn(module, images: torch.Tensor) -> None:
    """Eval mode with BN statistics of ``images`` (not the untrained 0/1), so that features
    and scores are far from constant and every image's loss does not depend on its batch."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = 1.0
    module.train()
    with torch.no_grad():
        module.encoder(images.flatten(0, 1) if images.dim() == 5 else images)
    module.eval()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_dim_module_loss_and_gradient_flow(estimator):
    module = _module("dim", estimator=estimator, prior_weight=0.5)
    x, labels = _images(6, module.encoder.input_size), torch.arange(6) % 3
    features = module.encoder(x)
    terms = module.method_losses(features, (x, labels, torch.arange(6)))
    expected = mi.loss(module.critic(features.local, features.global_), estimator)
    torch.testing.assert_close(terms["mi"], expected)
    assert set(terms) == {"mi", "prior"}
    sum(terms.values()).backward()
    for part in (module.encoder, module.critic, module.discriminator):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_cmdim_in_batch_pairing_of_validation():
    """Single-image batches (validation): p=0 is DIM with class negatives; with all-distinct
    labels no image has a partner and CMDIM is DIM whatever p."""
    dim, cmdim = _module("dim"), _module("cmdim", p=0.0)
    x = _images(6, dim.encoder.input_size)
    labels = torch.tensor([0, 0, 1, 1, 2, 3])
    _freeze_bn(dim, x)
    cmdim.load_state_dict(dim.state_dict())
    cmdim.eval()
    features = dim.encoder(x)
    scores = dim.critic(features.local, features.global_)
    negatives = labels[:, None] != labels[None, :]
    expected = mi.loss(scores, "jsd", torch.eye(6, dtype=torch.bool), negatives)
    got = cmdim.method_losses(cmdim.encoder(x), (x, labels, torch.arange(6)))["mi"]
    torch.testing.assert_close(got, expected)
    distinct = torch.arange(6)
    dim_loss = dim.method_losses(features, (x, distinct, distinct))["mi"]
    matched = _module("cmdim", p=1.0)
    matched.load_state_dict(dim.state_dict())
    matched.eval()
    assert dim_loss.item() != pytest.approx(2 * math.log(2), abs=1e-2)  # not a constant
    assert torch.equal(matched.method_losses(features, (x, distinct, distinct))["mi"], dim_loss)


def _partner_modules(p: float, n: int = 6):
    """DIM and CMDIM (matching probability ``p``) with the same weights in eval mode, and a
    batch of ``n`` (image, partner) pairs ``n×2×C×H×W``."""
    dim, cmdim = _module("dim"), _module("cmdim", p=p)
    assert cmdim.views == 2 and cmdim.pairing == "class_partner" and dim.pairing == "views"
    pairs = _images(n, dim.encoder.input_size, views=2)
    _freeze_bn(dim, pairs)
    cmdim.load_state_dict(dim.state_dict())
    cmdim.eval()
    return dim, cmdim, pairs


def _train_terms(module, batch) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The loss terms and logged values of one ``training_step``."""
    seen: dict[str, torch.Tensor] = {}
    logged: dict[str, float] = {}
    module.finish_step = lambda terms, stage="train": seen.update(terms) or sum(terms.values())
    module.log = lambda name, value, **kw: logged.__setitem__(name, float(value))
    module.training_step(batch, 0)
    return seen, logged


def _class_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    eye = torch.eye(labels.shape[0], dtype=torch.bool)
    return eye, labels[:, None] != labels[None, :]


def test_cmdim_training_with_p0_is_dim_with_class_negatives():
    dim, cmdim, pairs = _partner_modules(0.0)
    labels = torch.tensor([0, 0, 1, 1, 2, 3])
    own = dim.encoder(pairs[:, 0])
    scores = dim.critic(own.local, own.global_)
    terms, logged = _train_terms(cmdim, (pairs, labels, torch.arange(6)))
    torch.testing.assert_close(terms["mi"], mi.loss(scores, "jsd", *_class_masks(labels)))
    assert logged["train/match_rate"] == 0.0
    # all-distinct labels: every pair but the diagonal is negative, i.e. DIM
    distinct = torch.arange(6)
    dim_loss = dim.method_losses(own, (pairs[:, 0], distinct, distinct))["mi"]
    assert dim_loss.item() != pytest.approx(2 * math.log(2), abs=1e-2)  # not a constant
    terms, _ = _train_terms(cmdim, (pairs, distinct, distinct))
    torch.testing.assert_close(terms["mi"], dim_loss)


def test_cmdim_training_with_p1_takes_the_partners_local_maps():
    dim, cmdim, pairs = _partner_modules(1.0)
    labels = torch.tensor([0, 0, 1, 1, 2, 3])
    own, partner = dim.encoder(pairs[:, 0]), dim.encoder(pairs[:, 1])
    scores = dim.critic(partner.local, own.global_)
    terms, logged = _train_terms(cmdim, (pairs, labels, torch.arange(6)))
    torch.testing.assert_close(terms["mi"], mi.loss(scores, "jsd", *_class_masks(labels)))
    assert logged["train/match_rate"] == 1.0
    unmatched = mi.loss(dim.critic(own.local, own.global_), "jsd", *_class_masks(labels))
    assert abs(terms["mi"].item() - unmatched.item()) > 1e-3  # the partners do matter
    # an image that is its own partner: CMDIM with p = 1 and distinct labels is DIM
    selves = torch.stack([pairs[:, 0], pairs[:, 0]], 1)
    distinct = torch.arange(6)
    terms, _ = _train_terms(cmdim, (selves, distinct, distinct))
    dim_loss = dim.method_losses(own, (pairs[:, 0], distinct, distinct))["mi"]
    torch.testing.assert_close(terms["mi"], dim_loss)


def test_cmdim_training_mixes_own_and_partner_columns():
    """Column ``j`` of the scores (local maps) is the partner's where image ``j`` matched."""
    dim, cmdim, pairs = _partner_modules(0.5, n=8)
    dim.estimator = cmdim.estimator = "infonce"
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 3, 2])
    match = torch.tensor([True, False, True, True, False, False, True, False])
    cmdim.draw_match = lambda n: match
    own, partner = dim.encoder(pairs[:, 0]), dim.encoder(pairs[:, 1])
    s_own = dim.critic(own.local, own.global_)
    s_partner = dim.critic(partner.local, own.global_)
    scores = torch.where(match[None, :, None, None], s_partner, s_own)
    terms, logged = _train_terms(cmdim, (pairs, labels, torch.arange(8)))
    torch.testing.assert_close(terms["mi"], mi.loss(scores, "infonce", *_class_masks(labels)))
    assert logged["train/match_rate"] == 0.5


def test_cmdim_draw_match_follows_p_and_torch_seed():
    module = _module("cmdim", p=0.3)
    torch.manual_seed(4)
    match = module.draw_match(20000)
    assert match.dtype == torch.bool and abs(match.float().mean().item() - 0.3) < 0.015
    torch.manual_seed(4)
    assert torch.equal(module.draw_match(20000), match)


def test_cmdim_training_step_gradient_flow():
    module = _module("cmdim", p=0.5, local_loss="ac", prior_weight=0.5)
    module.log = lambda *args, **kwargs: None  # no trainer
    pairs = _images(6, module.encoder.input_size, views=2)
    loss = module.training_step((pairs, torch.tensor([0, 0, 1, 1, 2, 3]), torch.arange(6)), 0)
    assert torch.isfinite(loss)
    loss.backward()
    for part in (module.encoder, module.critic, module.local_head, module.discriminator):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


@pytest.mark.parametrize(("encoder", "size", "pairs"), [("basic", 32, 2), ("alexnet", 64, 3)])
def test_amdim_terms_and_gradient_flow(encoder, size, pairs):
    module = _module("amdim", encoder=encoder, size=size, local_loss="ac")
    assert len(module.pairs) == pairs
    assert module.pairs[0] == ("global", "local")
    x = _images(4, module.encoder.input_size, views=2)
    targets = torch.tensor([0, 1, 2, 3])
    seen = {}
    module.finish_step = lambda terms, stage="train": seen.update(terms) or sum(terms.values())
    loss = module.training_step((x, targets, torch.arange(4)), 0)
    assert {k for k in seen if k.startswith("nce_")} == {f"nce_{a}_{b}" for a, b in module.pairs}
    assert "score_reg" in seen and "local_ac" in seen and torch.isfinite(loss)
    # every NCE term is at least 0 and starts near log(1 + negatives) for small scores
    assert all(seen[k] >= 0 for k in seen if k.startswith("nce_"))
    loss.backward()
    parts = (module.encoder, module.global_embed, module.map_embed, module.local_head)
    for part in parts:
        assert all(p.grad is not None for p in part.parameters())


def test_amdim_loss_invariant_to_batch_order():
    """Permuting the images (both views alike) leaves the global NCE terms unchanged;
    permuting one view only breaks the positive pairs and changes them."""
    module = _module("amdim", size=64)
    x = _images(5, module.encoder.input_size, views=2)
    _freeze_bn(module, x)
    with torch.no_grad():  # larger embeddings: scores far from 0, losses far from log(1 + K)
        for p in [*module.global_embed.parameters(), *module.map_embed.parameters()]:
            p.mul_(4.0)
    perm = torch.tensor([3, 0, 4, 1, 2])

    def terms(images: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = module.encoder.features(images.transpose(0, 1).flatten(0, 1))
        return module.nce_terms(feats, gather=False, generator=torch.Generator().manual_seed(0))

    base, moved = terms(x), terms(x[perm])
    one_view = terms(torch.stack([x[:, 0], x[perm, 1]], 1))
    for key in ("nce_global_local", "nce_global_last"):
        torch.testing.assert_close(base[key], moved[key])
        assert abs(one_view[key].item() - base[key].item()) > 0.05, key


DDP_METHODS = ("dim", "cmdim", "amdim")
DDP_BATCH, DDP_WORLD = 8, 2


def _ddp_loss(module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The method's loss on ``images`` (its own share under DDP), encoder in eval mode."""
    if module.views == 1:
        return module.mi_terms(module.encoder(images), labels)["mi"]
    both = images.transpose(0, 1).flatten(0, 1)
    if module.pairing == "views":
        return sum(module.nce_terms(module.encoder.features(both)).values())
    b, feats = images.shape[0], module.encoder(both)
    own = EncoderFeatures(feats.local[:b], feats.global_[:b])
    return module.partner_terms(own, feats.local[b:], labels, module.draw_match(b))["mi"]


def _ddp_case(method: str, rank: int, world: int):
    """Module, this rank's images/labels, and patches fixing the random draws."""
    module = _module(method, size=64, p=1.0)
    images = _images(DDP_BATCH, module.encoder.input_size, views=module.views)
    _freeze_bn(module, images)
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 3, 2])
    match = torch.tensor([1, 0, 1, 1, 0, 1, 0, 1], dtype=torch.bool)
    share = slice(rank * DDP_BATCH // world, (rank + 1) * DDP_BATCH // world)
    module.draw_match = lambda n: match[share]
    return module, images[share], labels[share]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    import os

    import torch.distributed as dist
    from torch.distributed.nn.functional import all_gather

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    infomax.sample_positions = lambda n, positions, generator=None: torch.zeros(n, dtype=torch.long)
    results = {}
    for method in DDP_METHODS:
        module, images, labels = _ddp_case(method, rank, world)
        module.gather = lambda t: torch.cat(all_gather(t.contiguous()))
        loss = _ddp_loss(module, images, labels)
        loss.backward()
        grads = [p.grad.clone() for p in module.parameters() if p.grad is not None]
        for g in grads:  # what DDP does: average the gradients of all processes
            dist.all_reduce(g)
            g /= world
        results[method] = (loss.detach(), grads)
    if rank == 0:
        torch.save(results, out)
    dist.destroy_process_group()


def test_ddp_gathered_loss_and_gradients_equal_the_full_batch(tmp_path, monkeypatch):
    """Two gloo processes with half a batch each give the full batch's loss and gradients."""
    import socket

    import torch.multiprocessing as tmp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "ddp.pt"
    tmp.spawn(_ddp_worker, args=(DDP_WORLD, port, str(out)), nprocs=DDP_WORLD)
    results = torch.load(out, weights_only=True)
    monkeypatch.setattr(
        infomax,
        "sample_positions",
        lambda n, positions, generator=None: torch.zeros(n, dtype=torch.long),
    )
    for method in DDP_METHODS:
        module, images, labels = _ddp_case(method, 0, 1)
        loss = _ddp_loss(module, images, labels)
        loss.backward()
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        ddp_loss, ddp_grads = results[method]
        torch.testing.assert_close(ddp_loss, loss.detach(), msg=method)
        assert len(grads) == len(ddp_grads) > 0
        for a, b in zip(ddp_grads, grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=method)


def test_bad_p_is_rejected():
    with pytest.raises(ValueError, match=r"method\.p"):
        _module("cmdim", p=-0.1)


# --- end to end through the CLI --------------------------------------------------------------

QUICK = ["--profile", "quick", "--no-progress"]
SMALL = [
    "data.image_size=32",
    "data.batch_size=16",
    "encoder.width=0.25",
    "encoder.global_dim=256",
    "method.critic_dim=64",
]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zsl")
    synth_zsl(root, seed=0, classes=12, unseen=3, images_per_class=8, image_size=32, progress=False)
    return root


def _pretrain(
    data: Path, out: Path, method: str, *overrides: str, options: tuple[str, ...] = ()
) -> dict:
    args = ["zfs", "pretrain", "--data", str(data), "--method", method, "--out", str(out)]
    assert main([*args, *QUICK, *options, *SMALL, *overrides]) == 0
    return json.loads((out / "results.json").read_text())


def _epoch_losses(run: Path) -> list[float]:
    with open(run / "logs" / "csv" / "metrics.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train/loss_epoch")]
    return [float(r["train/loss_epoch"]) for r in rows]


@pytest.mark.parametrize(
    ("method", "options", "overrides"),
    [
        ("dim", (), ["method.estimator=infonce"]),
        ("cmdim", ("--encoder", "alexnet", "--local-loss", "lc"), ["method.base=dim"]),
        ("cmdim", (), ["method.base=twopass"]),
        ("amdim", (), []),
    ],
)
def test_end_to_end_pretrain_and_evaluate(tiny_data, tmp_path, method, options, overrides):
    run = tmp_path / method
    options = ("--evaluate", *options)
    extra = ["trainer.max_epochs=3", "zsl.epochs=5", *overrides]
    results = _pretrain(tiny_data, run, method, *extra, options=options)
    assert results["pretrain"]["method"] == method and results["pretrain"]["epochs"] == 3
    losses = _epoch_losses(run)
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert min(losses[1:]) < losses[0], losses
    metrics = results["pretrain"]["metrics"]
    assert any(k.startswith("val/") for k in metrics), metrics
    if "method.base=dim" in overrides:  # default p = 0.5, drawn per image in the step
        assert 0.2 < metrics["train/match_rate"] < 0.8, metrics
    assert 0.0 <= results["zsl"]["top1"] <= 1.0


@pytest.mark.parametrize("method", ["cmdim", "amdim"])
def test_resume_gives_the_same_weights(tiny_data, tmp_path, method):
    """The random draws (CMDIM partners, AMDIM jitter/positions) replay exactly on resume."""
    fixed = "optim.scheduler=none"
    _pretrain(tiny_data, tmp_path / "full", method, "trainer.max_epochs=2", fixed)
    _pretrain(tiny_data, tmp_path / "part", method, "trainer.max_epochs=1", fixed)
    one_epoch = torch.load(tmp_path / "part" / "encoder.pt", weights_only=True)
    args = ["zfs", "pretrain", "--out", str(tmp_path / "part"), "--resume", "--no-progress"]
    assert main([*args, "trainer.max_epochs=2"]) == 0
    full = torch.load(tmp_path / "full" / "encoder.pt", weights_only=True)
    resumed = torch.load(tmp_path / "part" / "encoder.pt", weights_only=True)
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    assert not all(torch.equal(full[k], one_epoch[k]) for k in full)  # epoch 2 did train


@pytest.fixture(scope="module")
def zsl64(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zsl64")
    synth_zsl(
        root, seed=3, classes=40, unseen=8, images_per_class=16, image_size=64, progress=False
    )
    return root


#: (method, overrides, model seeds, factor): mean unseen top-1 over the seeds must exceed
#: ``factor × chance`` (chance 0.125). Measured on this data and budget (quick profile,
#: batch 32, 10 epochs): DIM ~1.7x chance; CMDIM on the dim base 0.156 / 0.156 / 0.211 (seeds
#: 0-2: mean 0.174 = 1.39x), on the two-pass base 0.258 / 0.195 / 0.234 (seeds 0-2); AMDIM
#: 0.148 / 0.180 / 0.188 (seeds 0-2: mean 0.172 = 1.37x, standard error 0.012). One seed alone
#: spreads too much for AMDIM and CMDIM's dim base (0.148 and 0.156 fall at the 1.25x bar), so
#: they are judged on their mean over three seeds against 1.2x (0.150).
SLOW_CASES = [
    ("dim", (), (0,), 1.25),
    ("cmdim", ("method.base=dim",), (0, 1, 2), 1.2),
    ("cmdim", ("method.base=twopass",), (0,), 1.25),
    ("amdim", (), (0, 1, 2), 1.2),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "overrides", "seeds", "factor"),
    SLOW_CASES,
    ids=["dim", "cmdim-dim", "cmdim-twopass", "amdim"],
)
def test_encoder_beats_chance_on_unseen_classes(zsl64, tmp_path, method, overrides, seeds, factor):
    top1 = []
    for seed in seeds:
        run = tmp_path / f"r{seed}"
        args = ["zfs", "pretrain", "--data", str(zsl64), "--method", method, "--out", str(run)]
        fast = ["--profile", "quick", "--no-progress", "--evaluate", "data.batch_size=32"]
        budget = ["trainer.max_epochs=10", "zsl.epochs=30", f"seed={seed}", *overrides]
        assert main([*args, *fast, *budget]) == 0
        zsl = json.loads((run / "results.json").read_text())["zsl"]
        top1.append(zsl["top1"])
    assert sum(top1) / len(top1) > factor * zsl["chance"], top1


# --- CMDIM on the two-pass base ----------------------------------------------------------------


def test_multi_nce_negative_mask_matches_an_explicit_loop():
    s = _scores(5, positions=3)
    labels = torch.tensor([0, 0, 1, 2, 2])
    negative = labels[:, None] != labels[None, :]
    flat = s.flatten(2)
    losses = []
    for i in range(5):
        negatives = torch.cat([flat[i, j] for j in range(5) if labels[j] != labels[i]])
        for p in range(3):
            logits = torch.cat([flat[i, i, p : p + 1], negatives])
            losses.append(-torch.log_softmax(logits, 0)[0])
    torch.testing.assert_close(infomax.multi_nce(s, negative), torch.stack(losses).mean())
    # the default (every other image) is the all-different-labels mask
    everyone = torch.ones(5, 5, dtype=torch.bool)
    torch.testing.assert_close(infomax.multi_nce(s, everyone), infomax.multi_nce(s))


def test_multi_nce_row_without_negatives_adds_zero_and_finite_gradients():
    s = _scores(4, positions=2).requires_grad_()
    same = torch.zeros(4, 4, dtype=torch.bool)  # a single-class batch
    loss = infomax.multi_nce(s, same)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(s.grad).all() and not s.grad.any()


def test_cmdim_base_picks_the_module():
    from lococo.zfs.methods.cmdim_twopass import CMDIMTwoPassMethod
    from lococo.zfs.methods.dim import CMDIMMethod

    assert method_class("cmdim", "twopass") is CMDIMTwoPassMethod
    assert method_class("cmdim", "dim") is method_class("cmdim") is CMDIMMethod
    assert method_class("fc", "twopass") is method_class("fc")  # other methods ignore it
    with pytest.raises(ValueError, match="unknown method"):
        method_class("cmdim", "threepass")


def _twopass(p: float, **method):
    torch.manual_seed(0)
    cfg = ZFSConfig()
    cfg.method.name, cfg.method.base, cfg.method.p = "cmdim", "twopass", p
    cfg.data.image_size, cfg.encoder.width, cfg.method.critic_dim = 64, 0.25, 32
    for key, value in method.items():
        setattr(cfg.method, key, value)
    return method_class("cmdim", "twopass")(to_dict(cfg), torch.rand(6, 5))


def test_twopass_cmdim_is_amdim_with_class_aware_negatives():
    module = _twopass(0.5)
    assert module.views == 2 and module.pairing == "class_partner"
    assert module.partner_probability == 0.5
    x = _images(5, module.encoder.input_size, views=2)
    _freeze_bn(module, x)
    feats = module.encoder.features(x.transpose(0, 1).flatten(0, 1))

    def terms(labels):
        gen = torch.Generator().manual_seed(0)
        return module.nce_terms(feats, labels, gather=False, generator=gen)

    amdim = module.nce_terms(feats, gather=False, generator=torch.Generator().manual_seed(0))
    distinct, shared = terms(torch.arange(5)), terms(torch.tensor([0, 0, 1, 1, 2]))
    for key in amdim:  # all-different labels: exactly AMDIM
        torch.testing.assert_close(distinct[key], amdim[key])
    nce = [k for k in amdim if k.startswith("nce_")]
    assert all(abs(shared[k].item() - amdim[k].item()) > 1e-4 for k in nce)
    # fewer negatives: each NCE term can only decrease
    assert all(shared[k] <= amdim[k] + 1e-6 for k in nce)


def test_twopass_cmdim_training_step_gradient_flow():
    module = _twopass(1.0, local_loss="lc")
    x = _images(4, module.encoder.input_size, views=2)
    seen = {}
    module.finish_step = lambda terms, stage="train": seen.update(terms) or sum(terms.values())
    loss = module.training_step((x, torch.tensor([0, 0, 1, 2]), torch.arange(4)), 0)
    assert "local_lc" in seen and torch.isfinite(loss)
    loss.backward()
    for part in (module.encoder, module.global_embed, module.map_embed, module.local_head):
        assert all(p.grad is not None for p in part.parameters())


@pytest.mark.parametrize(("base", "p", "expected"), [("dim", 0.5, 1.0), ("twopass", 0.5, 0.5)])
def test_training_data_of_each_cmdim_base(base, p, expected):
    """The dim base always gets a partner (its coin is in the step); two-pass gets one with p."""
    from lococo.zfs.pairing import ClassPartnerDataset
    from lococo.zfs.pretrain import training_dataset

    cfg = ZFSConfig()
    cfg.method.name, cfg.method.base, cfg.method.p = "cmdim", base, p
    cfg.data.image_size, cfg.encoder.width, cfg.method.critic_dim = 32, 0.25, 32
    module = method_class("cmdim", base)(to_dict(cfg), torch.rand(6, 5))
    items = torch.utils.data.TensorDataset(torch.zeros(4, 1), torch.tensor([0, 0, 1, 1]))
    items.targets = [0, 0, 1, 1]  # type: ignore[attr-defined]  # as ZSLImageDataset's
    data = training_dataset(module, items)  # type: ignore[arg-type]
    assert isinstance(data, ClassPartnerDataset) and data.p == expected


def test_study_grid_compares_cmdim_bases():
    from lococo.errors import LococoError
    from lococo.zfs.study import StudySpec, grid

    spec = StudySpec(data="d", methods=["cmdim"], cmdim_p=[0.5], cmdim_bases=["dim", "twopass"])
    cells = grid(spec)
    assert [c.model for c in cells] == ["cmdim_dim_p0.5", "cmdim_twopass_p0.5"]
    assert dict(cells[0].overrides) == {"method.base": "dim", "method.p": 0.5}
    plain = grid(StudySpec(data="d", methods=["cmdim"], cmdim_p=[0.5]))
    assert [c.model for c in plain] == ["cmdim_p0.5"] and dict(plain[0].overrides) == {
        "method.p": 0.5
    }
    with pytest.raises(LococoError, match="unknown CMDIM base"):
        grid(StudySpec(data="d", methods=["cmdim"], cmdim_bases=["x"]))
