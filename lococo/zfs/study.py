"""The ZFS study grid: pretrain -> evaluate for every (method, local loss, encoder, seed) cell.

Cells run one after another in this process (``local``), or as independent jobs through
submitit (``slurm`` on a cluster; ``submitit-local`` runs the same job path as local
subprocesses). Finished cells are skipped, interrupted ones resume from their checkpoint, so
a killed study continues where it stopped. The summary (mean and std over seeds) is written
to ``STUDY/summary.csv`` and ``STUDY/results.json``. The grid machinery (cell directories,
skipping, launchers, summaries over seeds) is :mod:`lococo.study`; this module is its ZFS client.
"""

from __future__ import annotations

import functools
import itertools
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lococo.config.loading import load_config, to_dict
from lococo.config.validation import config_changes, describe_changes
from lococo.engine.run_dir import RunDir
from lococo.errors import ConfigError, LococoError
from lococo.io import write_json
from lococo.study.runner import (
    LAUNCHERS,
    CellsFailed,
    cell_dir,
    parse_list,
    run_grid,
    write_csv,
)
from lococo.study.stats import summarize_groups
from lococo.zfs.claims import evaluate_claims
from lococo.zfs.config import CMDIM_BASES, LOCAL_LOSSES, METHODS, ZFSConfig, check_zfs_config
from lococo.zfs.data import load_zsl_for
from lococo.zfs.untrained import untrained_row, untrained_summary

__all__ = ["LAUNCHERS", "Cell", "StudySpec", "grid", "parse_list", "run_study", "summarize"]
METRICS = ("top1", "top1_sample", "seen", "unseen", "harmonic")
#: Per-cell measures of ``lococo zfs analyze`` carried into the summary (None when absent).
ANALYSIS_METRICS = (
    "parts_f1",
    "tre",
    "tre_random",
    "tre_ratio",
    "tre_ratio_image",
    "parts_ratio_mean",
    "parts_ratio_corr_attr",
    "parts_ratio_corr_ssim",
    "zsl_avg_repr",
    "zsl_avg_pred",
    "zsl_small_avg_repr",
    "zsl_small_avg_pred",
)


@dataclass(frozen=True)
class Cell:
    """One point of the grid; ``overrides`` are method-specific keys (e.g. CMDIM's ``p``)."""

    method: str
    local_loss: str
    encoder: str
    seed: int
    variant: str = ""
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def model(self) -> str:
        return f"{self.method}{self.variant}"

    @property
    def name(self) -> str:
        return f"{self.model}-{self.local_loss}-{self.encoder}-s{self.seed}"


@dataclass
class StudySpec:
    data: str
    methods: Sequence[str] = METHODS
    local_losses: Sequence[str] = ("none",)
    encoders: Sequence[str] = ("basic",)
    seeds: Sequence[int] = (0,)
    cmdim_p: Sequence[float] = (1.0, 0.5, 0.1)
    #: CMDIM base models to compare (``method.base``); empty: the profile's, names unchanged
    cmdim_bases: Sequence[str] = ()
    profile: str = "quick"
    config_file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    analyze: bool = True


def grid(spec: StudySpec) -> list[Cell]:
    """Every cell of the study; CMDIM expands into one model per matching probability ``p``
    (and per base model in ``cmdim_bases``: ``cmdim_dim_p0.5``, ``cmdim_twopass_p0.5``)."""
    for method in spec.methods:
        if method not in METHODS:
            raise LococoError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    for base in spec.cmdim_bases:
        if base not in CMDIM_BASES:
            raise LococoError(f"unknown CMDIM base {base!r}; choose from {', '.join(CMDIM_BASES)}")
    for loss in spec.local_losses:
        if loss not in LOCAL_LOSSES:
            raise LococoError(f"unknown local loss {loss!r}; choose from {', '.join(LOCAL_LOSSES)}")
    cells = []
    for method, loss, encoder, seed in itertools.product(
        spec.methods, spec.local_losses, spec.encoders, spec.seeds
    ):
        if method == "cmdim":
            bases = [(f"_{b}", (("method.base", b),)) for b in spec.cmdim_bases] or [("", ())]
            for (base, base_keys), p in itertools.product(bases, spec.cmdim_p):
                keys = (*base_keys, ("method.p", float(p)))
                cells.append(Cell(method, loss, encoder, seed, f"{base}_p{p:g}", keys))
        else:
            cells.append(Cell(method, loss, encoder, seed))
    return cells


