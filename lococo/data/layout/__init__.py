"""Layout datasets for image generation from boxes: COCO-Stuff 2017 and Visual Genome with the
sg2im preprocessing, the synthetic "synthetic scenes" generator writing the COCO-Stuff layout,
and the padded image + layout tensors (:class:`lococo.data.layout.dataset.LayoutDataset`)."""

from __future__ import annotations

from pathlib import Path

from lococo.data.layout.types import SPLITS, LayoutData, Scene
from lococo.errors import LococoError

LAYOUT_FORMATS: tuple[str, ...] = ("coco-stuff", "vg")


def load_layout(root: str | Path, fmt: str, **options: object) -> LayoutData:
    """Read and validate the layout dataset at ``root`` in format ``fmt`` (``coco-stuff`` or
    ``vg``); every problem is a :class:`~lococo.errors.DataError` naming the file."""
    key = fmt.lower()
    if key == "coco-stuff":
        from lococo.data.layout.coco_stuff import load_coco_stuff

        return load_coco_stuff(root, **options)  # type: ignore[arg-type]
    if key == "vg":
        from lococo.data.layout.vg import load_vg

        return load_vg(root, **options)  # type: ignore[arg-type]
    raise LococoError(f"unknown layout format {fmt!r}; expected one of {', '.join(LAYOUT_FORMATS)}")


__all__ = ["LAYOUT_FORMATS", "SPLITS", "LayoutData", "Scene", "load_layout"]
