"""TRE and TRE ratio: compositional vs random representations, a per-sample reference loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lococo.metrics import compositionality as tre_mod
from lococo.metrics.compositionality import random_assignment, threshold_attributes, tre, tre_ratio


def _primitives(n: int, k: int, seed: int, density: float = 0.3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    p = (torch.rand(n, k, generator=gen) < density).float()
    p[p.sum(dim=1) == 0, 0] = 1.0  # every row has at least one primitive
    return p


def _vectors(k: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(k, d, generator=torch.Generator().manual_seed(seed))


def test_exact_sums_have_tre_near_zero_and_low_ratio() -> None:
    p = _primitives(300, 12, seed=0)
    reps = p @ _vectors(12, 32, seed=1)
    out = tre_ratio(reps, p, seed=0)
    assert out["tre"] < 0.02
    assert out["tre_random"] > 0.1
    assert out["tre_ratio"] < 0.3


def test_exact_sums_with_separate_fit_set() -> None:
    eta = _vectors(10, 24, seed=2)
    p_fit, p_test = _primitives(300, 10, seed=3), _primitives(100, 10, seed=4)
    reps_fit, reps_test = p_fit @ eta, p_test @ eta
    out = tre_ratio(reps_test.numpy(), p_test.numpy(), fit=(reps_fit, p_fit), seed=1)
    assert out["tre"] < 0.02
    assert out["tre_ratio"] < 0.3


def test_random_reps_have_ratio_near_one() -> None:
    p = _primitives(400, 10, seed=5)
    reps = torch.randn(400, 32, generator=torch.Generator().manual_seed(6))
    out = tre_ratio(reps, p, seed=2)
    assert 0.8 < out["tre_ratio"] < 1.2
    assert out["tre"] > 0.3


def _reference_tre(reps, prims, steps: int, lr: float, seed: int) -> float:
    """Straightforward loop: one cosine per sample, summed in Python, same init and optimiser."""
    eta = tre_mod.init_vectors(prims.shape[1], reps.shape[1], seed).requires_grad_(True)
    opt = torch.optim.RMSprop([eta], lr=lr)

    def mean_distance() -> torch.Tensor:
        total = torch.zeros(())
        for i in range(reps.shape[0]):
            composed = torch.zeros(reps.shape[1])
            for j in range(prims.shape[1]):
                if prims[i, j] == 1:
                    composed = composed + eta[j]
            total = total + (1 - F.cosine_similarity(reps[i], composed, dim=0))
        return total / reps.shape[0]

    for _ in range(steps):
        opt.zero_grad()
        mean_distance().backward()
        opt.step()
    with torch.no_grad():
        return float(mean_distance())


def test_matches_per_sample_reference_loop() -> None:
    p = _primitives(30, 5, seed=7)
    reps = torch.randn(30, 8, generator=torch.Generator().manual_seed(8))
    fast = tre(reps, p, steps=40, lr=0.01, seed=3)
    slow = _reference_tre(reps, p, steps=40, lr=0.01, seed=3)
    assert fast == pytest.approx(slow, abs=1e-4)


def test_rows_without_primitives_score_distance_one() -> None:
    p = _primitives(200, 8, seed=9)
    reps = p @ _vectors(8, 16, seed=10)
    p_empty = p.clone()
    p_empty[0] = 0.0
    value = tre(reps, p_empty)
    # the other 199 rows are reconstructed almost exactly, the empty row scores 1
    assert value == pytest.approx(1 / 200, abs=0.01)
    assert value > 1 / 200 - 1e-6


def test_seed_determinism_and_initialisation_sensitivity() -> None:
    p = _primitives(50, 6, seed=11)
    reps = torch.randn(50, 10, generator=torch.Generator().manual_seed(12))
    assert tre(reps, p, steps=20, seed=4) == tre(reps, p, steps=20, seed=4)
    assert tre(reps, p, steps=20, seed=4) != tre(reps, p, steps=20, seed=5)


def test_random_assignment_keeps_column_density() -> None:
    p = torch.zeros(4000, 3)
    p[:400, 0] = 1  # density 0.1
    p[:2000, 1] = 1  # 0.5
    p[:, 2] = 1  # 1.0
    r = random_assignment(p, seed=0)
    assert set(r.unique().tolist()) <= {0.0, 1.0}
    np.testing.assert_allclose(r.mean(dim=0).numpy(), [0.1, 0.5, 1.0], atol=0.03)
    assert torch.equal(r, random_assignment(p, seed=0))
    assert not torch.equal(r, random_assignment(p, seed=1))


def test_threshold_attributes_default_and_explicit() -> None:
    a = np.array([[0.0, 80.0, 5.0], [10.0, 20.0, 5.0], [20.0, 50.0, 5.0]])
    # column means: 10, 50, 5 -> strictly greater is present; a constant column is all absent
    expected = np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(threshold_attributes(a).numpy(), expected)
    np.testing.assert_array_equal(threshold_attributes(a, 15.0).numpy(), a > 15.0)
    per_attr = np.array([5.0, 60.0, 4.0])
    np.testing.assert_array_equal(threshold_attributes(a, per_attr).numpy(), a > per_attr)


def test_rejects_bad_inputs() -> None:
    reps = torch.randn(5, 4)
    with pytest.raises(ValueError, match="binary"):
        tre(reps, torch.full((5, 3), 0.5))
    with pytest.raises(ValueError, match="same"):
        tre(reps, torch.ones(4, 3))
    with pytest.raises(ValueError, match="fit set"):
        tre(reps, torch.ones(5, 3), fit=(torch.randn(5, 6), torch.ones(5, 3)))
