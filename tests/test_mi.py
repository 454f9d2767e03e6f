"""Tests for the MI estimators (lococo.mi) and the critic networks (lococo.nn.critics)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from lococo import mi
from lococo.nn.critics import (
    ConcatConvCritic,
    ConcatCritic,
    LocalGlobalCritic,
    SeparableCritic,
)

# ---------------------------------------------------------------- reference implementations


def _reference(s: np.ndarray, est: str, pos: np.ndarray | None = None, neg=None) -> float:
    """Plain-Python loops over an ``N×N×P`` score array (independent of lococo.mi)."""
    n, _, p = s.shape
    pos = np.eye(n, dtype=bool) if pos is None else pos
    neg = ~pos if neg is None else neg
    positives = [s[i, j, q] for i in range(n) for j in range(n) if pos[i, j] for q in range(p)]
    negatives = [s[i, j, q] for i in range(n) for j in range(n) if neg[i, j] for q in range(p)]
    if est == "dv":
        return sum(positives) / len(positives) - math.log(
            sum(math.exp(v) for v in negatives) / len(negatives)
        )
    if est == "nwj":
        return sum(positives) / len(positives) - sum(math.exp(v - 1) for v in negatives) / len(
            negatives
        )
    if est == "jsd":
        return -sum(math.log1p(math.exp(-v)) for v in positives) / len(positives) - sum(
            math.log1p(math.exp(v)) for v in negatives
        ) / len(negatives)
    terms = []
    for i in range(n):
        row_negs = [s[i, k, q] for k in range(n) if neg[i, k] for q in range(p)]
        for j in range(n):
            if pos[i, j]:
                for q in range(p):
                    v = s[i, j, q]
                    denom = math.exp(v) + sum(math.exp(u) for u in row_negs)
                    terms.append(v - math.log(denom) + math.log(1 + len(row_negs)))
    return sum(terms) / len(terms)


def _est(scores: np.ndarray, est: str, **kw: torch.Tensor) -> float:
    return mi.estimate(torch.as_tensor(scores, dtype=torch.float64), est, **kw).item()


# ---------------------------------------------------------------- estimator values


def test_hand_computed_2x2() -> None:
    s = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert _est(s, "dv") == pytest.approx(1.0)
    assert _est(s, "nwj") == pytest.approx(1.0 - math.exp(-1.0))
    assert _est(s, "infonce") == pytest.approx(math.log(2) + 1.0 - math.log(math.e + 1.0))
    assert _est(s, "jsd") == pytest.approx(-math.log(1 + math.exp(-1.0)) - math.log(2.0))


@pytest.mark.parametrize("est", mi.ESTIMATORS)
def test_matrix_matches_loops(est: str) -> None:
    s = np.random.default_rng(0).normal(scale=2.0, size=(5, 5))
    assert _est(s, est) == pytest.approx(_reference(s[..., None], est), rel=1e-10)


def test_infonce_matches_vector_formula() -> None:
    s = np.random.default_rng(1).normal(size=(6, 6))
    lse = np.log(np.exp(s).sum(axis=1))
    expected = math.log(6) + float(np.mean(np.diag(s) - lse))
    assert _est(s, "infonce") == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("est", mi.ESTIMATORS)
def test_local_global_matches_loops(est: str) -> None:
    s = np.random.default_rng(2).normal(size=(4, 4, 3, 2))
    assert _est(s, est) == pytest.approx(_reference(s.reshape(4, 4, 6), est), rel=1e-10)


@pytest.mark.parametrize("est", mi.ESTIMATORS)
def test_class_matching_masks_match_loops(est: str) -> None:
    labels = np.array([0, 0, 1, 2, 1])
    pos = labels[:, None] == labels[None, :]
    s = np.random.default_rng(3).normal(size=(5, 5, 3))
    got = _est(s, est, positive_mask=torch.as_tensor(pos))
    assert got == pytest.approx(_reference(s, est, pos), rel=1e-10)
    neg = ~pos
    neg[0, 3] = neg[3, 0] = False  # an excluded pair, in neither mask
    got = _est(s, est, positive_mask=torch.as_tensor(pos), negative_mask=torch.as_tensor(neg))
    assert got == pytest.approx(_reference(s, est, pos, neg), rel=1e-10)


@pytest.mark.parametrize("est", mi.ESTIMATORS)
def test_eye_mask_equals_default(est: str) -> None:
    s = torch.randn(6, 6, 4, generator=torch.Generator().manual_seed(4))
    default = mi.estimate(s, est)
    assert mi.estimate(s, est, positive_mask=torch.eye(6, dtype=torch.bool)) == default
    assert mi.loss(s, est) == -default


def test_infonce_ceiling() -> None:
    n, p = 8, 5
    s = torch.full((n, n, p), -50.0)
    s[torch.arange(n), torch.arange(n)] = 50.0  # perfectly separated positives
    assert mi.estimate(s, "infonce").item() == pytest.approx(math.log(1 + (n - 1) * p), abs=1e-6)
    assert mi.estimate(s[..., 0], "infonce").item() == pytest.approx(math.log(n), abs=1e-6)


# ---------------------------------------------------------------- stability and errors


@pytest.mark.parametrize("est", ["dv", "infonce", "jsd"])
def test_huge_scores_are_finite_with_finite_grads(est: str) -> None:
    s = (torch.randn(8, 8, 3, generator=torch.Generator().manual_seed(5)) * 1e4).requires_grad_()
    value = mi.estimate(s, est)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0


@pytest.mark.parametrize("est", mi.ESTIMATORS)
def test_separated_huge_scores(est: str) -> None:
    s = torch.full((4, 4), -1e4)
    s.fill_diagonal_(1e4)
    s.requires_grad_()
    value = mi.estimate(s, est)
    value.backward()
    expected = {"dv": 2e4, "nwj": 1e4, "infonce": math.log(4), "jsd": 0.0}[est]
    assert value.item() == pytest.approx(expected, abs=1e-6)
    assert torch.isfinite(s.grad).all()


def test_infonce_row_without_negatives_has_finite_grads() -> None:
    s = torch.randn(4, 4, 2, generator=torch.Generator().manual_seed(6)).requires_grad_()
    neg = ~torch.eye(4, dtype=torch.bool)
    neg[0] = False  # row 0 has no negative: its positive contributes log 1 + 0
    value = mi.estimate(s, "infonce", negative_mask=neg)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(s.grad).all()
    assert torch.all(s.grad[0] == 0)
    expected = _reference(
        s.detach().double().numpy(), "infonce", np.eye(4, dtype=bool), neg.numpy()
    )
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_unknown_estimator_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=re.escape(", ".join(mi.ESTIMATORS))):
        mi.estimate(torch.zeros(3, 3), "mine")


@pytest.mark.parametrize(
    ("scores", "kw"),
    [
        (torch.zeros(3, 4), {}),
        (torch.zeros(3), {}),
        (torch.zeros(3, 3), {"positive_mask": torch.eye(3)}),
        (torch.zeros(3, 3), {"positive_mask": torch.zeros(3, 3, dtype=torch.bool)}),
        (torch.zeros(3, 3), {"negative_mask": torch.ones(3, 3, dtype=torch.bool)}),
        (torch.zeros(3, 3), {"positive_mask": torch.ones(3, 3, dtype=torch.bool)}),
    ],
)
def test_bad_inputs_raise(scores: torch.Tensor, kw: dict[str, torch.Tensor]) -> None:
    with pytest.raises(ValueError):
        mi.estimate(scores, "dv", **kw)


# ---------------------------------------------------------------- critics


def test_concat_critic_matches_pairwise_mlp() -> None:
    torch.manual_seed(0)
    critic = ConcatCritic(3, 5, hidden=16, layers=2)
    x, y = torch.randn(4, 3), torch.randn(6, 5)
    scores = critic(x, y)
    assert scores.shape == (4, 6)
    for i in range(4):
        for j in range(6):
            expected = critic.net(torch.cat([x[i], y[j]])).squeeze()
            torch.testing.assert_close(scores[i, j], expected)


def _mlp(layers: list[torch.nn.Module], v: torch.Tensor) -> torch.Tensor:
    """Apply Linear or 1×1 Conv1d layers (and ReLUs) to one feature vector by hand."""
    for layer in layers:
        if isinstance(layer, torch.nn.ReLU):
            v = v.clamp_min(0)
        else:
            v = layer.weight.reshape(layer.weight.shape[0], -1) @ v + layer.bias
    return v


@pytest.mark.parametrize("kind", ["map-map", "map-vector", "vector-map"])
def test_concat_conv_critic_matches_pairwise_loop(kind: str) -> None:
    torch.manual_seed(1)
    critic = ConcatConvCritic(3, 2, hidden=8, layers=2)
    a = torch.randn(3, 3, 2, 4) if kind != "vector-map" else torch.randn(3, 3)
    b = torch.randn(2, 2, 2, 4) if kind != "map-vector" else torch.randn(2, 2)
    scores = critic(a, b)
    assert scores.shape == (3, 2, 2, 4)
    for i in range(3):
        for j in range(2):
            for h in range(2):
                for w in range(4):
                    ai = a[i, :, h, w] if a.dim() == 4 else a[i]
                    bj = b[j, :, h, w] if b.dim() == 4 else b[j]
                    expected = _mlp(list(critic.net), torch.cat([ai, bj]))
                    torch.testing.assert_close(scores[i, j, h, w], expected.squeeze())


def test_concat_conv_critic_rejects_mismatched_maps() -> None:
    critic = ConcatConvCritic(2, 2, hidden=4)
    with pytest.raises(ValueError):
        critic(torch.randn(2, 2, 3, 3), torch.randn(2, 2, 4, 4))
    with pytest.raises(ValueError):
        critic(torch.randn(2, 2), torch.randn(2, 2))


def _residual(block: torch.nn.Module, v: torch.Tensor) -> torch.Tensor:
    return _mlp(list(block.block), v) + _mlp([block.shortcut], v)


@pytest.mark.parametrize("scale", [False, True])
def test_local_global_critic_is_dot_of_encodings(scale: bool) -> None:
    torch.manual_seed(2)
    critic = LocalGlobalCritic(local_channels=3, global_dim=5, embed_dim=4, hidden=6, scale=scale)
    local, glob = torch.randn(3, 3, 2, 2), torch.randn(3, 5)
    scores = critic(local, glob)
    assert scores.shape == (3, 3, 2, 2)
    factor = 0.5 if scale else 1.0  # 1/sqrt(embed_dim)
    for i in range(3):
        g = _residual(critic.global_net, glob[i])
        for j in range(3):
            for h in range(2):
                for w in range(2):
                    f = _residual(critic.local_net, local[j, :, h, w])
                    torch.testing.assert_close(scores[i, j, h, w], factor * (g @ f))


def test_local_global_critic_on_1d_maps() -> None:
    critic = LocalGlobalCritic(local_channels=3, global_dim=5, embed_dim=4)
    assert critic(torch.randn(2, 3, 7), torch.randn(4, 5)).shape == (4, 2, 7)


def test_separable_critic_is_dot_of_encodings() -> None:
    torch.manual_seed(3)
    critic = SeparableCritic(3, 2, embed_dim=4, hidden=5)
    x, y = torch.randn(4, 3), torch.randn(5, 2)
    scores = critic(x, y)
    assert scores.shape == (4, 5)
    for i in range(4):
        for j in range(5):
            expected = _residual(critic.f, x[i]) @ _residual(critic.g, y[j])
            torch.testing.assert_close(scores[i, j], expected)


@pytest.mark.parametrize("est", mi.ESTIMATORS)
def test_critic_scores_give_parameter_gradients(est: str) -> None:
    torch.manual_seed(4)
    critic = ConcatConvCritic(3, 4, hidden=8)
    mi.loss(critic(torch.randn(4, 3, 3, 3), torch.randn(4, 4)), est).backward()
    for p in critic.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


# ---------------------------------------------------------------- known MI (Gaussians)


def _gaussian_pair(n: int, d: int, rho: float, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    x = torch.randn(n, d, generator=gen)
    noise = torch.randn(n, d, generator=gen)
    return x, rho * x + math.sqrt(1 - rho**2) * noise


def _train_and_evaluate(est: str, rho: float, d: int = 2, n: int = 128) -> float:
    """Train a concat critic with ``est`` and average it over 30 fresh batches.

    Runs single-threaded: these small ops are slower with threads on a busy 2-core machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit(est, rho, d, n)
    finally:
        torch.set_num_threads(threads)


