"""``lococo run``: every system end to end on embedded synthetic data, resumable step by step."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lococo.errors import ConfigError, LococoError
from lococo.io import read_json, write_json
from lococo.zfs.config import METHODS
from lococo.zfs.study import StudySpec, run_study

#: The systems of the main job, in the order they run.
SYSTEMS = ("zfs", "cmim", "cmim_cls", "ocgan")


@dataclass(frozen=True)
class SynthSize:
    classes: int
    unseen: int
    images_per_class: int
    image_size: int
    preset: str = "simple"  # synth_zsl preset (docs/zfs_locality.md says why this one)


#: Synthetic ZSL data per profile: the quick one is sized for a 2-core CPU.
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
            preset=size.preset,
            overwrite=True,
            progress=progress,
        )
    return root


#: The ZFS methods of the main job (CMDIM at the thesis' middle matching probability).
ZFS_METHODS = METHODS
ZFS_CMDIM_P = (0.5,)


@dataclass(frozen=True)
class PhantomSize:
    cases: int
    size: int


#: Brain phantoms per profile (the quick training profile is sized for side 32); the quick
#: one keeps CMIM's share of the main job within 3 minutes on 2 CPU cores (measured).
MRI_DATA = {
    "quick": PhantomSize(cases=30, size=32),
    "paper": PhantomSize(cases=60, size=96),
}
#: The CMIM methods of the main job: table 8.2's columns.
CMIM_METHODS = ("cmim", "hemis", "mean", "mlp")


def mri_data(out: Path, profile: str, seed: int, progress: bool) -> Path:
    """Generate (once) the brain phantoms of ``profile`` under ``out/data/mri``."""
    from lococo.data.mri.synth import synth_mri

    root = out / "data" / "mri"
    if not (root / "synth_mri.json").exists():
        size = MRI_DATA[profile]
        synth_mri(
            root, seed=seed, cases=size.cases, size=size.size, overwrite=True, progress=progress
        )
    return root


#: The main job's settings, recorded in its directory and compared when it is run again.
SETTINGS_FILE = "settings.json"


def job_settings(
    profile: str,
    seed: int,
    overrides: dict[str, Any] | None,
    cmim_overrides: dict[str, Any] | None,
    cmim_cls_overrides: dict[str, Any] | None,
    ocgan_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What makes a main job's numbers: the profile (data sizes and training budgets), the seed
    (data and training) and every override. Methods and systems only choose which cells run."""
    return {
        "profile": profile,
        "seed": seed,
        "overrides": {
            "zfs": dict(overrides or {}),
            "cmim": dict(cmim_overrides or {}),
            "cmim_cls": dict(cmim_cls_overrides or {}),
            "ocgan": dict(ocgan_overrides or {}),
        },
    }


def recorded_settings(out: Path) -> dict[str, Any] | None:
    """The settings a job directory was made with: ``settings.json``, else the profile and
    seed of a ``results.json`` written before settings were recorded; ``None`` when neither."""
    for name in (SETTINGS_FILE, "results.json"):
        path = out / name
        if not path.is_file():
            continue
        try:
            data = read_json(path)
        except (OSError, ValueError) as err:
            raise LococoError(
                f"{path}: unreadable ({err}); use --overwrite to start afresh"
            ) from None
        if name == SETTINGS_FILE:
            return data
        if isinstance(data, dict) and {"profile", "seed"} <= data.keys():
            return {"profile": data["profile"], "seed": data["seed"]}
    return None


def prepare_job_dir(out: Path, settings: dict[str, Any], *, overwrite: bool) -> None:
    """Refuse (one line) to continue a job directory made with other settings; with
    ``overwrite`` remove it first. Then record ``settings`` in it."""
    from lococo.config.validation import config_changes, describe_changes

    if overwrite and out.is_dir() and any(out.iterdir()):
        if not (out / SETTINGS_FILE).is_file() and not (out / "results.json").is_file():
            raise LococoError(
                f"{out}: --overwrite removes a lococo run directory, and this is not one "
                f"(no {SETTINGS_FILE} or results.json); choose another --out"
            )
        shutil.rmtree(out)
    # settings alone (a job that failed before writing anything) protect nothing
    has_work = out.is_dir() and any(p.name != SETTINGS_FILE for p in out.iterdir())
    old = recorded_settings(out) if has_work else None
    if old is not None:
        compared = {k: settings[k] for k in old if k in settings}  # old files: profile, seed
        changes = config_changes(old, compared)
        if changes:
            raise ConfigError(
                f"{out}: made with other settings ({describe_changes(changes)}); its data and "
                "cells would be reused under the new ones. Re-run with the original options, "
                "choose another --out, or pass --overwrite to start afresh"
            )
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / SETTINGS_FILE, settings)


