"""The thesis' ZFS claims (ch. 4) tested on a study's numbers: holds / does not hold / inconclusive.

:func:`evaluate_claims` is a pure function from a study's per-cell rows (``results.json``'s
``cells``: one row per model × local loss × encoder × seed) and its summary (mean over seeds
per model × local loss × encoder) to one record per claim, with the test, its statistic, ``p``,
the number of points or pairs ``n`` and the number of seeds behind it.

Tests (two-sided, level :data:`ALPHA`):

* **correlations** (parts F1 ↔ ZSL, fig. 4.2; TRE ratio ↔ ZSL, fig. 4.5): Pearson ``r`` over
  the models' means across seeds (one point per model × local loss × encoder, as the thesis'
  figures), ``n`` = points, statistic ``t = r √((n − 2) / (1 − r²))``
  (:func:`lococo.metrics.correlation.pearson`);
* **differences** (reconstruction family below the others, AC / LC gains, AC over LC,
  averaging representations over averaging predictions): Student's paired t-test across seeds;
  each seed contributes one pair, the mean over the models concerned of each side, ``n`` =
  seeds. The t-test rather than Wilcoxon: with 3 seeds Wilcoxon's two-sided p cannot go below
  0.25.

Verdicts: *holds* when ``p < ALPHA`` in the thesis' direction; *does not hold* when
``p < ALPHA`` in the opposite direction; otherwise *inconclusive*, with the reason: fewer than
:data:`MIN_SEEDS` seeds, too few points, missing measures, or ``p ≥ ALPHA`` (no significant
effect either way; absence of an effect is never claimed from a non-significant test).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lococo.metrics.correlation import pearson
from lococo.study.stats import paired_test

ALPHA = 0.05
MIN_SEEDS = 3
#: Methods of the reconstruction family (thesis 4.5.1): pixel-reconstruction objectives.
RECONSTRUCTION = ("vae", "beta_vae", "aae")
#: Rows that are references, not trained models, and are never part of a claim.
REFERENCE_MODELS = ("untrained",)

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Claim:
    """One claim of the thesis and its test on a study's numbers."""

    key: str
    claim: str
    thesis: str
    test: str
    statistic: float | None
    estimate: float | None  # r for correlations, the mean difference for paired tests
    p: float | None
    n: int
    seeds: int
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe fields (an infinite statistic, from identical differences, is ``None``)."""
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in asdict(self).items()
        }


def method_of(model: str) -> str:
    """The method of a model name (``cmdim_p0.5`` → ``cmdim``; others unchanged)."""
    return re.sub(r"_p[0-9.]+$", "", model)


def is_reconstruction(model: str) -> bool:
    return method_of(model) in RECONSTRUCTION


def verdict(
    estimate: float | None, p: float | None, expected_sign: int, seeds: int, enough: bool
) -> str:
    """*holds* / *does not hold* / *inconclusive (reason)* under the rule of this module."""
    if seeds < MIN_SEEDS:
        return f"inconclusive (n seeds {seeds} < {MIN_SEEDS})"
    if not enough or estimate is None or p is None:
        return "inconclusive (too few points)"
    if p >= ALPHA:
        return f"inconclusive (p ≥ {ALPHA:g})"
    return "holds" if estimate * expected_sign > 0 else "does not hold"


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _models(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if str(r.get("model")) not in REFERENCE_MODELS]


# --------------------------------------------------------------------------- correlations


def correlation_claim(
    summary: Sequence[Row], key: str, claim: str, thesis: str, measure: str, sign: int
) -> Claim:
    """Pearson r of ``<measure>_mean`` with ``top1_mean`` over the summary's models."""
    rows = [
        r
        for r in _models(summary)
        if _finite(r.get(f"{measure}_mean")) is not None and _finite(r.get("top1_mean")) is not None
    ]
    r, p, n = pearson([r[f"{measure}_mean"] for r in rows], [r["top1_mean"] for r in rows])
    seeds = min((int(row.get("seeds", 0)) for row in rows), default=0)
    return Claim(
        key,
        claim,
        thesis,
        f"Pearson r of model means ({measure} vs ZSL top-1)",
        _t_of_r(r, n),
        _finite(r),
        _finite(p),
        n,
        seeds,
        verdict(_finite(r), _finite(p), sign, seeds, n >= 3),
    )


def _t_of_r(r: float, n: int) -> float | None:
    """The t statistic of Pearson's r (``n - 2`` degrees of freedom)."""
    if not math.isfinite(r) or n < 3:
        return None
    if abs(r) >= 1.0:
        return math.copysign(math.inf, r)
    return r * math.sqrt((n - 2) / (1.0 - r * r))


# --------------------------------------------------------------------------- paired tests


def _by_seed(cells: Iterable[Row]) -> dict[int, list[Row]]:
    out: dict[int, list[Row]] = {}
    for cell in _models(cells):
        out.setdefault(int(cell["seed"]), []).append(cell)
    return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def seed_pairs(
    cells: Sequence[Row], side: Callable[[Sequence[Row]], tuple[float | None, float | None]]
) -> tuple[list[float], list[float]]:
    """One ``(a, b)`` pair per seed from ``side(cells of that seed)``; seeds where either side
    is missing are left out."""
    a, b = [], []
    for _, rows in sorted(_by_seed(cells).items()):
        x, y = side(rows)
        if x is not None and y is not None:
            a.append(x)
            b.append(y)
    return a, b


