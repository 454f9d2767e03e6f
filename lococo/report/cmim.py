"""Report sections of CMIM segmentation runs and studies (thesis ch. 8, table 8.2)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lococo.report.model import (
    MISSING,
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
)

SECTION = "cmim_seg"
TRAIN_SECTION = "cmim_seg_train"
MODALITY_NAMES = {"flair": "FLAIR", "t1": "T1", "t1c": "T1c", "t2": "T2", "all": "all four"}
METHOD_NAMES = {
    "cmim": "CMIM",
    "hemis": "HeMIS",
    "mean": "Mean",
    "mlp": "MLP",
    "single": "single-modality U-Net",
    "all": "four-modality U-Net",
}
TRAIN_KEYS = (
    "method",
    "modality",
    "epochs",
    "steps",
    "train_cases",
    "val_cases",
    "test_cases",
    "train_slices",
    "parameters",
    "fit_seconds",
    "resumed_from",
)
TABLE_CAPTION = (
    "Table 8.2: Dice (%) of the enhancing tumour with one modality at test time "
    "(and all four), mean ± std over seeds"
)


def percent(value: Any, std: Any = None, seeds: int = 1) -> str:
    """Dice in % (1 decimal), with ``± std`` when there is more than one seed."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    text = f"{100 * value:.1f}"
    if seeds > 1 and isinstance(std, int | float) and math.isfinite(std):
        text += f" ± {100 * std:.1f}"
    return text


def _modality(name: str) -> str:
    return MODALITY_NAMES.get(name, name)


def _method(name: str) -> str:
    return METHOD_NAMES.get(name, name)


# --------------------------------------------------------------------------- runs


def run_document(root: Path, results: Mapping[str, Any]) -> Document:
    """A CMIM segmentation run: configuration and training, Dice per test-time input, figures."""
    train = results.get(TRAIN_SECTION) or {}
    blocks: list[Block] = []
    items = {k: train[k] for k in TRAIN_KEYS if train.get(k) is not None}
    if items:
        blocks.append(key_value_table(items, "Training"))
    config = root / "config.yaml"
    if config.is_file():
        blocks.append(Code("config.yaml", config.read_text(errors="replace"), "config.yaml"))
    sections = [Section("Configuration", blocks or [Paragraph("No training section yet.")])]
    section = results.get(SECTION) or {}
    if section.get("dice"):
        rows: list[list[Cell]] = [
            [_modality(m), percent(v)] for m, v in section["dice"].items() if v is not None
        ]
        if section.get("empty_dice") is not None:
            rows.append(["empty prediction", percent(section["empty_dice"])])
        sections.append(
            Section(
                "Evaluation",
                [Table(["test-time input", "Dice (%)"], rows, "Dice of the enhancing tumour")],
            )
        )
    sections += figure_sections(root / "figures")
    title = f"CMIM segmentation run: {root.resolve().name}"
    return Document(title, sections)


def figure_sections(directory: Path, title: str = "Figures") -> list[Section]:
    if not directory.is_dir():
        return []
    blocks: list[Block] = [
        Image(p, p.stem.replace("_", " ")) for p in sorted(directory.glob("*.png"))
    ]
    return [Section(title, blocks)] if blocks else []


# --------------------------------------------------------------------------- studies


def study_methods(results: Mapping[str, Any]) -> list[str]:
    methods = (results.get("study") or {}).get("methods") or []
    return [str(m) for m in methods]