def cell_config(spec: StudySpec, cell: Cell) -> ZFSConfig:
    overrides = {
        **spec.overrides,
        "data.path": spec.data,
        "method.name": cell.method,
        "method.local_loss": cell.local_loss,
        "encoder.name": cell.encoder,
        "seed": cell.seed,
        **dict(cell.overrides),
    }
    return load_config(
        ZFSConfig,
        system="zfs",
        profile=spec.profile,
        config_file=spec.config_file,
        overrides=overrides,
    )


def run_cell(spec: StudySpec, cell: Cell, run_path: str, progress: bool = True) -> dict[str, Any]:
    """Pretrain (resuming if interrupted), evaluate and analyse one cell; finished steps are
    skipped."""
    from lococo.zfs.analyze import analyze
    from lococo.zfs.evaluate import evaluate, load_run_config
    from lococo.zfs.pretrain import pretrain

    run = RunDir(Path(run_path))
    if "pretrain" not in run.read_results():
        resume = run.config.exists()
        cfg = load_run_config(run) if resume else cell_config(spec, cell)
        pretrain(cfg, run, resume=resume, progress=progress)
    if "zsl" not in run.read_results():
        evaluate(run, progress=progress)
    if spec.analyze and "analysis" not in run.read_results():
        # analysis.* keys of the study apply to cells pretrained before they were set, too
        analysis = {k: v for k, v in spec.overrides.items() if k.startswith("analysis.")}
        analyze(run, analysis, progress=progress)
    return run.read_results()


def is_done(run: RunDir, spec: StudySpec) -> bool:
    """Whether a cell directory holds its evaluation (and analysis, when the study analyses)."""
    results = run.read_results()
    return "zsl" in results and (not spec.analyze or "analysis" in results)