def paired_claim(
    cells: Sequence[Row],
    key: str,
    claim: str,
    thesis: str,
    description: str,
    side: Callable[[Sequence[Row]], tuple[float | None, float | None]],
) -> Claim:
    """Paired t-test across seeds of ``side``'s two per-seed values (expected: a > b)."""
    a, b = seed_pairs(cells, side)
    result = paired_test(a, b, test="t")
    estimate, p, n = _finite(result["mean_diff"]), _finite(result["p"]), int(result["n"])
    statistic = result["statistic"]
    decided = verdict(estimate, p, +1, n, n >= 2)
    if not cells:
        decided = "inconclusive (no per-seed values)"
    return Claim(
        key,
        claim,
        thesis,
        f"paired t-test across seeds ({description})",
        None if statistic is None or math.isnan(statistic) else float(statistic),
        estimate,
        p,
        n,
        n,
        decided,
    )


def _values(rows: Iterable[Row], measure: str) -> list[float]:
    return [v for r in rows if (v := _finite(r.get(measure))) is not None]


def family_gap(rows: Sequence[Row]) -> tuple[float | None, float | None]:
    """Mean ZSL top-1 of the plain non-reconstruction models vs the plain reconstruction ones."""
    plain = [r for r in rows if r.get("local_loss") == "none"]
    others = _values((r for r in plain if not is_reconstruction(str(r["model"]))), "top1")
    recon = _values((r for r in plain if is_reconstruction(str(r["model"]))), "top1")
    return _mean(others), _mean(recon)


def loss_gain(loss: str, baseline: str = "none") -> Callable[[Sequence[Row]], Any]:
    """Mean ZSL top-1 with ``loss`` vs with ``baseline`` over the non-reconstruction models
    that have both (matched by model and encoder within the seed)."""

    def side(rows: Sequence[Row]) -> tuple[float | None, float | None]:
        index = {(r["model"], r.get("encoder"), r.get("local_loss")): r for r in rows}
        with_loss, without = [], []
        for (model, encoder, local), row in index.items():
            if local != loss or is_reconstruction(str(model)):
                continue
            base = index.get((model, encoder, baseline))
            x, y = _finite(row.get("top1")), _finite(base.get("top1")) if base else None
            if x is not None and y is not None:
                with_loss.append(x)
                without.append(y)
        return _mean(with_loss), _mean(without)

    return side


def pooling_gap(rows: Sequence[Row]) -> tuple[float | None, float | None]:
    """Mean ZSL of averaging representations vs averaging predictions over all models."""
    both = [r for r in rows if _finite(r.get("zsl_avg_repr")) is not None]
    both = [r for r in both if _finite(r.get("zsl_avg_pred")) is not None]
    return _mean(_values(both, "zsl_avg_repr")), _mean(_values(both, "zsl_avg_pred"))


# --------------------------------------------------------------------------- all claims


def evaluate_claims(cells: Sequence[Row], summary: Sequence[Row]) -> list[Claim]:
    """Every claim of the ZFS report tested on ``cells`` (per seed) and ``summary`` (means).

    ``cells`` may be empty (only a summary kept): the paired claims then have ``n = 0`` and
    come out inconclusive.
    """
    plain_models = "non-reconstruction vs reconstruction plain models"
    return [
        correlation_claim(
            summary,
            "parts_f1_zsl",
            "Parts F1 correlates positively with ZSL accuracy",
            "fig. 4.2 (r = 0.73 on CUB)",
            "parts_f1",
            +1,
        ),
        correlation_claim(
            summary,
            "tre_ratio_zsl",
            "TRE ratio correlates negatively with ZSL accuracy",
            "fig. 4.5 (r = −0.90 CUB, −0.60 AwA2, −0.30 SUN)",
            "tre_ratio",
            -1,
        ),
        paired_claim(
            cells,
            "reconstruction_below",
            "Reconstruction models (VAE, β-VAE, AAE) reach lower ZSL accuracy than the others",
            "4.5.1, fig. 4.2",
            plain_models,
            family_gap,
        ),
        paired_claim(
            cells,
            "ac_gain",
            "The AC local loss raises ZSL accuracy of supervised and self-supervised models",
            "4.5.1, fig. 4.3",
            "with AC vs without, same models",
            loss_gain("ac"),
        ),
        paired_claim(
            cells,
            "lc_gain",
            "The LC local loss raises ZSL accuracy of supervised and self-supervised models",
            "4.5.1, fig. 4.3 (except CMDIM)",
            "with LC vs without, same models",
            loss_gain("lc"),
        ),
        paired_claim(
            cells,
            "ac_over_lc",
            "AC helps more than LC",
            "fig. 4.3",
            "with AC vs with LC, same models",
            loss_gain("ac", baseline="lc"),
        ),
        paired_claim(
            cells,
            "avg_repr_over_avg_pred",
            "Averaging local representations beats averaging local predictions",
            "4.5.3, fig. 4.6 (CUB)",
            "avg. representations vs avg. predictions, all models",
            pooling_gap,
        ),
    ]


CLAIM_COLUMNS = ("claim", "thesis", "test", "estimate", "statistic", "p", "n", "seeds", "verdict")


def claims_rule() -> str:
    """The decision rule, in one paragraph, for reports."""
    return (
        f"Each claim is tested two-sided at α = {ALPHA:g}: it holds when p < {ALPHA:g} in the "
        f"thesis' direction, does not hold when p < {ALPHA:g} in the opposite direction, and is "
        f"inconclusive otherwise (also with fewer than {MIN_SEEDS} seeds). Correlations: "
        "Pearson r over the models' means across seeds, n = models (estimate = r, statistic = "
        "its t). Differences: "
        "paired t-test across seeds on the per-seed mean over the models concerned, n = seeds "
        "(estimate = mean difference, statistic = t)."
    )
