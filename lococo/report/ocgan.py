"""Report sections of OC-GAN runs: SGSM pretraining (thesis 6.3.1)."""

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
