"""OC-GAN's part of ``lococo run``: synthetic scenes → SGSM → OC-GAN → evaluation → figures.

Directories under the job's ``out``: ``data/layout`` (synthetic scenes, 32 px, each object
class with its own shape, texture and colours), ``ocgan_sgsm`` (the SGSM run, small CNN),
``ocgan`` (the OC-GAN run: training, ``evaluate``, ``samples/`` with layout editing of held-out
layouts, ``donut/``). Every step is skipped when its output exists and resumes when it was
interrupted, so re-running the job continues it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lococo.config.loading import load_config
from lococo.engine.run_dir import RunDir, open_run
from lococo.io import atomic_open


@dataclass(frozen=True)
class LayoutSize:
    images: int
    image_size: int
    sgsm_epochs: int


#: Synthetic scenes and the SGSM's epochs per profile (the GAN's own come from its profile).
LAYOUT_DATA = {
    "quick": LayoutSize(images=600, image_size=32, sgsm_epochs=3),
    "paper": LayoutSize(images=4000, image_size=64, sgsm_epochs=30),
}
EDIT_SCENES = 4


def layout_data(out: Path, profile: str, seed: int, progress: bool) -> Path:
    from lococo.data.layout.synth import synth_layout

    root = out / "data" / "layout"
    if not (root / "synth_layout.json").exists():
        size = LAYOUT_DATA[profile]
        synth_layout(
            root,
            seed=seed,
            images=size.images,
            image_size=size.image_size,
            overwrite=True,
            progress=progress,
            class_colours=True,
        )
    return root


def _sgsm(out: Path, data: Path, profile: str, seed: int, progress: bool) -> Path:
    from lococo.ocgan.config import SGSMRunConfig
    from lococo.ocgan.sgsm_train import SGSM_FILE, pretrain_sgsm

    path = out / "ocgan_sgsm"
    if (path / SGSM_FILE).exists():
        return path
    resume = (path / "config.yaml").exists()
    run = open_run(path, resume=resume)
    if resume:
        cfg = run.saved_config(SGSMRunConfig)
    else:
        size = LAYOUT_DATA[profile]
        cfg = load_config(
            SGSMRunConfig,
            system="sgsm",
            profile=profile,
            overrides={
                "data.path": str(data),
                "data.image_size": size.image_size,
                "trainer.max_epochs": size.sgsm_epochs,
                "seed": seed,
            },
        )
    pretrain_sgsm(cfg, run, resume=resume, progress=progress)
    return path


def run_ocgan(
    out: str | Path,
    *,
    profile: str = "quick",
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Every step of the module docstring; returns the run's ``ocgan`` evaluation section."""
    from lococo.ocgan.donut import run_donut
    from lococo.ocgan.gan_config import GANRunConfig, check_gan_config
    from lococo.ocgan.gan_evaluate import evaluate_gan
    from lococo.ocgan.gan_sample import sample_layouts
    from lococo.ocgan.gan_train import TRAIN_SECTION, load_run_config, train_gan

    out = Path(out)
    data = layout_data(out, profile, seed, progress)
    sgsm = _sgsm(out, data, profile, seed, progress)
    path = out / "ocgan"
    results = RunDir(path).read_results() if path.is_dir() else {}
    if TRAIN_SECTION not in results:
        resume = (path / "config.yaml").exists()
        run = open_run(path, resume=resume)
        if resume:
            cfg = load_run_config(run)
        else:
            cfg = load_config(
                GANRunConfig,
                system="ocgan",
                profile=profile,
                overrides={
                    **(overrides or {}),
                    "data.path": str(data),
                    "sgsm_run": str(sgsm),
                    "seed": seed,
                },
            )
            check_gan_config(cfg)
        train_gan(cfg, run, resume=resume, progress=progress)
    run = RunDir(path)
    if "ocgan" not in run.read_results():
        evaluate_gan(path, progress=progress)
    if not (path / "samples" / "sample.json").exists():
        layouts = held_out_layouts(run, EDIT_SCENES)
        sample_layouts(path, layouts, path / "samples", seed=seed)
    if not (path / "donut" / "donut.json").exists():
        run_donut(path, path / "donut", seed=seed, layouts=32)
    return run.read_results()["ocgan"]


def held_out_layouts(run: RunDir, count: int) -> Path:
    """The first ``count`` held-out layouts of the run's data as a layout JSON file."""
    from lococo.ocgan.gan_train import held_out_split, load_layout_data, load_run_config

    cfg = load_run_config(run)
    data = load_layout_data(cfg)
    scenes = data.scenes(held_out_split(data, cfg.eval.split))[:count]
    layouts = [
        [
            {"label": data.class_names[int(label)], "box": [round(float(v), 4) for v in box]}
            for box, label in zip(scene.boxes, scene.labels, strict=True)
        ]
        for scene in scenes
    ]
    path = run.path / "layouts.json"
    with atomic_open(path, "w") as handle:
        json.dump(layouts, handle, indent=1)
    return path
