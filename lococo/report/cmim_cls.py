"""Report sections of CMIM classification runs and studies (thesis 8.4.2, table 8.1)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lococo.report.model import (
    Block,
    Cell,
    Code,
    Document,
    Link,
    Paragraph,
    Section,
    Table,
    fmt,
    key_value_table,
)

SECTION = "cmim_cls"
TRAIN_SECTION = "cmim_cls_train"
METHOD_NAMES = {"cmim": "CMIM", "image_only": "ResNet (image only)", "tienet": "TieNet"}
TRAIN_KEYS = (
    "method",
    "labels",
    "epochs",
    "steps",
    "patients",
    "images",
    "dropped",
    "view_list",
    "rebalance",
    "vocabulary",
    "glove_dim",
    "glove_coverage",
    "image_weights",
    "parameters",
    "fit_seconds",
    "resumed_from",
)


def _method(name: str) -> str:
    return METHOD_NAMES.get(name, name)


def _auc(value: Any, std: Any = None, seeds: int = 1) -> str:
    from lococo.cmim.cls_study import auc_text

    return auc_text(value, std, seeds)


def is_run(results: Mapping[str, Any]) -> bool:
    return SECTION in results or TRAIN_SECTION in results


def is_study(results: Mapping[str, Any]) -> bool:
    return (results.get("study") or {}).get("system") == SECTION


def figure_sections(directory: Path, title: str = "Figures") -> list[Section]:
    from lococo.report.cmim import figure_sections as sections

    return sections(directory, title)


def run_document(root: Path, results: Mapping[str, Any]) -> Document:
    """A classification run: configuration and training, AUC per class, ROC and agreement."""
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
    if section.get("auc") is not None:
        positives = section.get("positives") or {}
        rows: list[list[Cell]] = [
            [name, _auc(value), fmt(positives.get(name))] for name, value in section["auc"].items()
        ]
        rows.append(["macro", _auc(section.get("auc_macro")), ""])
        blocks = [
            Table(
                ["class", "ROC-AUC", "positive test images"],
                rows,
                f"ROC-AUC from the image alone ({section.get('test_images')} test images)",
            )
        ]
        if section.get("skipped"):
            blocks.append(
                Paragraph(f"No AUC (one outcome only in the test set): {section['skipped']}")
            )
        sections.append(Section("Evaluation", blocks))
    sections += figure_sections(root / "figures")
    return Document(f"CMIM classification run: {root.resolve().name}", sections)


def auc_table(results: Mapping[str, Any]) -> Table:
    """Table 8.1 from a study: rows methods, macro AUC mean ± std over seeds."""
    rows: list[list[Cell]] = [
        [_method(e["method"]), fmt(e["seeds"]), _auc(e["auc_mean"], e["auc_std"], e["seeds"])]
        for e in results.get("summary") or []
    ]
    return Table(
        ["method (image alone at test time)", "seeds", "ROC-AUC (macro)"],
        rows,
        "Table 8.1: ROC-AUC, mean over classes, mean ± std over seeds",
    )


def per_class_table(results: Mapping[str, Any]) -> Table:
    methods = [str(m) for m in (results.get("study") or {}).get("methods") or []]
    rows: list[list[Cell]] = []
    for entry in results.get("per_class") or []:
        row: list[Cell] = [str(entry["class"])]
        row += [_auc(entry.get(f"{m}_mean"), entry.get(f"{m}_std"), 2) for m in methods]
        if entry.get("n"):
            row += [
                f"{entry['diff_mean']:+.3f} ± {entry['diff_std']:.3f}",
                f"{entry['wins']}/{entry['n']}",
            ]
        else:
            row += ["", ""]
        rows.append(row)
    return Table(
        ["class", *(_method(m) for m in methods), "CMIM − image only", "CMIM wins"],
        rows,
        "Per-class ROC-AUC (mean ± std over seeds) and the paired difference per seed",
    )


def tests_table(results: Mapping[str, Any]) -> Table | None:
    rows: list[list[Cell]] = []
    for label, test in (
        ("macro AUC, paired by seed", results.get("test")),
        ("per-class AUC, paired by (seed, class)", results.get("test_pooled")),
    ):
        if not test:
            continue
        rows.append(
            [
                label,
                fmt(test.get("n")),
                f"{test.get('mean_diff', float('nan')):+.3f}",
                f"{test.get('wins', 0)}/{test.get('losses', 0)}",
                fmt(test.get("p"), "p"),
                fmt(test.get("t_p"), "t_p") if "t_p" in test else "",
            ]
        )
    if not rows:
        return None
    return Table(
        ["CMIM vs image only", "pairs", "mean diff.", "wins/losses", "Wilcoxon p", "paired t p"],
        rows,
        str(results.get("test_description", "")),
    )


def findings_table(results: Mapping[str, Any]) -> Table | None:
    from lococo.cmim.cls_study import findings

    found = findings(results)
    if not found:
        return None
    rows: list[list[Cell]] = [
        [str(f["finding"]), fmt(f["holds"]), fmt(f["significant"]), str(f["evidence"])]
        for f in found
    ]
    return Table(
        ["finding of table 8.1", "holds here", "significant (p < 0.05)", "evidence"],
        rows,
        "Findings on this data",
    )


def thesis_table() -> Table:
    from lococo.cmim.cls_study import THESIS_TABLE

    rows: list[list[Cell]] = [[_method(m), f"{v:.3f}"] for m, v in THESIS_TABLE.items()]
    return Table(
        ["method", "AUC"],
        rows,
        "The thesis' table 8.1 on Open-I for comparison (TieNet tests with generated text)",
    )


def summary_blocks(results: Mapping[str, Any]) -> list[Block]:
    blocks: list[Block] = [auc_table(results)]
    for extra in (findings_table(results), tests_table(results)):
        if extra is not None:
            blocks.append(extra)
    if results.get("per_class"):
        blocks.append(per_class_table(results))
    blocks.append(thesis_table())
    return blocks


def cells_table(root: Path, cells: list[Mapping[str, Any]]) -> Table:
    rows: list[list[Cell]] = []
    for cell in cells:
        name = str(cell.get("cell", "?"))
        href = f"cells/{name}/report.html"
        first: Cell = Link(name, href) if (root / href).is_file() else name
        rows.append(
            [first, fmt(cell.get("method")), fmt(cell.get("seed")), _auc(cell.get("auc_macro"))]
        )
    return Table(["cell", "method", "seed", "ROC-AUC (macro)"], rows, "Cells")


def study_document(root: Path, results: Mapping[str, Any]) -> Document:
    spec = {k: v for k, v in (results.get("study") or {}).items() if k != "overrides"}
    spec.update(
        {
            f"override {k}": v
            for k, v in ((results.get("study") or {}).get("overrides") or {}).items()
        }
    )
    sections = [
        Section("Study", [key_value_table(spec, "Specification")]),
        Section("Table 8.1", summary_blocks(results)),
        *figure_sections(root / "figures"),
        Section("Cells", [cells_table(root, results.get("cells") or [])]),
    ]
    return Document(f"CMIM classification study: {root.resolve().name}", sections)


def main_sections(root: Path, value: Any) -> list[Section]:
    """The main job's classification section: table 8.1 and findings of ``DIR/cmim_cls``."""
    from lococo.report.render import load_results

    study_dir = root / "cmim_cls"
    blocks: list[Block] = []
    if (study_dir / "results.json").is_file():
        blocks += summary_blocks(load_results(study_dir))
        if (study_dir / "report.html").is_file():
            blocks.append(
                Paragraph(
                    "Full study report:", Link("cmim_cls/report.html", "cmim_cls/report.html")
                )
            )
    else:
        blocks.append(Paragraph("The CMIM classification study has not run yet."))
    title = "CMIM: chest X-ray classification from the image alone (thesis table 8.1)"
    return [
        Section(title, blocks),
        *figure_sections(study_dir / "figures", "CMIM classification figures"),
    ]
