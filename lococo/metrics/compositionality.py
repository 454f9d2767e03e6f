"""Tree Reconstruction Error (Andreas 2019; thesis 4.4.4, app. A.8) and the TRE ratio.

One learnable vector per primitive (attribute); a sample's primitives compose by summation
(``primitives @ eta``); the distance is ``1 - cos(rep, composed)``; the vectors are fit by
full-batch RMSprop and TRE is the mean distance on the scored set.

Conventions chosen here:

* Initialisation: small seeded Gaussian vectors (std ``INIT_STD``). Andreas' reference starts
  at zero, which under cosine distance is a symmetric point where the optimisation stalls.
* Rows without any primitive compose to the zero vector; its cosine with anything is taken
  as 0, so such rows score distance 1 (no reconstruction) and contribute no gradient.
* The random assignment of the TRE ratio keeps each column's density (Bernoulli per column
  with that column's mean), so attribute frequencies match the true assignment.
* ``seed`` feeds two separate, mixed random streams (initial vectors, random assignment), so
  neither repeats data a caller generated with ``torch.manual_seed(seed)``.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray
FitSet = tuple[ArrayLike, ArrayLike]

INIT_STD = 0.01
COS_EPS = 1e-8
_INIT_STREAM, _ASSIGN_STREAM = 0, 1


class TREResult(TypedDict):
    """TRE on the true primitives, on a same-density random assignment, and their ratio."""

    tre: float
    tre_random: float
    tre_ratio: float


def _tensor(x: ArrayLike) -> torch.Tensor:
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(device="cpu", dtype=torch.float32)


def _check(reps: torch.Tensor, primitives: torch.Tensor, name: str) -> None:
    if reps.ndim != 2 or primitives.ndim != 2:
        raise ValueError(
            f"{name}: reps must be N×D and primitives N×K (got {tuple(reps.shape)}, "
            f"{tuple(primitives.shape)})"
        )
    if reps.shape[0] != primitives.shape[0] or reps.shape[0] == 0:
        raise ValueError(f"{name}: reps and primitives need the same, non-zero number of rows")
    if not bool(((primitives == 0) | (primitives == 1)).all()):
        raise ValueError(f"{name}: primitives must be a binary (0/1) matrix")
    if not bool(torch.isfinite(reps).all()):
        raise ValueError(f"{name}: reps contain NaN or Inf")


def _generator(seed: int, stream: int) -> torch.Generator:
    """A generator for ``seed`` on a separate stream (init vs random assignment).

    Mixing the seed keeps these draws unrelated to data a caller drew with ``manual_seed(seed)``.
    """
    state = np.random.SeedSequence([seed, stream, 0x7E5]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def init_vectors(num_primitives: int, dim: int, seed: int) -> torch.Tensor:
    """Seeded small random primitive vectors (``K×D``, std ``INIT_STD``)."""
    gen = _generator(seed, _INIT_STREAM)
    return INIT_STD * torch.randn(num_primitives, dim, generator=gen)


def distances(reps: torch.Tensor, primitives: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """Per-row ``1 - cos(rep, primitives @ eta)``; a zero composition gives distance 1."""
    composed = primitives @ eta
    dot = (reps * composed).sum(dim=1)
    norms = reps.norm(dim=1) * composed.norm(dim=1)
    return 1.0 - dot / norms.clamp_min(COS_EPS)


def fit_vectors(
    reps: torch.Tensor, primitives: torch.Tensor, *, steps: int, lr: float, seed: int
) -> torch.Tensor:
    """Primitive vectors minimising the mean distance on (reps, primitives), full batch."""
    eta = init_vectors(primitives.shape[1], reps.shape[1], seed).requires_grad_(True)
    opt = torch.optim.RMSprop([eta], lr=lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = distances(reps, primitives, eta).mean()
        loss.backward()
        opt.step()
    return eta.detach()


def tre(
    reps: ArrayLike,
    primitives: ArrayLike,
    fit: FitSet | None = None,
    *,
    steps: int = 400,
    lr: float = 0.01,
    seed: int = 0,
) -> float:
    """Mean ``1 - cos`` between ``reps`` (N×D) and the summed vectors of their ``primitives``.

    The primitive vectors are fit on ``fit = (reps_fit, primitives_fit)`` when given (same D
    and K), else on the scored set itself; ``seed`` fixes their random initialisation.
    """
    r, p = _tensor(reps), _tensor(primitives)
    _check(r, p, "scored set")
    fr, fp = (r, p) if fit is None else (_tensor(fit[0]), _tensor(fit[1]))
    if fit is not None:
        _check(fr, fp, "fit set")
        if fr.shape[1] != r.shape[1] or fp.shape[1] != p.shape[1]:
            raise ValueError("fit set must have the same D and K as the scored set")
    with torch.enable_grad():
        eta = fit_vectors(fr, fp, steps=steps, lr=lr, seed=seed)
    with torch.no_grad():
        return float(distances(r, p, eta).mean())


def random_assignment(primitives: ArrayLike, seed: int) -> torch.Tensor:
    """A random binary matrix with the shape and per-column density of ``primitives``."""
    p = _tensor(primitives)
    gen = _generator(seed, _ASSIGN_STREAM)
    density = p.mean(dim=0, keepdim=True).expand_as(p)
    return torch.bernoulli(density, generator=gen)


def tre_ratio(
    reps: ArrayLike,
    primitives: ArrayLike,
    fit: FitSet | None = None,
    seed: int = 0,
    *,
    steps: int = 400,
    lr: float = 0.01,
) -> TREResult:
    """TRE w.r.t. ``primitives`` divided by TRE w.r.t. a same-density random assignment.

    The random matrices (scored set: ``seed``; fit set: ``seed + 1``) are drawn independently;
    the same ``seed`` initialises the vectors of both fits. Lower ratios mean more compositional.
    """
    true_tre = tre(reps, primitives, fit, steps=steps, lr=lr, seed=seed)
    rand_fit = None if fit is None else (fit[0], random_assignment(fit[1], seed + 1))
    rand = random_assignment(primitives, seed)
    rand_tre = tre(reps, rand, rand_fit, steps=steps, lr=lr, seed=seed)
    ratio = true_tre / rand_tre if rand_tre > 0 else float("nan")
    return {"tre": true_tre, "tre_random": rand_tre, "tre_ratio": ratio}


def threshold_attributes(
    class_attributes: ArrayLike, threshold: float | ArrayLike | None = None
) -> torch.Tensor:
    """Binary class attributes: ``class_attributes > threshold`` (C×A bool).

    Default threshold: each attribute's mean over the classes. It is scale-free (CUB's
    percentages, AWA2's continuous strengths and SUN's averaged votes alike) and splits every
    attribute that varies into present/absent classes, so no column is all 0 or all 1 unless
    the attribute is constant. A scalar or per-attribute threshold overrides it.
    """
    a = _tensor(class_attributes)
    if a.ndim != 2:
        raise ValueError(f"class_attributes must be C×A (got {tuple(a.shape)})")
    t = a.mean(dim=0, keepdim=True) if threshold is None else _tensor(threshold)
    return a > t
