"""The ZFS claims table on constructed study data whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lococo.study.stats import paired_test
from lococo.zfs.claims import MIN_SEEDS, evaluate_claims, method_of, verdict
from lococo.zfs.study import summarize

BASE = {"fc": 0.5, "cmdim_p0.5": 0.4, "dim": 0.3, "amdim": 0.28, "vae": 0.15, "aae": 0.12}
GAIN = {"none": 0.0, "ac": 0.05, "lc": -0.04}


def _cells(seeds: int, *, tre_sign: float = -1.0, seed: int = 0) -> list[dict]:
    """Cells of a study where: parts F1 rises and the TRE ratio falls with ZSL (unless
    ``tre_sign`` flips it), reconstruction is lowest, AC gains 0.05, LC loses 0.04 (on every
    model), averaging representations and predictions do equally well on average."""
    rng = np.random.default_rng(seed)
    cells = []
    for s in range(seeds):
        for model, base in BASE.items():
            for loss, gain in GAIN.items():
                top1 = base + (0.0 if model in ("vae", "aae") else gain) + rng.normal(0, 0.01)
                cells.append(
                    {
                        "cell": f"{model}-{loss}-basic-s{s}",
                        "model": model,
                        "method": method_of(model),
                        "local_loss": loss,
                        "encoder": "basic",
                        "seed": s,
                        "chance": 0.1,
                        "top1": top1,
                        "parts_f1": 0.4 + 0.3 * top1 + rng.normal(0, 0.01),
                        "tre_ratio": 0.9 + tre_sign * 0.5 * top1 + rng.normal(0, 0.01),
                        "zsl_avg_repr": top1,
                        "zsl_avg_pred": top1 + (0.02 if s % 2 else -0.02),  # no net effect
                    }
                )
    return cells


def _verdicts(cells: list[dict]) -> dict[str, str]:
    return {c.key: c.verdict for c in evaluate_claims(cells, summarize(cells))}


def test_known_answers_with_enough_seeds():
    claims = {c.key: c for c in evaluate_claims(_cells(4), summarize(_cells(4)))}
    verdicts = {k: c.verdict for k, c in claims.items()}
    assert verdicts["parts_f1_zsl"] == "holds"
    assert verdicts["tre_ratio_zsl"] == "holds"
    assert verdicts["reconstruction_below"] == "holds"
    assert verdicts["ac_gain"] == "holds"
    assert verdicts["lc_gain"] == "does not hold"  # LC lowers ZSL here, significantly
    assert verdicts["ac_over_lc"] == "holds"
    assert verdicts["avg_repr_over_avg_pred"].startswith("inconclusive (p ≥")
    assert claims["parts_f1_zsl"].n == 18 and claims["parts_f1_zsl"].seeds == 4
    assert claims["ac_gain"].n == 4 and claims["ac_gain"].estimate == pytest.approx(0.05, abs=0.01)
    assert claims["lc_gain"].estimate == pytest.approx(-0.04, abs=0.01)


def test_opposite_correlation_does_not_hold():
    assert _verdicts(_cells(3, tre_sign=+1.0))["tre_ratio_zsl"] == "does not hold"


def test_fewer_than_three_seeds_is_inconclusive_whatever_the_numbers():
    claims = evaluate_claims(_cells(2), summarize(_cells(2)))
    assert all(c.verdict == f"inconclusive (n seeds 2 < {MIN_SEEDS})" for c in claims)
    corr = next(c for c in claims if c.key == "parts_f1_zsl")
    assert corr.estimate is not None and corr.estimate > 0.9  # still computed and reported


def test_summary_only_leaves_paired_claims_without_pairs():
    cells = _cells(3)
    claims = {c.key: c for c in evaluate_claims([], summarize(cells))}
    assert claims["parts_f1_zsl"].verdict == "holds"
    assert claims["ac_gain"].n == 0
    assert claims["ac_gain"].verdict == "inconclusive (no per-seed values)"


def test_correlation_matches_scipy_on_model_means():
    cells = _cells(3, seed=1)
    summary = summarize(cells)
    claim = evaluate_claims(cells, summary)[0]
    expected = stats.pearsonr(
        [r["parts_f1_mean"] for r in summary], [r["top1_mean"] for r in summary]
    )
    assert claim.estimate == pytest.approx(expected.statistic)
    assert claim.p == pytest.approx(expected.pvalue)
    n, r = claim.n, claim.estimate
    t = r * math.sqrt((n - 2) / (1 - r * r))
    assert claim.statistic == pytest.approx(t)
    assert claim.p == pytest.approx(2 * stats.t.sf(abs(t), n - 2))


def test_untrained_reference_rows_are_left_out():
    cells = _cells(3)
    reference = {**cells[0], "model": "untrained", "top1": 0.9, "parts_f1": 0.0, "seed": 0}
    with_ref = {c.key: c for c in evaluate_claims([*cells, reference], summarize(cells))}
    assert with_ref["reconstruction_below"].verdict == "holds"


def test_verdict_rule():
    assert verdict(0.5, 0.01, +1, 3, True) == "holds"
    assert verdict(-0.5, 0.01, +1, 3, True) == "does not hold"
    assert verdict(0.5, 0.2, +1, 3, True).startswith("inconclusive (p")
    assert verdict(0.5, 0.001, +1, 2, True).startswith("inconclusive (n seeds 2")
    assert verdict(None, None, +1, 5, False) == "inconclusive (too few points)"


def test_paired_t_matches_scipy_and_handles_constant_differences():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=6), rng.normal(size=6)
    ours = paired_test(a, b, test="t")
    ref = stats.ttest_rel(a, b)
    assert ours["test"] == "paired t" and ours["n"] == 6
    assert ours["statistic"] == pytest.approx(ref.statistic)
    assert ours["p"] == pytest.approx(ref.pvalue)
    same_gain = paired_test([1.0, 2.0, 3.0], [0.5, 1.5, 2.5], test="t")
    assert same_gain["p"] == 0.0 and same_gain["statistic"] == math.inf
    assert paired_test([1.0, 2.0], [1.0, 2.0], test="t")["p"] == 1.0
    with pytest.raises(ValueError, match="unknown paired test"):
        paired_test([1.0], [2.0], test="z")
    # Wilcoxon cannot reach p < 0.25 with 3 pairs: why the claims use the t-test
    assert paired_test([1.0, 2.0, 3.0], [0.0, 0.5, 1.0])["p"] == pytest.approx(0.25)
