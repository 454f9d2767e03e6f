"""The CMIM segmentation study (thesis table 8.2): every method × seed, tested per modality.

One cell trains one method with one seed (``single`` is one cell per input modality: a U-Net
trained and tested on that modality alone) and evaluates it with each modality alone and with
all four. Cells run on the shared runner (:mod:`lococo.study`): finished cells are skipped,
interrupted ones resume, cells can be SLURM jobs. The study writes table 8.2 (rows: test-time
modality; columns: methods; mean ± std of the Dice over seeds) to ``STUDY/summary.csv``,
``STUDY/results.json`` and the report, with a paired test per modality: CMIM against each
other method, a two-sided Wilcoxon signed-rank test on per-case Dice paired by (seed, case).
Every cell of one seed splits the cases with that seed, so the test cases pair up.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lococo.cmim.seg_config import SEG_METHODS, SEG_MODALITIES, SegConfig
from lococo.config.loading import load_config
from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError
from lococo.io import read_json, write_json
from lococo.study.runner import cell_dir, run_grid, train_then_evaluate, write_csv
from lococo.study.stats import mean_std, paired_test

SYSTEM = "cmim_seg"
SECTION = "cmim_seg"
TRAIN_SECTION = "cmim_seg_train"
#: Rows of table 8.2: each modality alone at test time, then all four.
TEST_MODALITIES = (*SEG_MODALITIES, "all")
#: The methods of the thesis' table (the two references are opt-in).
DEFAULT_METHODS = ("cmim", "hemis", "mean", "mlp")
REFERENCE = "cmim"
#: Table 8.2 of the thesis (Dice %, BRATS-2015; HeMIS, mean and MLP from Havaei et al. 2016).
THESIS_TABLE = {
    "flair": {"cmim": 23.37, "hemis": 5.57, "mean": 6.25, "mlp": 15.90},
    "t1": {"cmim": 14.15, "hemis": 4.67, "mean": 6.25, "mlp": 10.78},
    "t1c": {"cmim": 49.00, "hemis": 49.93, "mean": 30.02, "mlp": 32.92},
    "t2": {"cmim": 29.56, "hemis": 20.31, "mean": 6.25, "mlp": 18.62},
}


@dataclass(frozen=True)
class SegCell:
    """One method trained with one seed; ``modality`` is the input of ``single``."""

    method: str
    seed: int
    modality: str = ""

    @property
    def model(self) -> str:
        return f"{self.method}_{self.modality}" if self.modality else self.method

    @property
    def name(self) -> str:
        return f"{self.model}-s{self.seed}"

    def tested_on(self) -> tuple[str, ...]:
        """The test-time modalities this cell contributes to the table."""
        if self.method == "single":
            return (self.modality,)
        if self.method == "all":
            return ("all",)
        return TEST_MODALITIES


@dataclass
class SegStudySpec:
    data: str
    methods: Sequence[str] = DEFAULT_METHODS
    seeds: Sequence[int] = (0, 1, 2)
    profile: str = "quick"
    config_file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    system: str = SYSTEM


def grid(spec: SegStudySpec) -> list[SegCell]:
    """Every cell: one per method and seed, ``single`` once per input modality."""
    for method in spec.methods:
        if method not in SEG_METHODS:
            raise LococoError(f"unknown method {method!r}; choose from {', '.join(SEG_METHODS)}")
    cells = []
    for method in spec.methods:
        for seed in spec.seeds:
            if method == "single":
                cells += [SegCell(method, seed, m) for m in SEG_MODALITIES]
            else:
                cells.append(SegCell(method, seed))
    return cells


def cell_config(spec: SegStudySpec, cell: SegCell) -> SegConfig:
    overrides = {
        **spec.overrides,
        "data.path": spec.data,
        "method.name": cell.method,
        "seed": cell.seed,
    }
    if cell.modality:
        overrides["method.modality"] = cell.modality
    return load_config(
        SegConfig,
        system=SYSTEM,
        profile=spec.profile,
        config_file=spec.config_file,
        overrides=overrides,
    )


def run_config(run: RunDir) -> SegConfig:
    """The resolved config an interrupted cell was started with."""
    return run.saved_config(SegConfig)


def is_done(run: RunDir) -> bool:
    return "dice" in (run.read_results().get(SECTION) or {})


def run_cell(spec: SegStudySpec, cell: SegCell, run_path: str, progress: bool = True) -> Any:
    """Train (resuming an interrupted run) and evaluate one cell; finished steps are skipped."""
    from lococo.cmim.seg_evaluate import evaluate_seg
    from lococo.cmim.seg_train import train_seg

    return train_then_evaluate(
        run_path,
        trained=TRAIN_SECTION,
        new_config=lambda: cell_config(spec, cell),
        saved_config=run_config,
        train=lambda cfg, run, resume: train_seg(cfg, run, resume=resume, progress=progress),
        evaluate=lambda path: evaluate_seg(path, progress=progress),
        is_done=is_done,
    )


def run_study(
    spec: SegStudySpec,
    out: str | Path,
    *,
    launcher: str = "local",
    slurm: dict[str, Any] | None = None,
    progress: bool = True,
    on_cell: Any = None,
) -> dict[str, Any]:
    """Run every unfinished cell, then write table 8.2, the tests and the overlay figures;
    returns ``results.json``'s content."""
    out = Path(out)
    cells = grid(spec)
    for cell in cells:  # fail fast on a bad key before any work
        cell_config(spec, cell)
    ran = run_grid(
        cells,
        out,
        run_cell=functools.partial(run_cell, spec),
        is_done=is_done,
        launcher=launcher,
        slurm=slurm,
        progress=progress,
        on_cell=on_cell,
    )
    return write_summary(spec, cells, out, redraw=bool(ran))