def run_all(
    out: str | Path,
    *,
    profile: str = "quick",
    seed: int = 0,
    methods: Sequence[str] = ZFS_METHODS,
    cmim_methods: Sequence[str] = CMIM_METHODS,
    systems: Sequence[str] = SYSTEMS,
    overrides: dict[str, Any] | None = None,
    cmim_overrides: dict[str, Any] | None = None,
    cmim_cls_overrides: dict[str, Any] | None = None,
    ocgan_overrides: dict[str, Any] | None = None,
    progress: bool = True,
    on_cell: Any = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Synthetic data -> each system's study -> ``out/results.json`` and ``out/report.html``.

    ZFS: synthetic birds, a study over every method, analysed. CMIM: brain phantoms, table
    8.2's study (``cmim_methods``, one seed). ``overrides`` are ZFS config keys,
    ``cmim_overrides`` CMIM segmentation keys. ``on_cell(system, i, n, cell)`` announces cells.
    ``seconds`` records each system's wall-clock and CPU (this process) seconds of this call.
    Finished steps are skipped and interrupted ones resume, so re-running continues; a
    directory made with another profile, seed or overrides is refused (see
    :func:`prepare_job_dir`) unless ``overwrite`` starts it afresh.
    """
    import time

    out = Path(out)
    settings = job_settings(
        profile, seed, overrides, cmim_overrides, cmim_cls_overrides, ocgan_overrides
    )
    prepare_job_dir(out, settings, overwrite=overwrite)
    summary: dict[str, Any] = {"profile": profile, "seed": seed, "data": {}, "seconds": {}}
    if "zfs" in systems:
        start, cpu = time.perf_counter(), time.process_time()
        data = zsl_data(out, profile, seed, progress)
        spec = StudySpec(
            data=str(data),
            methods=tuple(methods),
            seeds=(seed,),
            cmdim_p=ZFS_CMDIM_P,
            profile=profile,
            overrides=dict(overrides or {}),
        )
        zfs = run_study(spec, out / "zfs", progress=progress, on_cell=_announce("zfs", on_cell))
        summary["data"]["zsl"] = str(data)
        summary["zfs"] = zfs["summary"]
        summary["seconds"]["zfs"] = round(time.perf_counter() - start, 1)
        summary["seconds"]["zfs_cpu"] = round(time.process_time() - cpu, 1)
    if "cmim" in systems:
        from lococo.cmim.study import SegStudySpec
        from lococo.cmim.study import run_study as run_cmim_study

        start, cpu = time.perf_counter(), time.process_time()
        data = mri_data(out, profile, seed, progress)
        seg = SegStudySpec(
            data=str(data),
            methods=tuple(cmim_methods),
            seeds=(seed,),
            profile=profile,
            overrides=dict(cmim_overrides or {}),
        )
        cmim = run_cmim_study(
            seg, out / "cmim", progress=progress, on_cell=_announce("cmim", on_cell)
        )
        summary["data"]["mri"] = str(data)
        summary["cmim"] = cmim["summary"]
        summary["seconds"]["cmim"] = round(time.perf_counter() - start, 1)
        summary["seconds"]["cmim_cpu"] = round(time.process_time() - cpu, 1)
    if "cmim_cls" in systems:  # chest X-rays -> table 8.1 (lococo.cmim.cls_study)
        from lococo.cmim.cls_study import main_job_study

        start, cpu = time.perf_counter(), time.process_time()
        cls = main_job_study(
            out,
            profile=profile,
            seed=seed,
            overrides=cmim_cls_overrides,
            progress=progress,
            on_cell=_announce("cmim_cls", on_cell),
        )
        summary["data"]["cxr"] = str(out / "data" / "cxr")
        summary["cmim_cls"] = cls["summary"]
        summary["seconds"]["cmim_cls"] = round(time.perf_counter() - start, 1)
        summary["seconds"]["cmim_cls_cpu"] = round(time.process_time() - cpu, 1)
    if "ocgan" in systems:  # synthetic scenes -> SGSM -> OC-GAN (lococo.ocgan.main_job)
        from lococo.ocgan.main_job import run_ocgan

        start, cpu = time.perf_counter(), time.process_time()
        summary["ocgan"] = run_ocgan(
            out, profile=profile, seed=seed, overrides=ocgan_overrides, progress=progress
        )
        summary["data"]["layout"] = str(out / "data" / "layout")
        summary["seconds"]["ocgan"] = round(time.perf_counter() - start, 1)
        summary["seconds"]["ocgan_cpu"] = round(time.process_time() - cpu, 1)
    write_json(out / "results.json", summary)
    render_reports(out)
    return summary


def _announce(system: str, on_cell: Any) -> Any:
    if on_cell is None:
        return None
    return lambda i, n, cell: on_cell(system, i, n, cell)


def render_reports(out: Path) -> Path:
    """Reports of every study cell, each system's study and the main job; returns the main
    report."""
    from lococo.report import render_report

    return render_report(out, recursive=True)[0]
