"""The study figures of thesis ch. 4 from a study's rows and summary (figs. 4.2–4.6, A.4, A.5)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

Row = dict[str, Any]


def label(row: Row) -> str:
    """``model`` or ``model+loss`` (and ``/encoder`` when not the basic one)."""
    name = row["model"] if row["local_loss"] == "none" else f"{row['model']}+{row['local_loss']}"
    return name if row.get("encoder", "basic") == "basic" else f"{name}/{row['encoder']}"


def _value(row: Row, metric: str) -> float:
    value = row.get(f"{metric}_mean")
    return math.nan if value is None else float(value)


def _has(rows: Sequence[Row], metric: str) -> list[Row]:
    return [r for r in rows if math.isfinite(_value(r, metric))]


def draw_study_figures(
    out: Path,
    rows: list[Row],
    summary: list[Row],
    dataset: str = "cub",
    *,
    untrained: list[Row] | None = None,
) -> list[str]:
    """Write every figure the study's measures allow into ``out/figures``; return their paths.
    ``untrained`` summary rows (:func:`lococo.zfs.untrained.untrained_summary`) are drawn as
    reference points on the parts F1 and TRE ratio scatters, outside the correlation."""
    from lococo.viz.common import save_figure

    base = untrained or []
    drawers: dict[str, Callable[[], Any]] = {
        "parts_f1_vs_zsl.png": lambda: _scatter(
            summary, "parts_f1", "parts F1 (fig. 4.2)", untrained=base
        ),
        "tre_ratio_vs_zsl.png": lambda: _scatter(
            summary, "tre_ratio", "TRE ratio (fig. 4.5)", dataset=dataset, untrained=base
        ),
        "local_loss_gain.png": lambda: _local_loss_gain(summary),
        "avg_repr_vs_avg_pred.png": lambda: _paired(
            summary,
            "zsl_avg_repr",
            "zsl_avg_pred",
            ("average representations", "average predictions"),
        ),
        "receptive_field.png": lambda: _paired(
            summary,
            "zsl_small_avg_repr",
            "zsl_avg_repr",
            ("small RF", "big RF"),
            name=receptive_field_label,
            title=RECEPTIVE_FIELD_TITLE,
        ),
        "parts_ratio_correlations.png": lambda: _correlations(summary),
        "heatmap_grid.png": lambda: _heatmap_grid(out, rows),
    }
    written = []
    for name, draw in drawers.items():
        fig = draw()
        if fig is not None:
            save_figure(fig, out / "figures" / name)
            written.append(f"figures/{name}")
    return written


def _scatter(
    summary: list[Row],
    metric: str,
    xlabel: str,
    dataset: str | None = None,
    untrained: Sequence[Row] = (),
) -> Any:
    from lococo.viz.zfs import scatter_with_r

    rows = _has(summary, metric)
    if len(rows) < 2:
        return None
    reference = {
        label(r).replace("untrained", "untrained encoder"): (_value(r, metric), _value(r, "top1"))
        for r in _has(list(untrained), metric)
    }
    groups = [dataset] * len(rows) if dataset else [r["local_loss"] for r in rows]
    return scatter_with_r(
        [_value(r, metric) for r in rows],
        [_value(r, "top1") for r in rows],
        labels=[label(r) for r in rows],
        groups=groups,
        xlabel=xlabel,
        ylabel="ZSL top-1 (unseen classes)",
        title=f"{xlabel.split(' (')[0]} vs zero-shot accuracy",
        facet=dataset is not None,
        reference=reference,
    )


def _local_loss_gain(summary: list[Row]) -> Any:
    """Fig. 4.3: relative top-1 gain of each local loss over the same model without it."""
    from lococo.viz.zfs import relative_gain

    plain = {(r["model"], r["encoder"]): r for r in summary if r["local_loss"] == "none"}
    extra = {
        (r["model"], r["encoder"], r["local_loss"]): _value(r, "top1")
        for r in summary
        if r["local_loss"] != "none" and (r["model"], r["encoder"]) in plain
    }
    if not extra:
        return None
    keys = sorted({(m, e) for m, e, _ in extra})
    losses = sorted({loss for _, _, loss in extra})
    gains = {
        loss: [
            _gain(extra.get((m, e, loss), math.nan), _value(plain[m, e], "top1")) for m, e in keys
        ]
        for loss in losses
    }
    return relative_gain([label(plain[k]) for k in keys], gains)


def _gain(value: float, base: float) -> float:
    return value / base - 1.0 if base > 0 else math.nan


#: Fig. A.5 compares AlexNet features before and after its last pooling layer; the basic
#: encoder has no pooling, so its bars (last two conv stages) are an extension of the figure.
RECEPTIVE_FIELD_TITLE = "small vs big receptive field (fig. A.5: AlexNet before / after last pool)"
RF_REPLICATION = "A.5: before/after last pool"
RF_EXTENSION = "extension: last two conv stages"


def receptive_field_label(row: Row) -> str:
    """A model's bar label in fig. A.5: a replication (AlexNet) or an extension (no pooling)."""
    kind = RF_REPLICATION if row.get("encoder", "basic") == "alexnet" else RF_EXTENSION
    return f"{label(row)} [{kind}]"


