"""``lococo run``: every system end to end on embedded synthetic data, resumable step by step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lococo.io import write_json
from lococo.zfs.config import METHODS
from lococo.zfs.study import StudySpec, run_study


@dataclass(frozen=True)
class SynthSize:
    classes: int
    unseen: int
    images_per_class: int
    image_size: int


#: Synthetic ZSL data per profile: the quick one matches the measured CPU prototype in DESIGN.md.
ZSL_DATA = {
    "quick": SynthSize(classes=50, unseen=10, images_per_class=40, image_size=64),
    "paper": SynthSize(classes=200, unseen=50, images_per_class=60, image_size=128),
}


def zsl_data(out: Path, profile: str, seed: int, progress: bool) -> Path:
    """Generate (once) the synthetic ZSL data set of ``profile`` under ``out/data/zsl``."""
    from lococo.data.zsl.synth import synth_zsl

    root = out / "data" / "zsl"
    if not (root / "CUB_200_2011" / "images.txt").exists():
        size = ZSL_DATA[profile]
        synth_zsl(
            root,
            seed=seed,
            classes=size.classes,
            unseen=size.unseen,
            images_per_class=size.images_per_class,
            image_size=size.image_size,
            overwrite=True,
            progress=progress,
        )
    return root


#: The ZFS methods of the main job (CMDIM at the thesis' middle matching probability).
ZFS_METHODS = METHODS
ZFS_CMDIM_P = (0.5,)


def run_all(
    out: str | Path,
    *,
    profile: str = "quick",
    seed: int = 0,
    methods: Sequence[str] = ZFS_METHODS,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    on_cell: Any = None,
) -> dict[str, Any]:
    """Synthetic data -> a ZFS study over every method, analysed -> ``out/results.json`` and
    ``out/report.html``.

    Finished steps are skipped and interrupted ones resume, so re-running continues.
    """
    out = Path(out)
    data = zsl_data(out, profile, seed, progress)
    spec = StudySpec(
        data=str(data),
        methods=tuple(methods),
        seeds=(seed,),
        cmdim_p=ZFS_CMDIM_P,
        profile=profile,
        overrides=dict(overrides or {}),
    )
    zfs = run_study(spec, out / "zfs", progress=progress, on_cell=on_cell)
    summary = {"profile": profile, "seed": seed, "data": {"zsl": str(data)}, "zfs": zfs["summary"]}
    write_json(out / "results.json", summary)
    render_reports(out)
    return summary


def render_reports(out: Path) -> Path:
    """Reports of every ZFS cell, the ZFS study and the main job; returns the main report."""
    from lococo.report import render_report

    return render_report(out, recursive=True)[0]