def run_study(
    spec: StudySpec,
    out: str | Path,
    *,
    launcher: str = "local",
    slurm: dict[str, Any] | None = None,
    progress: bool = True,
    on_cell: Any = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run every unfinished cell, then write the summary; returns ``results.json``'s content.

    ``overwrite`` first removes an existing study in ``out`` (after the settings were
    validated); without it, finished cells computed with other settings are refused."""
    out = Path(out)
    cells = grid(spec)
    for cell in cells:  # fail fast on a bad key before any work
        check_zfs_config(cell_config(spec, cell))
    if cells:  # and on a bad dataset, before the study folder is written
        load_zsl_for(cell_config(spec, cells[0]).data)
    if overwrite:
        remove_study(out)
    reconcile_cells(spec, cells, out)
    try:
        run_grid(
            cells,
            out,
            run_cell=functools.partial(run_cell, spec),
            is_done=functools.partial(is_done, spec=spec),
            launcher=launcher,
            slurm=slurm,
            progress=progress,
            on_cell=on_cell,
        )
    except CellsFailed:
        write_summary(spec, cells, out)  # the finished cells' numbers are kept
        raise
    return write_summary(spec, cells, out)


def remove_study(out: Path) -> None:
    """Delete the study in ``out`` (``--overwrite``); refuse a directory that is not a study."""
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / "cells").is_dir() and not (out / "results.json").is_file():
        raise LococoError(
            f"{out}: --overwrite removes a study directory, and this is not one (no cells/ "
            "or results.json); choose another --out"
        )
    shutil.rmtree(out)


def reconcile_cells(spec: StudySpec, cells: Sequence[Cell], out: Path) -> None:
    """Make every existing cell directory agree with this command's settings, before any work.

    An unfinished cell started with other settings (e.g. a bad override since fixed) is started
    again; a finished cell computed with other settings refuses the whole command (its results
    would be mislabelled). Analysis keys may differ for a cell not analysed yet. A cell whose
    files cannot be read is left to fail on its own when it runs.
    """
    from lococo.zfs.evaluate import load_run_config

    conflicts = []
    for cell in cells:
        run = RunDir(cell_dir(out, cell))
        if not run.config.exists():
            continue
        try:
            results = run.read_results()
            saved = to_dict(load_run_config(run))
        except LococoError:
            continue
        changes = config_changes(saved, to_dict(cell_config(spec, cell)))
        if not changes:
            continue
        if "pretrain" not in results:
            shutil.rmtree(run.path)  # no finished work in it: start this cell afresh
            continue
        if "analysis" not in results and all(k.startswith("analysis.") for k, _, _ in changes):
            continue
        conflicts.append(f"{cell.name} ({describe_changes(changes, 2)})")
    if conflicts:
        raise ConfigError(
            f"{out}: {len(conflicts)} finished cell(s) were computed with other settings than "
            f"this command's: {'; '.join(conflicts[:3])}{' ...' if len(conflicts) > 3 else ''}. "
            "Re-run with the original options, use a new --out, pass --overwrite to start "
            f"afresh, or delete those cells' directories under {out / 'cells'} to recompute them"
        )


def summarize(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample std over seeds of every metric, per (model, local loss, encoder);
    analysis measures average over the seeds that have them (``None`` when none has)."""
    by = ("model", "local_loss", "encoder")
    return summarize_groups(rows, by, METRICS + ANALYSIS_METRICS, carry=("chance",))


def write_summary(spec: StudySpec, cells: Sequence[Cell], out: Path) -> dict[str, Any]:
    rows = []
    for cell in cells:
        try:
            results = RunDir(cell_dir(out, cell)).read_results()
        except LococoError:  # reported when the cell ran; the summary keeps the others
            continue
        if "zsl" not in results:
            continue
        zsl = results["zsl"]
        rows.append(
            {
                "cell": cell.name,
                "model": cell.model,
                "method": cell.method,
                "local_loss": cell.local_loss,
                "encoder": cell.encoder,
                "seed": cell.seed,
                "chance": zsl["chance"],
                **{m: zsl[m] for m in METRICS},
                **analysis_row(results.get("analysis")),
                **untrained_row(results),
            }
        )
    summary = summarize(rows)
    write_csv(out / "summary.csv", summary)
    write_csv(out / "cells.csv", rows)  # the per-seed values, for tests across seeds
    untrained = untrained_summary(rows)  # the encoders at initialisation, beside the summary
    dataset = str(spec.overrides.get("data.format", "cub"))
    figures = study_figures(out, rows, summary, dataset, untrained) if rows else []
    result = {
        "study": {**asdict(spec), "cells": len(cells)},
        "cells": rows,
        "summary": summary,
        "claims": [c.as_dict() for c in evaluate_claims(rows, summary)],
        "untrained": untrained,
        "figures": figures,
    }
    write_json(out / "results.json", result)
    return result


def analysis_row(analysis: dict[str, Any] | None) -> dict[str, Any]:
    """The summary measures of a cell's ``analysis`` section (``{}`` when not analysed)."""
    if not analysis:
        return {}
    row = {m: analysis.get(m) for m in ANALYSIS_METRICS if not m.startswith("zsl_small")}
    small = analysis.get("pooling", {}).get("small", {})
    row["zsl_small_avg_repr"] = small.get("avg_repr")
    row["zsl_small_avg_pred"] = small.get("avg_pred")
    return row


def study_figures(
    out: Path,
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    dataset: str,
    untrained: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Draw the thesis' study figures (figs. 4.2–4.6, A.4, A.5); returns their relative paths."""
    from lococo.zfs.study_figures import draw_study_figures

    return draw_study_figures(out, rows, summary, dataset, untrained=untrained)
