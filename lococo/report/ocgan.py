"""Report sections of OC-GAN runs: SGSM pretraining (thesis 6.3.1), OC-GAN training and
evaluation (6.4.4–6.4.6), the ablation study (table 6.4) and the main job's OC-GAN part."""

from __future__ import annotations

from collections.abc import Mapping
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
)

SGSM_FIGURE_CAPTIONS = {
    "sgsm_attention": "Where each scene-graph node looks: SGSM attention (eq. 6.3.1) of every "
    "object node over its held-out image, with the object's box",
}
TRAINING_KEYS = (
    "image_encoder",
    "comparable",
    "format",
    "classes",
    "graph_mode",
    "centres",
    "shuffle_pairs",
    "train_scenes",
    "epochs",
    "steps",
    "fit_seconds",
    "resumed_from",
)
SCORES = (("combined", ""), ("local", "_local"), ("global", "_global"))


def retrieval_table(sgsm: Mapping[str, Any]) -> Table:
    """R@1 / R@5 both ways for the combined, local and global similarity, with chance."""
    rows: list[list[Cell]] = []
    for name, suffix in SCORES:
        keys = [f"{d}_r{k}{suffix}" for d in ("g2i", "i2g") for k in (1, 5)]
        if any(key in sgsm for key in keys):
            rows.append([name, *(fmt(sgsm.get(key), key) for key in keys)])
    chance = [fmt(sgsm.get("chance_r1")), fmt(sgsm.get("chance_r5"))]
    rows.append(["chance", *chance, *chance])
    caption = (
        f"Retrieval among {sgsm.get('candidates')} held-out scenes ({sgsm.get('eval_split')}): "
        "every scene graph ranks every image (graph→image) and vice versa; 'combined' ranks "
        "by Sim^L + Sim^G (eq. 6.3.2–6.3.3)."
    )
    return Table(["score", "g2i R@1", "g2i R@5", "i2g R@1", "i2g R@5"], rows, caption)


