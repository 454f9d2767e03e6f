"""Cross-modal MI losses (thesis eq. 8.3.1–8.3.3) against direct per-pair evaluations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lococo.cmim.losses import (
    all_pairs,
    cross_modal_loss,
    cross_modal_mi,
    negatives_excluding_groups,
    pair_critics,
    pair_key,
    pair_mi,
)
from lococo.nn.critics import ConcatConvCritic


def direct_critic(critic: ConcatConvCritic, u: torch.Tensor, v: torch.Tensor) -> float:
    """``T([u, v])`` by running the critic's layers on one concatenated vector."""
    x = torch.cat([u, v])[None, :, None]  # 1×(Ca+Cb)×1
    return float(critic.net(x).reshape(()))


def direct_jsd(a, b, critic, groups=None) -> float:
    """Eq. 8.3.1 by loops: E_joint[-sp(-T)] - E_marginals[sp(T)] over cases and positions."""
    n = a.shape[0]
    fa, fb = a.flatten(2), b.flatten(2)
    pos, neg = [], []
    for i in range(n):
        for j in range(n):
            for p in range(fa.shape[-1]):
                t = direct_critic(critic, fa[i, :, p], fb[j, :, p])
                if i == j:
                    pos.append(-F.softplus(torch.tensor(-t)).item())
                elif groups is None or groups[i] != groups[j]:
                    neg.append(F.softplus(torch.tensor(t)).item())
    return sum(pos) / len(pos) - sum(neg) / len(neg)


def test_pairs():
    assert all_pairs(3) == [(0, 1), (0, 2), (1, 2)]
    assert len(all_pairs(4, ordered=True, include_self=True)) == 16
    assert all_pairs(2, include_self=True) == [(0, 0), (0, 1), (1, 1)]


@pytest.mark.parametrize("with_groups", [False, True])
def test_cross_modal_mi_equals_direct_eq_8_3_2(with_groups):
    torch.manual_seed(0)
    modalities = [torch.randn(4, 3, 2, 2) for _ in range(3)]
    critics = pair_critics([3, 3, 3], all_pairs(3), hidden=5)
    groups = torch.tensor([0, 0, 1, 2]) if with_groups else None
    value = cross_modal_mi(modalities, critics, estimator="jsd", groups=groups)
    expected = [
        direct_jsd(modalities[n], modalities[m], critics[pair_key((n, m))], groups)
        for n, m in all_pairs(3)
    ]
    assert value.item() == pytest.approx(sum(expected) / len(expected), abs=1e-5)
    loss = cross_modal_loss(modalities, critics, estimator="jsd", groups=groups)
    assert loss.item() == pytest.approx(-value.item(), abs=1e-6)


def test_same_case_slices_are_not_negatives():
    mask = negatives_excluding_groups(torch.tensor([3, 3, 5]))
    assert mask.tolist() == [[False, False, True], [False, False, True], [True, True, False]]


def test_a_batch_from_one_case_contributes_zero_and_keeps_the_graph():
    torch.manual_seed(2)
    critic = ConcatConvCritic(2, 2, hidden=3)
    a, b = torch.randn(4, 2, 2, 2), torch.randn(4, 2, 2, 2)
    value = pair_mi(a, b, critic, "jsd", groups=torch.tensor([7, 7, 7, 7]))
    assert value.item() == 0.0
    value.backward()  # no negatives, nothing to contrast, but the step still runs
    assert all(p.grad is not None for p in critic.parameters())


def test_local_global_partner_uses_one_critic_per_modality():
    torch.manual_seed(1)
    maps = [torch.randn(3, 2, 2, 2) for _ in range(2)]
    global_ = torch.randn(3, 4)
    critics = {str(n): ConcatConvCritic(2, 4, hidden=3) for n in range(2)}
    value = cross_modal_mi(maps, critics, partner=global_)
    direct = [pair_mi(maps[n], global_, critics[str(n)]) for n in range(2)]
    assert value.item() == pytest.approx(sum(d.item() for d in direct) / 2, abs=1e-6)


def _pairs(shared: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps ``a`` and ``b`` of 12 cases: ``b`` a noisy linear function of ``a`` or independent."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(4, 4, generator=torch.Generator().manual_seed(99))
    a = torch.randn(12, 4, 3, 3, generator=g)
    noise = torch.randn(12, 4, 3, 3, generator=g)
    b = torch.einsum("dc,bchw->bdhw", mixing, a) + 0.1 * noise if shared else noise
    return a, b


def _fitted_estimate(shared: bool, steps: int = 60) -> float:
    """Train a concat-and-convolve critic to maximise Î(A, B); its estimate on fresh cases."""
    torch.manual_seed(0)
    critic = ConcatConvCritic(4, 4, hidden=16)
    opt = torch.optim.Adam(critic.parameters(), lr=1e-2)
    for step in range(steps):
        a, b = _pairs(shared, seed=step)
        loss = -pair_mi(a, b, critic)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return pair_mi(*_pairs(shared, seed=10_000), critic).item()


def test_mi_estimate_rises_when_modalities_share_information():
    with_shared = _fitted_estimate(shared=True)
    without = _fitted_estimate(shared=False)
    # the JSD objective lies in [-2 log 2, 0]; independent maps stay near its floor
    assert without < -2 * math.log(2) + 0.3
    assert with_shared > without + 0.5
