"""TRE and TRE ratio: compositional vs attribute-free representations, the class-level random
control, a per-sample reference loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lococo.metrics import compositionality as tre_mod
from lococo.metrics.compositionality import (
    random_assignment,
    random_class_assignment,
    threshold_attributes,
    tre,
    tre_ratio,
)


def _primitives(n: int, k: int, seed: int, density: float = 0.3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    p = (torch.rand(n, k, generator=gen) < density).float()
    p[p.sum(dim=1) == 0, 0] = 1.0  # every row has at least one primitive
    return p


def _vectors(k: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(k, d, generator=torch.Generator().manual_seed(seed))


def _class_data(classes: int, k: int, density: float, seed: int, per: int = 15):
    """A binary class matrix (every class with at least one attribute) and sorted labels."""
    gen = torch.Generator().manual_seed(seed)
    matrix = (torch.rand(classes, k, generator=gen) < density).float()
    matrix[matrix.sum(dim=1) == 0, 0] = 1.0
    return matrix, torch.arange(classes).repeat_interleave(per), gen


def _noisy(clean: torch.Tensor, gen: torch.Generator, scale: float = 0.3) -> torch.Tensor:
    return clean + scale * torch.randn(clean.shape, generator=gen)


@pytest.mark.parametrize("split", [False, True])
def test_compositional_representation_has_ratio_far_below_one(split: bool) -> None:
    matrix, labels, gen = _class_data(40, 12, 0.4, seed=0)
    reps = _noisy(matrix[labels] @ _vectors(12, 32, seed=1), gen, 0.1)
    if split:  # fit on 30 "seen" classes, score the 10 others, as the analysis does
        seen = labels < 30
        out = tre_ratio(
            reps[~seen], labels[~seen], matrix, fit=(reps[seen], labels[seen]), steps=200
        )
    else:
        out = tre_ratio(reps, labels, matrix, steps=200)
    assert out["tre"] < 0.05
    assert out["tre_random_class"] > 0.15
    assert out["tre_ratio"] < 0.15
    assert out["tre_random"] == out["tre_random_class"]
    assert out["tre_ratio"] == pytest.approx(out["tre"] / out["tre_random_class"])
    assert out["tre_ratio_image"] == pytest.approx(out["tre"] / out["tre_random_image"])


@pytest.mark.parametrize(("classes", "k", "density"), [(40, 24, 0.4), (30, 48, 0.2), (40, 8, 0.5)])
def test_no_attribute_information_gives_ratio_near_one(classes: int, k: int, density: float):
    """Acceptance: class identity without attribute information scores ~1 whatever the
    attribute structure (more, fewer, sparser attributes than classes); the per-image control
    does not (it cannot follow class structure, so any class-structured features look
    compositional against it)."""
    matrix, labels, gen = _class_data(classes, k, density, seed=k)
    reps = _noisy(torch.randn(classes, 32, generator=gen)[labels], gen)
    same = tre_ratio(reps, labels, matrix, seed=1, steps=200)
    seen = labels < int(0.75 * classes)
    split = tre_ratio(
        reps[~seen], labels[~seen], matrix, fit=(reps[seen], labels[seen]), seed=1, steps=200
    )
    assert 0.85 < same["tre_ratio"] < 1.15
    assert 0.85 < split["tre_ratio"] < 1.15
    assert same["tre_ratio_image"] < 0.75  # the old, per-image denominator's bias


def test_unstructured_random_representation_has_ratio_near_one() -> None:
    matrix, labels, gen = _class_data(20, 10, 0.3, seed=5, per=20)
    reps = torch.randn(len(labels), 32, generator=gen)
    out = tre_ratio(reps, labels, matrix, seed=2, steps=200)
    assert 0.85 < out["tre_ratio"] < 1.15
    assert out["tre"] > 0.3


def test_class_control_uses_one_matrix_for_fit_and_scored_sets() -> None:
    """Features composed exactly from the shuffled class matrix are reconstructed on other
    images of the same classes: the fit set and the scored set share that matrix."""
    matrix, labels, _ = _class_data(30, 10, 0.4, seed=6, per=10)
    shuffled = random_class_assignment(matrix, seed=3)
    reps = shuffled[labels] @ _vectors(10, 24, seed=7)
    first = torch.arange(len(labels)) % 2 == 0
    out = tre_ratio(
        reps[~first], labels[~first], matrix, fit=(reps[first], labels[first]), seed=3, steps=200
    )
    assert out["tre_random_class"] < 0.05
    assert out["tre_random_image"] > 0.3


def test_random_class_assignment_keeps_exact_column_densities() -> None:
    matrix, _, _ = _class_data(50, 20, 0.3, seed=8)
    shuffled = random_class_assignment(matrix, seed=0)
    assert shuffled.shape == matrix.shape
    assert torch.equal(shuffled.sum(dim=0), matrix.sum(dim=0))  # per-column counts kept
    assert not torch.equal(shuffled, matrix)
    assert torch.equal(shuffled, random_class_assignment(matrix, seed=0))
    assert not torch.equal(shuffled, random_class_assignment(matrix, seed=1))


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
    with pytest.raises(ValueError, match="labels"):
        tre_ratio(reps, torch.tensor([0, 1, 2, 3, 4]), torch.ones(3, 3))
