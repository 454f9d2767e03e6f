"""Tree Reconstruction Error (Andreas 2019; thesis 4.4.4, app. A.8) and the TRE ratio.

One learnable vector per primitive (attribute); a sample's primitives compose by summation
(``primitives @ eta``); the distance is ``1 - cos(rep, composed)``; the vectors are fit by
full-batch RMSprop and TRE is the mean distance on the scored set.

Conventions chosen here:

* Initialisation: small seeded Gaussian vectors (std ``INIT_STD``). Andreas' reference starts
  at zero, which under cosine distance is a symmetric point where the optimisation stalls.
* Rows without any primitive compose to the zero vector; its cosine with anything is taken
  as 0, so such rows score distance 1 (no reconstruction) and contribute no gradient.
* The TRE ratio's denominator is the thesis' "random cluster assignment" at the class level:
  a random binary *classes × primitives* matrix with the true matrix's column densities
  (each column's entries permuted over the classes), indexed by label, the same matrix for the
  fit set and the scored set. Representations that carry class identity but nothing about the
  attributes then score a ratio near 1, as do representations without any structure. The
  per-image control (a fresh Bernoulli draw per image and column) is reported as well; it
  cannot follow class structure, so it rewards any class-structured representation and biases
  the ratio below 1 (random features of class-structured data came out near 0.75).
* ``seed`` feeds separate, mixed random streams (initial vectors, per-image and class-level
  random assignments), so none repeats data a caller generated with ``torch.manual_seed(seed)``.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray
FitSet = tuple[ArrayLike, ArrayLike]

INIT_STD = 0.01
COS_EPS = 1e-8
_INIT_STREAM, _ASSIGN_STREAM, _CLASS_STREAM = 0, 1, 2


class TREResult(TypedDict):
    """TRE on the true primitives and on the random controls, and the ratios.

    ``tre_random`` and ``tre_ratio`` are the class-level control and the thesis' ratio
    (``tre_random`` equals ``tre_random_class``); ``tre_ratio_image`` uses the per-image control.
    """

    tre: float
    tre_random: float
    tre_ratio: float
    tre_random_class: float
    tre_random_image: float
    tre_ratio_image: float


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
    """A random binary matrix with the shape and per-column density of ``primitives``
    (a Bernoulli draw per entry with its column's mean: the per-image control)."""
    p = _tensor(primitives)
    gen = _generator(seed, _ASSIGN_STREAM)
    density = p.mean(dim=0, keepdim=True).expand_as(p)
    return torch.bernoulli(density, generator=gen)


def random_class_assignment(class_primitives: ArrayLike, seed: int) -> torch.Tensor:
    """A random binary ``classes × primitives`` matrix with exactly the column densities of
    ``class_primitives``: each column's entries permuted over the classes independently."""
    p = _tensor(class_primitives)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"class_primitives must be a non-empty C×K matrix (got {tuple(p.shape)})")
    gen = _generator(seed, _CLASS_STREAM)
    order = torch.argsort(torch.rand(p.shape, generator=gen), dim=0)
    return torch.gather(p, 0, order)


def _labels(labels: ArrayLike, classes: int, name: str) -> torch.Tensor:
    t = labels.detach().cpu() if isinstance(labels, torch.Tensor) else torch.as_tensor(labels)
    t = t.reshape(-1).long()
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= classes):
        raise ValueError(f"{name}: labels must index the {classes} rows of class_primitives")
    return t


def tre_ratio(
    reps: ArrayLike,
    labels: ArrayLike,
    class_primitives: ArrayLike,
    fit: FitSet | None = None,
    seed: int = 0,
    *,
    steps: int = 400,
    lr: float = 0.01,
) -> TREResult:
    """TRE w.r.t. the class primitives over TRE w.r.t. a random class-level assignment.

    ``reps`` (N×D) are the scored representations, ``labels`` (N) their classes,
    ``class_primitives`` the binary C×K class matrix; ``fit = (reps_fit, labels_fit)`` is the
    set the primitive vectors are fit on (default: the scored set). The denominator
    (``tre_random_class``) uses :func:`random_class_assignment` for both sets; the per-image
    control (``tre_random_image``, :func:`random_assignment` drawn separately for the scored
    set (``seed``) and the fit set (``seed + 1``)) gives ``tre_ratio_image``. The same
    ``seed`` initialises the vectors of every fit. Lower ratios mean more compositional.
    """
    classes = _tensor(class_primitives)
    _check(classes, classes, "class_primitives")
    y = _labels(labels, classes.shape[0], "scored set")
    fit_reps, fit_y = (
        (reps, y) if fit is None else (fit[0], _labels(fit[1], len(classes), "fit set"))
    )
    kwargs = {"steps": steps, "lr": lr, "seed": seed}

    def score(matrix: torch.Tensor, fit_matrix: torch.Tensor) -> float:
        return tre(reps, matrix, None if fit is None else (fit_reps, fit_matrix), **kwargs)

    true_tre = score(classes[y], classes[fit_y])
    shuffled = random_class_assignment(classes, seed)
    rand_class = score(shuffled[y], shuffled[fit_y])
    scored_image = random_assignment(classes[y], seed)
    rand_image = score(scored_image, random_assignment(classes[fit_y], seed + 1))
    return {
        "tre": true_tre,
        "tre_random": rand_class,
        "tre_ratio": _ratio(true_tre, rand_class),
        "tre_random_class": rand_class,
        "tre_random_image": rand_image,
        "tre_ratio_image": _ratio(true_tre, rand_image),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


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