def dice_table(summary: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> Table:
    """Table 8.2 from a study summary: rows test-time modality, columns methods."""
    rows: list[list[Cell]] = []
    for entry in summary:
        row: list[Cell] = [_modality(str(entry.get("modality")))]
        for method in methods:
            seeds = int(entry.get(f"{method}_seeds") or 0)
            row.append(percent(entry.get(f"{method}_mean"), entry.get(f"{method}_std"), seeds))
        rows.append(row)
    return Table(["test-time input", *(_method(m) for m in methods)], rows, TABLE_CAPTION)


def thesis_table() -> Table:
    from lococo.cmim.study import THESIS_TABLE

    methods = list(next(iter(THESIS_TABLE.values())))
    rows: list[list[Cell]] = [
        [_modality(m), *(f"{values[k]:.2f}" for k in methods)] for m, values in THESIS_TABLE.items()
    ]
    return Table(
        ["test-time input", *(_method(m) for m in methods)],
        rows,
        "The thesis' table 8.2 on BRATS-2015 for comparison (Dice %; HeMIS, Mean and MLP "
        "from Havaei et al. 2016)",
    )


def tests_table(tests: Sequence[Mapping[str, Any]], description: str) -> Table:
    rows: list[list[Cell]] = [
        [
            _modality(str(t.get("modality"))),
            f"{_method(str(t.get('method')))} vs {_method(str(t.get('versus')))}",
            fmt(t.get("n")),
            percent(t.get("mean_diff")),
            f"{t.get('wins', 0)}/{t.get('losses', 0)}",
            fmt(t.get("p"), "p"),
        ]
        for t in tests
    ]
    return Table(
        ["test-time input", "comparison", "pairs", "mean diff. (Dice %)", "wins/losses", "p"],
        rows,
        f"Paired tests: {description}",
    )


def findings_table(findings: Sequence[Mapping[str, Any]]) -> Table:
    rows: list[list[Cell]] = [
        [
            str(f.get("finding")),
            fmt(f.get("holds")),
            fmt(f.get("significant")),
            str(f.get("evidence", "")),
        ]
        for f in findings
    ]
    return Table(
        ["finding of table 8.2", "holds here", "significant (p < 0.05)", "evidence"],
        rows,
        "Findings on this data (ahead: higher mean Dice over seeds; significant: the paired "
        "test against every baseline)",
    )


def cells_table(root: Path, cells: Sequence[Mapping[str, Any]]) -> Table:
    from lococo.cmim.study import TEST_MODALITIES

    rows: list[list[Cell]] = []
    for cell in cells:
        name = str(cell.get("cell", "?"))
        href = f"cells/{name}/report.html"
        first: Cell = Link(name, href) if (root / href).is_file() else name
        dice = [percent(cell.get(f"dice_{m}")) for m in TEST_MODALITIES]
        rows.append([first, fmt(cell.get("method")), fmt(cell.get("seed")), *dice])
    columns = ["cell", "method", "seed", *(f"Dice {_modality(m)}" for m in TEST_MODALITIES)]
    return Table(columns, rows, "Cells (Dice %)")


def summary_blocks(results: Mapping[str, Any]) -> list[Block]:
    """Table 8.2, the findings, the paired tests and the thesis' numbers."""
    from lococo.cmim.study import findings

    blocks: list[Block] = [dice_table(results.get("summary") or [], study_methods(results))]
    found = findings(results)
    if found:
        blocks.append(findings_table(found))
    if results.get("tests"):
        blocks.append(tests_table(results["tests"], str(results.get("test", ""))))
    blocks.append(thesis_table())
    return blocks


def study_sections(root: Path, results: Mapping[str, Any]) -> list[Section]:
    spec = {k: v for k, v in (results.get("study") or {}).items() if k != "overrides"}
    spec.update(
        {
            f"override {k}": v
            for k, v in ((results.get("study") or {}).get("overrides") or {}).items()
        }
    )
    sections = [
        Section("Study", [key_value_table(spec, "Specification")]),
        Section("Table 8.2", summary_blocks(results)),
    ]
    sections += figure_sections(root / "figures", "Overlays")
    sections.append(Section("Cells", [cells_table(root, results.get("cells") or [])]))
    return sections


def study_document(root: Path, results: Mapping[str, Any]) -> Document:
    return Document(
        f"CMIM segmentation study: {root.resolve().name}", study_sections(root, results)
    )


def is_study(results: Mapping[str, Any]) -> bool:
    return (results.get("study") or {}).get("system") == SECTION


def main_sections(root: Path, value: Any) -> list[Section]:
    """The main job's CMIM section: table 8.2 and findings of ``DIR/cmim``, with its figures."""
    from lococo.report.render import load_results

    study_dir = root / "cmim"
    blocks: list[Block] = []
    if (study_dir / "results.json").is_file():
        blocks += summary_blocks(load_results(study_dir))
        if (study_dir / "report.html").is_file():
            blocks.append(
                Paragraph("Full study report:", Link("cmim/report.html", "cmim/report.html"))
            )
    else:
        blocks.append(Paragraph("The CMIM study has not run yet."))
    title = "CMIM: segmentation with one MRI modality at test time (thesis ch. 8)"
    return [Section(title, blocks), *figure_sections(study_dir / "figures", "CMIM overlays")]