def sgsm_blocks(root: Path, sgsm: Mapping[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    if sgsm.get("comparable") is False:
        blocks.append(
            Paragraph(
                f"Image encoder '{sgsm.get('image_encoder')}' trained jointly (not the frozen "
                "ImageNet Inception-V3 of the paper): not comparable with published numbers."
            )
        )
    if sgsm.get("shuffle_pairs"):
        blocks.append(
            Paragraph("Control run: trained on mismatched graph/image pairs (should be chance).")
        )
    blocks.append(retrieval_table(sgsm))
    blocks.append(key_value_table({k: sgsm[k] for k in TRAINING_KEYS if k in sgsm}, "Training"))
    for rel in sgsm.get("figures") or []:
        path = root / rel
        if path.is_file():
            blocks.append(Image(path, SGSM_FIGURE_CAPTIONS.get(path.stem, path.stem)))
    return blocks


def sgsm_document(root: Path, results: Mapping[str, Any]) -> Document:
    """An SGSM pretraining run: retrieval, training facts, attention maps, config."""
    sections = [Section("SGSM retrieval (thesis 6.3.1)", sgsm_blocks(root, results["sgsm"]))]
    config = root / "config.yaml"
    if config.is_file():
        text = config.read_text(errors="replace")
        sections.append(Section("Configuration", [Code("config.yaml", text, "config.yaml")]))
    return Document(f"SGSM run: {root.resolve().name}", sections)


# --------------------------------------------------------------------------- OC-GAN runs

GAN_TRAINING_KEYS = (
    "format",
    "classes",
    "image_size",
    "train_scenes",
    "batch_size",
    "epochs",
    "iterations",
    "fit_seconds",
    "fit_cpu_seconds",
    "cpu_seconds_per_iteration",
    "switches",
    "sgsm_run",
    "perceptual",
    "resumed_from",
)
METRIC_ROWS = (
    ("FID", "fid"),
    ("KID", "kid"),
    ("IS (mean)", "is_mean"),
    ("IS (std over splits)", "is_std"),
    ("SceneFID", "scene_fid"),
    ("CA, generated crops", "ca"),
    ("CA, real test crops", "ca_real"),
    ("CA, chance (1 / classes)", "ca_chance"),
    ("CA gap (real − generated)", "ca_gap"),
)


def is_gan_run(results: Mapping[str, Any]) -> bool:
    return "ocgan_train" in results or "ocgan" in results


def is_gan_study(results: Mapping[str, Any]) -> bool:
    return (results.get("study") or {}).get("system") == "ocgan"


def metrics_table(section: Mapping[str, Any]) -> Table:
    """IS, FID, KID, SceneFID and CA of one evaluation (tables 6.1, 6.2)."""
    rows: list[list[Cell]] = [[name, fmt(section.get(key), key)] for name, key in METRIC_ROWS]
    caption = (
        f"{section.get('scenes')} layouts of split '{section.get('split')}', "
        f"{section.get('objects')} objects, {section.get('classes')} classes; extractor "
        f"{section.get('extractor')}, CA classifier {section.get('ca_classifier')}; IS over "
        f"{section.get('is_splits')} splits."
    )
    return Table(["metric", "value"], rows, caption)


def _comparability(section: Mapping[str, Any]) -> list[Block]:
    if section.get("comparable"):
        return []
    return [
        Paragraph(
            f"Not comparable with published numbers: feature extractor "
            f"'{section.get('extractor')}' and/or perceptual network "
            f"'{section.get('perceptual')}' are lococo's substitutes, not the reference "
            "ImageNet networks."
        )
    ]


def _images(root: Path, rels: Any, captions: Mapping[str, str]) -> list[Block]:
    blocks: list[Block] = []
    for rel in rels or []:
        path = root / rel
        if path.is_file():
            blocks.append(Image(path, captions.get(path.stem, path.stem)))
    return blocks


GAN_CAPTIONS = {
    "eval_samples": "Generated images for held-out layouts (top: bare; middle: the layout "
    "drawn over them; bottom: the real image of the layout)",
    "editing": "Layout editing (6.4.6): each scene's largest object moved, then resized, under "
    "the same image and object noise",
    "donut": "Fig. 6.1: two same-class boxes converging (columns: gap, negative = overlap; "
    "number: colour separation between the centres); below each image the generator's two "
    "placed masks (red, green)",
}


def gan_blocks(root: Path, results: Mapping[str, Any]) -> list[Section]:
    """Evaluation, training facts, sample grids, layout editing and the donut figure of one
    OC-GAN run directory (and its ``samples/`` and ``donut/`` folders when present)."""
    sections: list[Section] = []
    section = results.get("ocgan")
    if section:
        blocks = [*_comparability(section), metrics_table(section)]
        blocks += _images(root, section.get("figures"), GAN_CAPTIONS)
        sections.append(Section("OC-GAN evaluation (thesis 6.4.4, tables 6.1, 6.2)", blocks))
    extra: list[Block] = []
    if (root / "samples" / "editing.png").is_file():
        extra.append(Image(root / "samples" / "editing.png", GAN_CAPTIONS["editing"]))
    donut = root / "donut" / "donut.json"
    if donut.is_file():
        import json

        data = json.loads(donut.read_text(encoding="utf-8"))
        rows: list[list[Cell]] = [
            [name, fmt(m.get("distinct_overlapping")), fmt(m.get("distinct_all"))]
            for name, m in (data.get("models") or {}).items()
        ]
        extra.append(
            Table(
                ["model", "distinct (overlapping boxes)", "distinct (all gaps)"],
                rows,
                f"Fraction of {data.get('layouts_per_gap')} donut layouts per gap in which the "
                f"two objects stay distinct (colour separation > {data.get('threshold')}).",
            )
        )
        extra.append(Image(root / "donut" / "donut.png", GAN_CAPTIONS["donut"]))
    if extra:
        sections.append(Section("Layout editing and the donut experiment (6.4.6, fig. 6.1)", extra))
    train = results.get("ocgan_train")
    if train:
        blocks = [key_value_table({k: train[k] for k in GAN_TRAINING_KEYS if k in train})]
        figures = list(train.get("figures") or [])[-1:]
        blocks += _images(
            root,
            figures,
            {Path(f).stem: "Fixed-noise samples at the end of training" for f in figures},
        )
        sections.append(Section("OC-GAN training", blocks))
    return sections


def gan_run_document(root: Path, results: Mapping[str, Any]) -> Document:
    sections = gan_blocks(root, results)
    config = root / "config.yaml"
    if config.is_file():
        text = config.read_text(errors="replace")
        sections.append(Section("Configuration", [Code("config.yaml", text, "config.yaml")]))
    return Document(f"OC-GAN run: {root.resolve().name}", sections)


def ablation_table(results: Mapping[str, Any]) -> Table:
    """Table 6.4 as measured: mean ± std over seeds per row, the thesis' numbers beside."""
    from lococo.report.model import mean_std

    rows: list[list[Cell]] = []
    for r in results.get("summary") or []:
        rows.append(
            [
                r["ablation"],
                str(r.get("seeds")),
                mean_std(r, "ca"),
                mean_std(r, "ca_real"),
                mean_std(r, "fid"),
                mean_std(r, "scene_fid"),
                fmt(r.get("thesis_ca")),
                fmt(r.get("thesis_fid")),
            ]
        )
    chance = next((r.get("ca_chance") for r in results.get("summary") or []), None)
    caption = f"Mean ± std over seeds. CA chance {fmt(chance)}. Thesis: COCO-Stuff 64×64, CA in %."
    header = ["ablation", "seeds", "CA", "CA real", "FID", "SceneFID", "thesis CA", "thesis FID"]
    return Table(header, rows, caption)


def findings_table(results: Mapping[str, Any]) -> Table:
    rows: list[list[Cell]] = [
        [
            f["ablation"],
            f["metric"],
            fmt(f["thesis_change"]),
            fmt(f["our_change"]),
            fmt(f["noise"]),
            fmt(f["holds"]),
            fmt(f["beyond_noise"]),
        ]
        for f in results.get("findings") or []
    ]
    return Table(
        ["ablation", "metric", "thesis change", "our change", "seed std", "same direction",
         "beyond seed std"],
        rows,
        "Change of each ablated row against 'full' (ours: difference of means over seeds).",
    )  # fmt: skip


def gan_study_document(root: Path, results: Mapping[str, Any]) -> Document:
    blocks: list[Block] = []
    if results.get("comparable") is False:
        blocks.append(Paragraph("Substitute extractors: not comparable with published numbers."))
    blocks += [ablation_table(results), findings_table(results)]
    cells = [
        [c["cell"], Link(f"cells/{c['cell']}/report.html", "report")]
        for c in results.get("cells") or []
        if (root / "cells" / c["cell"] / "report.html").is_file()
    ]
    sections = [Section("OC-GAN ablation study (thesis table 6.4)", blocks)]
    if cells:
        sections.append(Section("Cells", [Table(["cell", "report"], cells)]))  # type: ignore[list-item]
    return Document(f"OC-GAN study: {root.resolve().name}", sections)


def main_sections(root: Path, value: Any) -> list[Section]:
    """The main job's OC-GAN part: the run in ``DIR/ocgan``."""
    from lococo.report.render import load_results

    run = root / "ocgan"
    if not (run / "results.json").is_file():
        return [Section("OC-GAN", [Paragraph("The OC-GAN part has not run yet.")])]
    sections = gan_blocks(run, load_results(run))
    for s in sections:
        s.title = f"OC-GAN: {s.title}"
    if (run / "report.html").is_file():
        sections.append(
            Section(
                "OC-GAN run",
                [Paragraph("Full run report:", Link("ocgan/report.html", "ocgan/report.html"))],
            )
        )
    return sections
