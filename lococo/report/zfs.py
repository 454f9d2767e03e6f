"""Report sections of ZFS runs and studies (thesis ch. 4, app. A)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lococo.report.model import (
    Block,
    Cell,
    Code,
    Document,
    Image,
    Link,
    Paragraph,
    Section,
    Table,
    fmt,
    key_value_table,
    mean_std,
    records_table,
)

#: Captions of the figures the ZFS commands write, by file stem (others use their stem).
FIGURE_CAPTIONS = {
    "heatmaps": "MI heatmaps (thesis fig. 4.4)",
    "heatmap_grid": "MI heatmaps across models (thesis fig. 4.4)",
    "parts_f1_vs_zsl": "Parts F1 vs ZSL top-1 (thesis fig. 4.2)",
    "local_loss_gain": "Relative ZSL gain of the local losses over the plain models "
    "(thesis fig. 4.3)",
    "tre_ratio_vs_zsl": "TRE ratio vs ZSL top-1; lower TRE ratio is better (thesis fig. 4.5)",
    "avg_repr_vs_avg_pred": "Averaging representations vs averaging predictions "
    "(thesis figs. 4.6, A.6)",
    "parts_ratio_correlations": "Pearson r of the parts ratio with attribute similarity and "
    "SSIM per model (thesis fig. A.4, right)",
    "parts_ratio": "Parts ratio vs attribute similarity and SSIM (thesis fig. A.4, left)",
    "similarity": "Parts ratio vs attribute similarity and SSIM (thesis fig. A.4, left)",
    "parts_ratio_similarity": "Parts ratio vs attribute similarity and SSIM "
    "(thesis fig. A.4, left)",
    "receptive_field": "Small vs big receptive field (thesis figs. A.5, A.7)",
    "pooling": "Average representations vs average predictions, small and big receptive "
    "field (thesis figs. 4.6, A.5)",
    "parts_f1": "Parts F1 per part",
    "per_part_f1": "Parts F1 per part",
}

PRETRAIN_KEYS = (
    "method",
    "local_loss",
    "encoder",
    "image_size",
    "epochs",
    "steps",
    "train_images",
    "seen_classes",
    "fit_seconds",
    "resumed_from",
)
ZSL_KEYS = ("top1", "top1_untrained", "top1_sample", "chance", "seen", "unseen", "harmonic")
ANALYSIS_KEYS = (
    "parts_f1",
    "parts_f1_untrained",
    "parts_gt",
    "parts_f1_receptive_field",
    "parts_f1_untrained_receptive_field",
    "parts_f1_stride_cell",
    "parts_f1_untrained_stride_cell",
    "tre",
    "tre_random",
    "tre_ratio",
    "tre_random_class",
    "tre_random_image",
    "tre_ratio_image",
    "tre_ratio_untrained",
    "parts_ratio_mean",
    "parts_ratio_corr_attr",
    "parts_ratio_corr_attr_p",
    "parts_ratio_corr_ssim",
    "parts_ratio_corr_ssim_p",
    "pairs",
    "zsl_avg_repr",
    "zsl_avg_pred",
)
ANALYSIS_TABLES = ("pooling", "parts_f1_per_part")
ANALYSIS_SKIP = ("figures",)  # the figures are shown from figures/*.png
#: Metrics shown (mean ± std) in study tables when present, in this order.
STUDY_METRICS = (
    "top1",
    "top1_untrained",
    "harmonic",
    "parts_f1",
    "parts_f1_untrained",
    "tre_ratio",
    "tre_ratio_untrained",
    "zsl_avg_repr",
    "zsl_avg_pred",
    "zsl_small_avg_repr",
    "zsl_small_avg_pred",
    "parts_ratio_corr_attr",
    "parts_ratio_corr_ssim",
)
ZSL_CAPTION = "Zero-shot top-1 on unseen classes (per-class mean and per-sample); GZSL seen, "
ZSL_CAPTION += "unseen and harmonic mean."


def caption(path: Path) -> str:
    """The thesis caption of a known figure file, else its stem in words."""
    return FIGURE_CAPTIONS.get(path.stem, path.stem.replace("_", " "))


def figure_blocks(directory: Path) -> list[Block]:
    """Every ``*.png`` in ``directory`` (sorted by name) with its caption."""
    if not directory.is_dir():
        return []
    return [Image(p, caption(p)) for p in sorted(directory.glob("*.png")) if p.is_file()]


def figures_section(directory: Path, title: str = "Figures") -> list[Section]:
    blocks = figure_blocks(directory)
    return [Section(title, blocks)] if blocks else []


# --------------------------------------------------------------------------- runs


def run_document(root: Path, results: Mapping[str, Any]) -> Document:
    """A ZFS run: configuration, ZSL, analysis, figures."""
    sections = [_config_section(root, results.get("pretrain") or {})]
    if "zsl" in results:
        sections.append(Section("Zero-shot evaluation", [zsl_table(results["zsl"])]))
    if results.get("analysis"):
        sections.append(Section("Analysis", analysis_blocks(results["analysis"])))
    sections += figures_section(root / "figures")
    return Document(f"ZFS run: {root.resolve().name}", sections)


def _config_section(root: Path, pretrain: Mapping[str, Any]) -> Section:
    items = {k: pretrain[k] for k in PRETRAIN_KEYS if k in pretrain}
    blocks: list[Block] = [key_value_table(items, "Pretraining")] if items else []
    config = root / "config.yaml"
    if config.is_file():
        blocks.append(Code("config.yaml", config.read_text(errors="replace"), "config.yaml"))
    if not blocks:
        blocks.append(Paragraph("No pretraining section in results.json."))
    return Section("Configuration", blocks)


def zsl_table(zsl: Mapping[str, Any]) -> Table:
    return records_table([zsl], [k for k in ZSL_KEYS if k in zsl], ZSL_CAPTION)


def analysis_blocks(analysis: Mapping[str, Any]) -> list[Block]:
    """Scalar metrics (known ones first), pooling, per-part F1, then other nested sections."""
    known = {k: analysis[k] for k in ANALYSIS_KEYS if k in analysis}
    nested = {k: v for k, v in analysis.items() if isinstance(v, Mapping)}
    extra = {
        k: v
        for k, v in analysis.items()
        if k not in known and k not in nested and k not in ANALYSIS_SKIP
    }
    blocks: list[Block] = [key_value_table({**known, **extra}, "Locality and compositionality")]
    if isinstance(analysis.get("pooling"), Mapping):
        blocks.append(pooling_table(analysis["pooling"]))
    if isinstance(analysis.get("parts_f1_per_part"), Mapping):
        rows: list[list[Cell]] = [
            [str(k), fmt(v)] for k, v in analysis["parts_f1_per_part"].items()
        ]
        blocks.append(Table(["part", "F1"], rows, "Parts F1 per part"))
    for key, value in nested.items():
        if key not in ANALYSIS_TABLES:
            blocks.append(key_value_table(value, key.replace("_", " ")))
    return blocks


POOLING_NAMES = {
    "stage": "stage",
    "rf": "receptive field",
    "shape": "feature shape",
    "avg_repr": "avg. representations",
    "avg_pred": "avg. predictions",
}


def pooling_table(pooling: Mapping[str, Any]) -> Table:
    """One row per feature size (``small``/``big``): stage, size, ZSL of both poolings."""
    entries = {k: v for k, v in pooling.items() if isinstance(v, Mapping)}
    keys = list(dict.fromkeys(k for entry in entries.values() for k in entry))
    rows: list[list[Cell]] = [
        [str(name)] + [fmt(entry.get(k), k) for k in keys] for name, entry in entries.items()
    ]
    return Table(
        ["features", *(POOLING_NAMES.get(k, k) for k in keys)],
        rows,
        "ZSL top-1 from local features: average representations vs average predictions",
    )


# --------------------------------------------------------------------------- studies


def present_metrics(rows: Sequence[Mapping[str, Any]], suffix: str = "_mean") -> list[str]:
    """The :data:`STUDY_METRICS` that some row has a value for (as ``<metric><suffix>``)."""
    return [m for m in STUDY_METRICS if any(r.get(f"{m}{suffix}") is not None for r in rows)]


def summary_table(
    summary: Sequence[Mapping[str, Any]], untrained: Sequence[Mapping[str, Any]] = ()
) -> Table:
    """One row per model × local loss × encoder: mean ± std over seeds; then the ``untrained``
    rows (the encoders at initialisation, :func:`lococo.zfs.untrained.untrained_summary`)."""
    summary = [*summary, *untrained]
    metrics = present_metrics(summary)
    rows: list[list[Cell]] = [
        [fmt(r.get("model")), fmt(r.get("local_loss")), fmt(r.get("encoder")), fmt(r.get("seeds"))]
        + [mean_std(r, m) for m in metrics]
        for r in summary
    ]
    return Table(
        ["model", "local loss", "encoder", "seeds", *metrics],
        rows,
        "Mean ± std over seeds (top1: per-class ZSL top-1 on unseen classes)",
    )


def chance_paragraph(rows: Sequence[Mapping[str, Any]]) -> Paragraph | None:
    levels = list(dict.fromkeys(fmt(r["chance"]) for r in rows if "chance" in r))
    if not levels:
        return None
    return Paragraph(f"Chance level (ZSL top-1): {', '.join(levels)}.")


def cells_table(root: Path, cells: Sequence[Mapping[str, Any]]) -> Table:
    """Per-cell results, each cell name linking to its own report when rendered."""
    metrics = present_metrics(cells, suffix="")
    rows: list[list[Cell]] = []
    for cell in cells:
        name = str(cell.get("cell", "?"))
        href = f"cells/{name}/report.html"
        first: Cell = Link(name, href) if (root / href).is_file() else name
        rest = [fmt(cell.get(k)) for k in ("model", "local_loss", "encoder", "seed")]
        rows.append([first, *rest, *(fmt(cell.get(m), m) for m in metrics)])
    return Table(["cell", "model", "local loss", "encoder", "seed", *metrics], rows, "Cells")


def claims_section(
    cells: Sequence[Mapping[str, Any]], summary: Sequence[Mapping[str, Any]]
) -> Section:
    """The thesis' claims tested on a study's cells and summary (:mod:`lococo.zfs.claims`)."""
    from lococo.zfs.claims import CLAIM_COLUMNS, claims_rule, evaluate_claims

    claims = [c.as_dict() for c in evaluate_claims(cells, summary)]
    table = records_table(claims, CLAIM_COLUMNS, "Claims of thesis ch. 4 on this study")
    return Section("Claims", [Paragraph(claims_rule()), table])


def study_sections(root: Path, results: Mapping[str, Any]) -> list[Section]:
    """Spec, summary, claims, figures and cells of a study in ``root``."""
    summary = results.get("summary") or []
    blocks: list[Block] = [summary_table(summary, results.get("untrained") or [])]
    chance = chance_paragraph(summary)
    if chance is not None:
        blocks.insert(0, chance)
    sections = [
        Section("Study", [key_value_table(results.get("study") or {}, "Specification")]),
        Section("Summary", blocks),
        claims_section(results.get("cells") or [], summary),
    ]
    sections += figures_section(root / "figures")
    sections.append(Section("Cells", [cells_table(root, results.get("cells") or [])]))
    return sections


def study_document(root: Path, results: Mapping[str, Any]) -> Document:
    return Document(f"ZFS study: {root.resolve().name}", study_sections(root, results))