# --------------------------------------------------------------------------- summary


def column(cell: SegCell | Mapping[str, Any]) -> str:
    """The table column of a cell: its method (``single`` gathers its four modalities)."""
    return cell.method if isinstance(cell, SegCell) else str(cell["method"])


def cell_row(cell: SegCell, section: Mapping[str, Any]) -> dict[str, Any]:
    """One cell's Dice per test-time modality (``None`` where the cell is not tested)."""
    dice = section.get("dice") or {}
    tested = cell.tested_on()
    row: dict[str, Any] = {
        "cell": cell.name,
        "model": cell.model,
        "method": cell.method,
        "modality": cell.modality or None,
        "seed": cell.seed,
    }
    for modality in TEST_MODALITIES:
        value = dice.get(modality) if modality in tested else None
        row[f"dice_{modality}"] = None if value is None else float(value)
    if section.get("empty_dice") is not None:
        row["empty_dice"] = section["empty_dice"]
    return row


def table(rows: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> list[dict[str, Any]]:
    """Table 8.2: one entry per test-time modality with ``<method>_mean`` / ``_std`` /
    ``_seeds`` per method column (left out where no cell of the method has a value)."""
    summary = []
    for modality in TEST_MODALITIES:
        entry: dict[str, Any] = {"modality": modality}
        for method in methods:
            values = [
                r[f"dice_{modality}"]
                for r in rows
                if column(r) == method and r.get(f"dice_{modality}") is not None
            ]
            if values:
                entry[f"{method}_mean"], entry[f"{method}_std"] = mean_std(values)
                entry[f"{method}_seeds"] = len(values)
        if len(entry) > 1:
            summary.append(entry)
    return summary


def per_case(section: Mapping[str, Any], modality: str) -> dict[str, float]:
    """``{case id: Dice}`` of one test-time modality from a cell's ``cmim_seg`` section."""
    cases = (section.get("dice_per_case") or {}).get(modality) or {}
    return {str(k): float(v) for k, v in cases.items() if v is not None}


def paired_tests(
    sections: Mapping[SegCell, Mapping[str, Any]], methods: Sequence[str]
) -> list[dict[str, Any]]:
    """CMIM against every other method, per test-time modality: Wilcoxon signed-rank on the
    per-case Dice paired by (seed, case); ``mean_diff`` > 0 means CMIM is ahead."""
    if REFERENCE not in methods:
        return []
    tests = []
    for modality in TEST_MODALITIES:
        scores: dict[str, dict[tuple[int, str], float]] = {}
        for cell, section in sections.items():
            if modality in cell.tested_on():
                for case, dice in per_case(section, modality).items():
                    scores.setdefault(cell.method, {})[(cell.seed, case)] = dice
        reference = scores.get(REFERENCE, {})
        for method in methods:
            if method == REFERENCE or method not in scores:
                continue
            keys = sorted(reference.keys() & scores[method].keys())
            if not keys:
                continue
            result = paired_test([reference[k] for k in keys], [scores[method][k] for k in keys])
            tests.append({"modality": modality, "method": REFERENCE, "versus": method, **result})
    return tests


def write_summary(
    spec: SegStudySpec, cells: Sequence[SegCell], out: Path, *, redraw: bool = True
) -> dict[str, Any]:
    """``summary.csv`` (table 8.2), ``results.json`` and the overlay figures of the study
    (kept from the last summary when no cell ran since and ``redraw`` is false)."""
    sections: dict[SegCell, Mapping[str, Any]] = {}
    for cell in cells:
        section = RunDir(cell_dir(out, cell)).read_results().get(SECTION) or {}
        if "dice" in section:
            sections[cell] = section
    rows = [cell_row(cell, section) for cell, section in sections.items()]
    methods = list(dict.fromkeys(spec.methods))
    summary = table(rows, methods)
    write_csv(out / "summary.csv", summary)
    previous = (read_json(out / "results.json") or {}) if (out / "results.json").is_file() else {}
    figures = previous.get("figures") or []
    if redraw or not figures or not all((out / f).is_file() for f in figures):
        figures = study_overlays(out, sections) if sections else []
    result = {
        "study": {**asdict(spec), "cells": len(cells)},
        "cells": rows,
        "summary": summary,
        "tests": paired_tests(sections, methods),
        "test": "two-sided Wilcoxon signed-rank on per-case Dice, paired by (seed, case)",
        "figures": figures,
    }
    write_json(out / "results.json", result)
    return result


def study_overlays(out: Path, sections: Mapping[SegCell, Mapping[str, Any]]) -> list[str]:
    """Overlay figures (prediction vs ground truth, same slices for every method and modality)
    from the first seed's cells; returns their paths relative to ``out``."""
    from lococo.viz.cmim import draw_study_overlays

    seed = min(cell.seed for cell in sections)
    runs = {cell: cell_dir(out, cell) for cell in sections if cell.seed == seed}
    return draw_study_overlays(out, runs)


# --------------------------------------------------------------------------- findings

#: "Close" to HeMIS on T1c: within this many Dice points (the thesis: 0.9 points).
CLOSE = 0.05
#: "Well above" an empty prediction: at least this many Dice points more.
WELL_ABOVE = 0.10
#: Significance level of the paired tests.
ALPHA = 0.05
BASELINES = ("hemis", "mean", "mlp")


def findings(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Which of table 8.2's findings hold in a study's results.

    * CMIM ahead of every baseline (HeMIS, mean, MLP) on FLAIR and on T1: a higher mean Dice
      over seeds, and significantly so (paired test, p < :data:`ALPHA`, CMIM ahead);
    * CMIM close to HeMIS on T1c: mean Dice within :data:`CLOSE`;
    * every method well above an empty prediction on every test-time input: mean Dice at least
      :data:`WELL_ABOVE` above the empty prediction's (its Dice under the BraTS convention,
      ``empty_dice`` of the evaluation, 0 when no test case lacks the enhancing class).
    """
    rows = {r["modality"]: r for r in results.get("summary") or []}
    tests = {(t["modality"], t["versus"]): t for t in results.get("tests") or []}
    methods = [str(m) for m in (results.get("study") or {}).get("methods") or []]
    out: list[dict[str, Any]] = []

    def mean(modality: str, method: str) -> float | None:
        return rows.get(modality, {}).get(f"{method}_mean")

    baselines = [b for b in BASELINES if b in methods]
    if REFERENCE in methods and baselines:
        for modality in ("flair", "t1"):
            ref = mean(modality, REFERENCE)
            evidence, holds, significant = [], ref is not None, ref is not None
            for base in baselines:
                other = mean(modality, base)
                test = tests.get((modality, base), {})
                p = test.get("p")
                if ref is None or other is None:
                    holds = significant = False
                    continue
                holds = holds and ref > other
                significant = significant and (p is not None and p < ALPHA) and ref > other
                evidence.append(f"vs {base}: {100 * (ref - other):+.1f} pts, p={_p(p)}")
            out.append(
                {
                    "finding": f"CMIM ahead of the baselines on {modality.upper()}",
                    "holds": bool(holds),
                    "significant": bool(significant),
                    "evidence": "; ".join(evidence),
                }
            )
    if REFERENCE in methods and "hemis" in methods:
        ref, other = mean("t1c", REFERENCE), mean("t1c", "hemis")
        if ref is not None and other is not None:
            p = tests.get(("t1c", "hemis"), {}).get("p")
            out.append(
                {
                    "finding": f"CMIM close to HeMIS on T1c (within {100 * CLOSE:.0f} pts)",
                    "holds": abs(ref - other) <= CLOSE,
                    "significant": None,
                    "evidence": f"{100 * (ref - other):+.1f} pts, p={_p(p)}",
                }
            )
    empty = [c["empty_dice"] for c in results.get("cells") or [] if c.get("empty_dice") is not None]
    floor = max(empty) if empty else 0.0
    lows = []
    for modality, row in rows.items():
        for method in methods:
            value = row.get(f"{method}_mean")
            if value is not None:
                lows.append((value, method, modality))
    if lows:
        low = min(lows)
        out.append(
            {
                "finding": "every method well above an empty prediction",
                "holds": low[0] >= floor + WELL_ABOVE,
                "significant": None,
                "evidence": f"lowest mean Dice {100 * low[0]:.1f} ({low[1]}, {low[2]}); "
                f"empty prediction {100 * floor:.1f}",
            }
        )
    return out


def _p(p: Any) -> str:
    return "n/a" if p is None or p != p else f"{p:.2g}"
