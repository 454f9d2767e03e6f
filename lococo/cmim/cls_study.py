"""The CMIM classification study (thesis table 8.1): CMIM vs the image-only ResNet × seeds.

One cell trains one method with one seed and evaluates it from the image alone. Every cell of
one seed splits the patients with that seed, so the methods are tested on the same images and
pair up by seed. Cells run on the shared runner (:mod:`lococo.study`): finished cells are
skipped, interrupted ones resume. The study writes to ``STUDY/summary.csv``,
``STUDY/results.json`` and the report:

* table 8.1: macro ROC-AUC per method, mean ± sample std over seeds;
* ``test``: CMIM − image_only on the macro AUC paired by seed (two-sided Wilcoxon signed-rank,
  which cannot go below p = 0.25 with 3 seeds, and a paired t-test);
* ``per_class``: per class, each method's mean AUC and the CMIM − image_only difference
  (mean ± std over seeds, wins), with ``test_pooled``: Wilcoxon over every (seed, class) pair;
* figures: ROC curves per class (first seed of each method) and, for CMIM, where the report's
  key words and the image positions agree (the local–local critic's scores).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lococo.cmim.cls_config import CLS_METHODS, ClsConfig
from lococo.config.loading import load_config
from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError
from lococo.io import write_json
from lococo.study.runner import cell_dir, run_grid, train_then_evaluate, write_csv
from lococo.study.stats import mean_std, paired_test

SYSTEM = "cmim_cls"
SECTION = "cmim_cls"
TRAIN_SECTION = "cmim_cls_train"
REFERENCE, BASELINE = "cmim", "image_only"
#: Table 8.1 of the thesis (macro AUC on Open-I; TieNet tests with generated text).
THESIS_TABLE = {"image_only": 0.785, "tienet": 0.741, "cmim": 0.793}
#: "Well above chance": macro AUC at least this much above 0.5.
WELL_ABOVE = 0.1
ALPHA = 0.05


@dataclass(frozen=True)
class ClsCell:
    method: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.method}-s{self.seed}"


@dataclass
class ClsStudySpec:
    data: str
    methods: Sequence[str] = CLS_METHODS
    seeds: Sequence[int] = (0, 1, 2)
    profile: str = "quick"
    config_file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    system: str = SYSTEM


def grid(spec: ClsStudySpec) -> list[ClsCell]:
    for method in spec.methods:
        if method not in CLS_METHODS:
            raise LococoError(f"unknown method {method!r}; choose from {', '.join(CLS_METHODS)}")
    return [ClsCell(m, s) for m in dict.fromkeys(spec.methods) for s in spec.seeds]


def cell_config(spec: ClsStudySpec, cell: ClsCell) -> ClsConfig:
    overrides = {**spec.overrides, "data.path": spec.data, "method.name": cell.method}
    overrides["seed"] = cell.seed
    return load_config(
        ClsConfig,
        system=SYSTEM,
        profile=spec.profile,
        config_file=spec.config_file,
        overrides=overrides,
    )


def is_done(run: RunDir) -> bool:
    return "auc_macro" in (run.read_results().get(SECTION) or {})


def run_cell(spec: ClsStudySpec, cell: ClsCell, run_path: str, progress: bool = True) -> Any:
    """Train (resuming an interrupted run) and evaluate one cell; finished steps are skipped."""
    from lococo.cmim.cls_evaluate import evaluate_cls
    from lococo.cmim.cls_train import train_cls

    return train_then_evaluate(
        run_path,
        trained=TRAIN_SECTION,
        new_config=lambda: cell_config(spec, cell),
        saved_config=lambda run: run.saved_config(ClsConfig),
        train=lambda cfg, run, resume: train_cls(cfg, run, resume=resume, progress=progress),
        evaluate=lambda path: evaluate_cls(path, progress=progress),
        is_done=is_done,
    )


def run_cls_study(
    spec: ClsStudySpec,
    out: str | Path,
    *,
    launcher: str = "local",
    slurm: dict[str, Any] | None = None,
    progress: bool = True,
    on_cell: Any = None,
) -> dict[str, Any]:
    """Run every unfinished cell, then write table 8.1, the tests and the figures."""
    from lococo.cmim.cls_train import check_config

    out = Path(out)
    cells = grid(spec)
    for cell in cells:  # fail fast on a bad key before any work
        check_config(cell_config(spec, cell))
    run_grid(
        cells,
        out,
        run_cell=functools.partial(run_cell, spec),
        is_done=is_done,
        launcher=launcher,
        slurm=slurm,
        progress=progress,
        on_cell=on_cell,
    )
    return write_summary(spec, cells, out)


# --------------------------------------------------------------------------- summary


def cell_row(cell: ClsCell, section: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "cell": cell.name,
        "method": cell.method,
        "seed": cell.seed,
        "auc_macro": float(section["auc_macro"]),
    }
    for name, value in (section.get("auc") or {}).items():
        row[f"auc_{name}"] = float(value)
    return row


def table(rows: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> list[dict[str, Any]]:
    """Table 8.1: per method, the macro AUC's mean and sample std over seeds."""
    out = []
    for method in methods:
        values = [r["auc_macro"] for r in rows if r["method"] == method]
        values = [v for v in values if math.isfinite(v)]
        if values:
            m, s = mean_std(values)
            out.append({"method": method, "seeds": len(values), "auc_mean": m, "auc_std": s})
    return out


