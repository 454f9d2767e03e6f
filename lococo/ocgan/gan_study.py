"""The OC-GAN ablation study (thesis table 6.4): ablation rows × seeds on the shared runner.

Each row of table 6.4 is one override set (:data:`ABLATIONS`); a cell trains one row with one
seed (resuming an interrupted cell) and evaluates it (``lococo ocgan evaluate``). Cells run on
:func:`lococo.study.runner.run_grid` (finished cells skipped, SLURM through submitit). The
study writes ``summary.csv`` and ``results.json``: per row the mean ± std over seeds of FID,
SceneFID, KID, IS, CA and CA on real crops, the thesis' numbers for the row, and
:func:`findings`: for each ablated row, whether its change against ``full`` goes the thesis'
way (CA and FID separately).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lococo.config.loading import load_config
from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError
from lococo.io import write_json
from lococo.ocgan.gan_config import GANRunConfig, check_gan_config
from lococo.study.runner import cell_dir, run_grid, train_then_evaluate, write_csv
from lococo.study.stats import summarize_groups

SYSTEM = "ocgan"
SECTION = "ocgan"
TRAIN_SECTION = "ocgan_train"

#: Table 6.4's rows as override sets.
ABLATIONS: dict[str, dict[str, Any]] = {
    "full": {},
    "patch_d_1": {"model.patch_d": 1},
    "no_patch_d": {"model.patch_d": 0},
    "no_object_d": {"model.object_d": False},
    "no_boundaries": {"model.boundaries": False},
    "no_sgsm": {"model.sgsm": False},
    "no_object_d_no_sgsm": {"model.object_d": False, "model.sgsm": False},
    "no_perceptual": {"model.perceptual": False},
    "no_perceptual_no_sgsm": {"model.perceptual": False, "model.sgsm": False},
}
#: Table 6.4 of the thesis (COCO-Stuff, 64×64): FID and CA (%) per row.
THESIS_TABLE: dict[str, dict[str, float]] = {
    "full": {"fid": 29.57, "ca": 60.27},
    "patch_d_1": {"fid": 30.54, "ca": 59.86},
    "no_patch_d": {"fid": 33.85, "ca": 62.48},
    "no_object_d": {"fid": 31.62, "ca": 48.03},
    "no_boundaries": {"fid": 30.12, "ca": 59.54},
    "no_sgsm": {"fid": 34.32, "ca": 52.57},
    "no_object_d_no_sgsm": {"fid": 33.15, "ca": 41.50},
    "no_perceptual": {"fid": 31.14, "ca": 57.22},
    "no_perceptual_no_sgsm": {"fid": 36.54, "ca": 47.94},
}
METRICS = ("fid", "scene_fid", "kid", "is_mean", "ca", "ca_real")


@dataclass(frozen=True)
class GANCell:
    ablation: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.ablation}-s{self.seed}"


@dataclass
class GANStudySpec:
    data: str
    sgsm: str
    ablations: Sequence[str] = ("full", "no_object_d_no_sgsm")
    seeds: Sequence[int] = (0, 1)
    profile: str = "quick"
    config_file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    system: str = SYSTEM


def grid(spec: GANStudySpec) -> list[GANCell]:
    for ablation in spec.ablations:
        if ablation not in ABLATIONS:
            raise LococoError(f"unknown ablation {ablation!r}; choose from {', '.join(ABLATIONS)}")
    return [GANCell(a, s) for a in dict.fromkeys(spec.ablations) for s in spec.seeds]


def cell_config(spec: GANStudySpec, cell: GANCell) -> GANRunConfig:
    overrides = {
        **spec.overrides,
        **ABLATIONS[cell.ablation],
        "data.path": spec.data,
        "sgsm_run": spec.sgsm,
        "seed": cell.seed,
    }
    cfg = load_config(
        GANRunConfig,
        system=SYSTEM,
        profile=spec.profile,
        config_file=spec.config_file,
        overrides=overrides,
    )
    check_gan_config(cfg)
    return cfg


def is_done(run: RunDir) -> bool:
    return "ca" in (run.read_results().get(SECTION) or {})


def run_cell(spec: GANStudySpec, cell: GANCell, run_path: str, progress: bool = True) -> Any:
    """Train (resuming an interrupted cell) and evaluate one cell; finished steps are skipped."""
    from lococo.engine.run_dir import open_run
    from lococo.ocgan.gan_evaluate import evaluate_gan
    from lococo.ocgan.gan_train import load_run_config, train_gan

    return train_then_evaluate(
        run_path,
        trained=TRAIN_SECTION,
        new_config=lambda: cell_config(spec, cell),
        saved_config=load_run_config,
        train=lambda cfg, run, resume: train_gan(
            cfg, open_run(run.path, resume=resume), resume=resume, progress=progress
        ),
        evaluate=lambda path: evaluate_gan(path, progress=progress),
        is_done=is_done,
    )


def run_study(
    spec: GANStudySpec,
    out: str | Path,
    *,
    launcher: str = "local",
    slurm: dict[str, Any] | None = None,
    progress: bool = True,
    on_cell: Any = None,
) -> dict[str, Any]:
    """Run every unfinished cell, then write the ablation table; returns ``results.json``."""
    out = Path(out)
    cells = grid(spec)
    for cell in cells:  # a bad key fails before any work
        cell_config(spec, cell)
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


def cell_row(cell: GANCell, results: Mapping[str, Any]) -> dict[str, Any]:
    section = results.get(SECTION) or {}
    train = results.get(TRAIN_SECTION) or {}
    row: dict[str, Any] = {"cell": cell.name, "ablation": cell.ablation, "seed": cell.seed}
    row.update({m: section.get(m) for m in METRICS})
    row["ca_chance"] = section.get("ca_chance")
    row["iterations"] = train.get("iterations")
    row["fit_cpu_seconds"] = train.get("fit_cpu_seconds")
    return row


def write_summary(spec: GANStudySpec, cells: Sequence[GANCell], out: Path) -> dict[str, Any]:
    rows = []
    comparable = True
    for cell in cells:
        results = RunDir(cell_dir(out, cell)).read_results()
        if is_done(RunDir(cell_dir(out, cell))):
            rows.append(cell_row(cell, results))
            comparable = comparable and bool(results[SECTION].get("comparable"))
    summary = summarize_groups(rows, ["ablation"], METRICS, carry=["ca_chance"])
    for entry in summary:
        entry["thesis_fid"] = THESIS_TABLE[entry["ablation"]]["fid"]
        entry["thesis_ca"] = THESIS_TABLE[entry["ablation"]]["ca"]
    write_csv(out / "summary.csv", summary)
    result = {
        "study": {**asdict(spec), "cells": len(cells)},
        "cells": rows,
        "summary": summary,
        "comparable": comparable,
        "findings": findings(summary),
    }
    write_json(out / "results.json", result)
    return result


def findings(summary: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For every ablated row next to ``full``: does removing the component move CA and FID the
    way table 6.4 does? (``holds`` per metric; differences of means over seeds, CA in
    percentage points like the thesis, with the larger of the two rows' std as ``noise``.)"""
    rows = {r["ablation"]: r for r in summary}
    full = rows.get("full")
    if full is None:
        return []
    out = []
    for name, row in rows.items():
        if name == "full":
            continue
        for metric in ("ca", "fid"):
            ours = row.get(f"{metric}_mean")
            base = full.get(f"{metric}_mean")
            if ours is None or base is None:
                continue
            thesis = THESIS_TABLE[name][metric] - THESIS_TABLE["full"][metric]
            scale = 100.0 if metric == "ca" else 1.0  # CA changes in points, as the thesis
            diff = scale * (ours - base)
            noise = scale * max(row.get(f"{metric}_std") or 0.0, full.get(f"{metric}_std") or 0.0)
            out.append(
                {
                    "ablation": name,
                    "metric": metric,
                    "thesis_change": round(thesis, 2),
                    "our_change": round(diff, 4),
                    "noise": round(noise, 4),
                    "holds": (diff > 0) == (thesis > 0) and diff != 0,
                    "beyond_noise": abs(diff) > noise,
                }
            )
    return out


def print_table(result: Mapping[str, Any]) -> None:
    """Table 6.4 as measured (mean ± std over seeds) next to the thesis' numbers."""
    print(f"{'ablation':24s} {'seeds':>5s} {'CA':>15s} {'CA real':>8s} {'FID':>15s} thesis CA/FID")
    for r in result.get("summary") or []:
        ca = f"{r.get('ca_mean', float('nan')):.3f} ± {r.get('ca_std', 0):.3f}"
        fid = f"{r.get('fid_mean', float('nan')):.2f} ± {r.get('fid_std', 0):.2f}"
        print(
            f"{r['ablation']:24s} {r['seeds']:5d} {ca:>15s} {r.get('ca_real_mean', 0):8.3f} "
            f"{fid:>15s} {r['thesis_ca']:.1f}/{r['thesis_fid']:.1f}"
        )
    for f in result.get("findings") or []:
        verdict = "holds" if f["holds"] else "does not hold"
        noise = "" if f["beyond_noise"] else " (within seed noise)"
        print(
            f"{f['ablation']} {f['metric']}: thesis {f['thesis_change']:+.2f}, ours "
            f"{f['our_change']:+.4f} -> {verdict}{noise}"
        )