def _paired(
    summary: list[Row],
    a: str,
    b: str,
    names: tuple[str, str],
    name: Callable[[Row], str] = label,
    title: str = "",
) -> Any:
    from lococo.viz.zfs import paired_bars

    rows = [r for r in _has(summary, a) if math.isfinite(_value(r, b))]
    if not rows:
        return None
    return paired_bars(
        [name(r) for r in rows],
        [_value(r, a) for r in rows],
        [_value(r, b) for r in rows],
        labels=names,
        chance=rows[0].get("chance"),
        errors_a=[r.get(f"{a}_std", 0.0) for r in rows],
        errors_b=[r.get(f"{b}_std", 0.0) for r in rows],
        title=title,
    )


def _correlations(summary: list[Row]) -> Any:
    from lococo.viz.zfs import correlation_bars

    rows = _has(summary, "parts_ratio_corr_attr")
    if not rows:
        return None
    return correlation_bars(
        [label(r) for r in rows],
        [_value(r, "parts_ratio_corr_attr") for r in rows],
        [_value(r, "parts_ratio_corr_ssim") for r in rows],
    )


def _heatmap_grid(out: Path, rows: list[Row]) -> Any:
    """Fig. 4.4: the same image pairs scored by every model (plain local loss, first seed)."""
    from lococo.viz.zfs import heatmap_grid
    from lococo.zfs.analyze import HEATMAPS_FILE, load_heatmaps

    first_seed = min(r["seed"] for r in rows)
    chosen = [r for r in rows if r["seed"] == first_seed and r["local_loss"] == "none"] or [
        r for r in rows if r["seed"] == first_seed
    ]
    maps: dict[str, torch.Tensor] = {}
    reference: dict[str, np.ndarray] | None = None
    for row in chosen:
        path = out / "cells" / row["cell"]
        if not (path / HEATMAPS_FILE).exists():
            continue
        heat = load_heatmaps(path)
        if reference is None:
            reference = heat
        same = np.array_equal(heat["index_a"], reference["index_a"]) and np.array_equal(
            heat["index_b"], reference["index_b"]
        )
        if same:
            maps[label(row)] = torch.from_numpy(heat["maps"])
    if reference is None or not maps:
        return None
    return heatmap_grid(
        torch.from_numpy(reference["images_a"]), torch.from_numpy(reference["images_b"]), maps
    )


def study_dataset(results: dict[str, Any], fallback: str) -> str:
    """Dataset label of a study: its ``data.format`` override (``cub`` by default) and, to
    tell apart studies of one format, ``fallback`` (e.g. the study directory's name)."""
    overrides = results.get("study", {}).get("overrides", {})
    return str(overrides.get("data.format", "cub")) + (f" ({fallback})" if fallback else "")


def compare_studies(studies: Sequence[Path], out: Path) -> list[str]:
    """Figs. 4.5 and 4.6 across datasets: one panel / group per study; returns figure paths.

    Each study's ``results.json`` summary is read; studies of the same format are labelled
    by their directory names. ``out/summary.json`` holds the combined rows.
    """
    from lococo.errors import LococoError
    from lococo.io import read_json, write_json
    from lococo.viz.common import save_figure
    from lococo.viz.zfs import paired_bars, scatter_with_r

    loaded = []
    for study in studies:
        path = Path(study) / "results.json"
        if not path.exists():
            raise LococoError(f"{path}: missing; not a study directory")
        results = read_json(path)
        if "summary" not in results:
            raise LococoError(f"{path}: not a study's results (no 'summary')")
        loaded.append((Path(study), results))
    formats = [study_dataset(r, "") for _, r in loaded]
    rows: list[Row] = []
    for (study, results), fmt in zip(loaded, formats, strict=True):
        name = study_dataset(results, study.name if formats.count(fmt) > 1 else "")
        rows += [{**row, "dataset": name} for row in results["summary"]]
    write_json(out / "summary.json", rows)
    written = []
    tre = _has(rows, "tre_ratio")
    if tre:
        fig = scatter_with_r(
            [_value(r, "tre_ratio") for r in tre],
            [_value(r, "top1") for r in tre],
            labels=[label(r) for r in tre],
            groups=[r["dataset"] for r in tre],
            xlabel="TRE ratio (fig. 4.5)",
            ylabel="ZSL top-1 (unseen classes)",
            title="TRE ratio vs zero-shot accuracy per dataset",
            facet=True,
        )
        save_figure(fig, out / "figures" / "tre_ratio_vs_zsl.png")
        written.append("figures/tre_ratio_vs_zsl.png")
    pooled = [r for r in _has(rows, "zsl_avg_repr") if math.isfinite(_value(r, "zsl_avg_pred"))]
    if pooled:
        fig = paired_bars(
            [f"{label(r)} [{r['dataset']}]" for r in pooled],
            [_value(r, "zsl_avg_repr") for r in pooled],
            [_value(r, "zsl_avg_pred") for r in pooled],
            labels=("average representations", "average predictions"),
        )
        save_figure(fig, out / "figures" / "avg_repr_vs_avg_pred.png")
        written.append("figures/avg_repr_vs_avg_pred.png")
    return written