def _fit(est: str, rho: float, d: int, n: int) -> float:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    critic = ConcatCritic(d, d, hidden=32)
    opt = torch.optim.Adam(critic.parameters(), lr=5e-3)
    for _ in range(300):
        opt.zero_grad()
        mi.loss(critic(*_gaussian_pair(n, d, rho, gen)), est).backward()
        opt.step()
    with torch.no_grad():
        values = [mi.estimate(critic(*_gaussian_pair(n, d, rho, gen)), est) for _ in range(30)]
    return torch.stack(values).mean().item()


_FAST_CASES = [("dv", 0.5), ("nwj", 1.0), ("infonce", 2.0)]  # every estimator, every level
_SLOW_CASES = [
    pytest.param(est, true_mi, marks=pytest.mark.slow)
    for est in ("dv", "nwj", "infonce")
    for true_mi in (0.5, 1.0, 2.0)
    if (est, true_mi) not in _FAST_CASES
]


@pytest.mark.parametrize(("est", "true_mi"), _FAST_CASES + _SLOW_CASES)
def test_recovers_gaussian_mi(est: str, true_mi: float) -> None:
    d = 2
    rho = math.sqrt(1 - math.exp(-2 * true_mi / d))  # true MI = -d/2 log(1 - rho^2)
    assert true_mi < math.log(128)  # InfoNCE ceiling is far above the target
    assert _train_and_evaluate(est, rho, d) == pytest.approx(true_mi, rel=0.1)


def test_jsd_ranks_correlated_above_independent() -> None:
    correlated = _train_and_evaluate("jsd", rho=math.sqrt(1 - math.exp(-1.0)))
    independent = _train_and_evaluate("jsd", rho=0.0)
    assert independent < -2 * math.log(2) + 0.02  # JSD = 0: no critic beats -2 log 2 in expectation
    assert correlated > independent + 0.1