def _by_seed(rows: Sequence[Mapping[str, Any]], method: str, key: str) -> dict[int, float]:
    return {
        int(r["seed"]): float(r[key])
        for r in rows
        if r["method"] == method and r.get(key) is not None and math.isfinite(r[key])
    }


def macro_test(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """CMIM − image_only on the macro AUC, paired by seed: Wilcoxon and a paired t-test."""
    from scipy import stats

    a, b = _by_seed(rows, REFERENCE, "auc_macro"), _by_seed(rows, BASELINE, "auc_macro")
    seeds = sorted(a.keys() & b.keys())
    if not seeds:
        return None
    x, y = [a[s] for s in seeds], [b[s] for s in seeds]
    result = {"seeds": seeds, **paired_test(x, y)}
    t_p = float("nan")
    if len(seeds) >= 2 and any(u != v for u, v in zip(x, y, strict=True)):
        t_p = float(stats.ttest_rel(x, y).pvalue)
    result["t_p"] = t_p
    return result


def per_class(rows: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> list[dict[str, Any]]:
    """Per class: each method's mean AUC over seeds and CMIM − image_only over paired seeds."""
    classes = list(
        dict.fromkeys(k[4:] for r in rows for k in r if k.startswith("auc_") and k != "auc_macro")
    )
    out = []
    for name in classes:
        key = f"auc_{name}"
        entry: dict[str, Any] = {"class": name}
        for method in methods:
            values = list(_by_seed(rows, method, key).values())
            if values:
                entry[f"{method}_mean"], entry[f"{method}_std"] = mean_std(values)
        a, b = _by_seed(rows, REFERENCE, key), _by_seed(rows, BASELINE, key)
        seeds = sorted(a.keys() & b.keys())
        if seeds:
            diffs = [a[s] - b[s] for s in seeds]
            entry["diff_mean"], entry["diff_std"] = mean_std(diffs)
            entry["wins"] = sum(d > 0 for d in diffs)
            entry["losses"] = sum(d < 0 for d in diffs)
            entry["n"] = len(diffs)
        out.append(entry)
    return out


def pooled_class_test(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Wilcoxon over every (seed, class) pair of per-class AUCs, CMIM vs image_only."""
    pairs_a, pairs_b = [], []
    keys = {k for r in rows for k in r if k.startswith("auc_") and k != "auc_macro"}
    for key in sorted(keys):
        a, b = _by_seed(rows, REFERENCE, key), _by_seed(rows, BASELINE, key)
        for s in sorted(a.keys() & b.keys()):
            pairs_a.append(a[s])
            pairs_b.append(b[s])
    return paired_test(pairs_a, pairs_b) if pairs_a else None


def write_summary(spec: ClsStudySpec, cells: Sequence[ClsCell], out: Path) -> dict[str, Any]:
    """``summary.csv`` (table 8.1), ``results.json`` and the figures of the study."""
    sections: dict[ClsCell, Mapping[str, Any]] = {}
    for cell in cells:
        section = RunDir(cell_dir(out, cell)).read_results().get(SECTION) or {}
        if "auc_macro" in section:
            sections[cell] = section
    rows = [cell_row(c, s) for c, s in sections.items()]
    methods = list(dict.fromkeys(spec.methods))
    summary = table(rows, methods)
    write_csv(out / "summary.csv", summary)
    classes = per_class(rows, methods)
    write_csv(out / "per_class.csv", classes)
    result = {
        "study": {**asdict(spec), "cells": len(cells)},
        "cells": rows,
        "summary": summary,
        "test": macro_test(rows),
        "per_class": classes,
        "test_pooled": pooled_class_test(rows),
        "test_description": "CMIM − image_only on the macro AUC paired by seed (two-sided "
        "Wilcoxon signed-rank; paired t-test); pooled: Wilcoxon over (seed, class) pairs",
        "figures": draw_figures(out, sections) if sections else [],
    }
    write_json(out / "results.json", result)
    return result


def draw_figures(out: Path, sections: Mapping[ClsCell, Mapping[str, Any]]) -> list[str]:
    """ROC curves (first seed of each method) and CMIM's text–image agreement figure."""
    from lococo.viz.cmim_cls import draw_roc

    seed = min(c.seed for c in sections)
    runs = {c.method: cell_dir(out, c) for c in sections if c.seed == seed}
    figures = []
    title = f"ROC curves from the image alone, seed {seed}"
    if draw_roc(runs, out / "figures" / "roc.png", title) is not None:
        figures.append("figures/roc.png")
    if REFERENCE in runs and agreement_figure(runs[REFERENCE], out / "figures" / "agreement.png"):
        figures.append("figures/agreement.png")
    return figures


def agreement_figure(run: Path, path: Path) -> bool:
    """Draw a CMIM run's text–image agreement figure at ``path``; False when there is none."""
    from lococo.cmim.cls_evaluate import agreement_maps
    from lococo.viz.cmim_cls import draw_agreement

    maps = agreement_maps(RunDir(run))
    if maps is None:
        return False
    draw_agreement(maps, path)
    return True


# --------------------------------------------------------------------------- findings


def auc_text(mean: Any, std: Any = None, seeds: int = 2) -> str:
    """``0.793 ± 0.004`` (the std only with more than one seed)."""
    if not isinstance(mean, int | float) or not math.isfinite(mean):
        return "–"
    text = f"{mean:.3f}"
    if seeds > 1 and isinstance(std, int | float) and math.isfinite(std):
        text += f" ± {std:.3f}"
    return text


def findings(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Which of table 8.1's findings hold: every method well above chance (macro AUC ≥ 0.5 +
    :data:`WELL_ABOVE`), and CMIM ahead of the image-only ResNet (higher mean macro AUC;
    significant when the paired t-test over seeds gives p < :data:`ALPHA`), with the classes
    where CMIM is ahead on every seed."""
    out: list[dict[str, Any]] = []
    summary = {e["method"]: e for e in results.get("summary") or []}
    if summary:
        low = min(summary.values(), key=lambda e: e["auc_mean"])
        out.append(
            {
                "finding": "both models well above chance (AUC 0.5)",
                "holds": low["auc_mean"] >= 0.5 + WELL_ABOVE,
                "significant": None,
                "evidence": f"lowest mean macro AUC {low['auc_mean']:.3f} ({low['method']})",
            }
        )
    test = results.get("test")
    if REFERENCE in summary and BASELINE in summary and test:
        diff = summary[REFERENCE]["auc_mean"] - summary[BASELINE]["auc_mean"]
        t_p = test.get("t_p")
        ahead = [
            r["class"]
            for r in results.get("per_class") or []
            if r.get("n") and r.get("wins") == r["n"]
        ]
        behind = [
            r["class"]
            for r in results.get("per_class") or []
            if r.get("n") and r.get("losses") == r["n"]
        ]
        out.append(
            {
                "finding": "CMIM ahead of the image-only ResNet (thesis: 0.793 vs 0.785)",
                "holds": diff > 0,
                "significant": bool(
                    diff > 0 and t_p is not None and math.isfinite(t_p) and t_p < ALPHA
                ),
                "evidence": f"{diff:+.3f} macro AUC over {test['n']} seeds "
                f"(wins {test['wins']}/{test['n']}, Wilcoxon p={_p(test.get('p'))}, "
                f"paired t p={_p(t_p)}); ahead on every seed: {', '.join(ahead) or 'none'}; "
                f"behind on every seed: {', '.join(behind) or 'none'}",
            }
        )
    return out


def _p(p: Any) -> str:
    return "n/a" if p is None or p != p else f"{p:.2g}"


# --------------------------------------------------------------------------- main job

#: Synthetic chest X-rays of the main job per profile: (reports, image size). The quick one
#: keeps the classification share of ``lococo run`` within 2 minutes on 2 CPU cores.
MAIN_JOB_DATA = {"quick": (400, 64), "paper": (3955, 224)}
#: The methods of the main job: table 8.1's two columns that need no captioning model.
MAIN_JOB_METHODS = CLS_METHODS


def main_job_study(
    out: Path,
    *,
    profile: str,
    seed: int,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
    on_cell: Any = None,
) -> dict[str, Any]:
    """``lococo run``'s classification step: synthetic X-rays (once) under
    ``out/data/cxr``, then the table 8.1 study of CMIM and the image-only ResNet with one seed
    under ``out/cmim_cls``; returns the study's ``results.json`` content."""
    from lococo.data.cxr.synth import synth_cxr

    root = out / "data" / "cxr"
    if not (root / "synth_cxr.json").exists():
        reports, size = MAIN_JOB_DATA[profile]
        synth_cxr(root, seed=seed, reports=reports, image_size=size, overwrite=True,
                  progress=progress)  # fmt: skip
    spec = ClsStudySpec(
        data=str(root),
        methods=MAIN_JOB_METHODS,
        seeds=(seed,),
        profile=profile,
        overrides=dict(overrides or {}),
    )
    return run_cls_study(spec, out / "cmim_cls", progress=progress, on_cell=on_cell)
