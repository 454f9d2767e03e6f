"""``lococo run``: every system end to end on embedded synthetic data, resumable step by step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lococo.config.loading import load_config
from lococo.engine.run_dir import RunDir
from lococo.io import write_json


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
    from lococo.data.synth_zsl import synth_zsl

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


def zfs_cell(
    data: Path, run_path: Path, method: str, profile: str, overrides: dict[str, Any], progress: bool
) -> dict[str, Any]:
    """Pretrain (or resume) and evaluate one ZFS method; finished steps are skipped."""
    from lococo.zfs.config import ZFSConfig
    from lococo.zfs.evaluate import evaluate
    from lococo.zfs.pretrain import pretrain

    run = RunDir(run_path)
    results = run.read_results()
    if "pretrain" not in results:
        resume = run.config.exists()
        cfg = load_config(
            ZFSConfig,
            system="zfs",
            profile=profile,
            overrides={"data.path": str(data), "method.name": method, **overrides},
        )
        if resume:
            from lococo.zfs.evaluate import load_run_config

            cfg = load_run_config(run)
        pretrain(cfg, run, resume=resume, progress=progress)
    if "zsl" not in run.read_results():
        evaluate(run, progress=progress)
    return run.read_results()


def run_all(
    out: str | Path,
    *,
    profile: str = "quick",
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Synthetic data -> ZFS pretraining -> zero-shot evaluation; writes ``out/results.json``."""
    out = Path(out)
    data = zsl_data(out, profile, seed, progress)
    rows = []
    for method in ("fc",):
        result = zfs_cell(
            data,
            out / "zfs" / method,
            method,
            profile,
            {"seed": seed, **(overrides or {})},
            progress,
        )
        zsl = result["zsl"]
        rows.append(
            {
                "system": "zfs",
                "method": method,
                "encoder": result["pretrain"]["encoder"],
                **{
                    k: zsl[k]
                    for k in ("top1", "top1_sample", "chance", "seen", "unseen", "harmonic")
                },
            }
        )
    summary = {"profile": profile, "seed": seed, "data": {"zsl": str(data)}, "zfs": rows}
    write_json(out / "results.json", summary)
    return summary
