"""``lococo report DIR``: a run, study or main-job directory → ``report.html`` + ``report.md``.

The kind of directory is read from ``DIR/results.json``:

* **run** (a ZFS run): keys ``pretrain`` and/or ``zsl`` (and optionally ``analysis``);
* **sgsm** (an OC-GAN SGSM pretraining run): key ``sgsm``;
* **ocgan_run** (an OC-GAN training run): key ``ocgan_train`` and/or ``ocgan``;
* **ocgan_study**: a study whose ``study.system`` is ``ocgan`` (table 6.4);
* **cmim_run** (a CMIM segmentation run): key ``cmim_seg_train`` and/or ``cmim_seg``;
* **study**: keys ``study``, ``cells`` and ``summary``; ``study.system`` names the system
  (``cmim_seg``: a CMIM study, kind **cmim_study**; ``cmim_cls``: a CMIM classification
  study, kind **cmim_cls_study**; absent: ZFS);
* **cmim_cls_run** (a CMIM classification run): key ``cmim_cls_train`` and/or ``cmim_cls``;
* **main job** (``lococo run``): keys ``profile``, ``seed`` and one section per system, each
  rendered by :data:`MAIN_JOB_SECTIONS` (``zfs``: the summary rows, the study in ``DIR/zfs``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lococo.errors import LococoError
from lococo.io import atomic_open
from lococo.report import cmim, cmim_cls, ocgan
from lococo.report.html import render_html
from lococo.report.markdown import render_markdown
from lococo.report.model import Document, Link, Paragraph, Section, key_value_table
from lococo.report.zfs import (
    chance_paragraph,
    claims_section,
    figures_section,
    run_document,
    study_document,
    summary_table,
)

RESULTS = "results.json"
KINDS = (
    "main",
    "study",
    "run",
    "sgsm",
    "cmim_study",
    "cmim_run",
    "cmim_cls_study",
    "cmim_cls_run",
    "ocgan_run",
    "ocgan_study",
)
STUDY_KINDS = ("study", "cmim_study", "cmim_cls_study", "ocgan_study")


def render_report(directory: str | Path, *, recursive: bool = False) -> tuple[Path, Path]:
    """Write ``DIR/report.html`` (self-contained) and ``DIR/report.md``; return both paths.

    ``recursive=True`` first renders the reports of a study's cells (and of a main job's
    study) so the per-cell links resolve. Raises :class:`LococoError` naming ``results.json``
    when it is missing, corrupt or of no known kind; nothing is written then.
    """
    root = Path(directory)
    results = load_results(root)
    kind = detect_kind(root / RESULTS, results)
    if recursive:
        _render_children(root, kind, results)
    try:
        doc = BUILDERS[kind](root, results)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise LococoError(f"{root / RESULTS}: malformed {kind} results ({err!r})") from err
    html, md = render_html(doc), render_markdown(doc, root)
    paths = root / "report.html", root / "report.md"
    for path, text in zip(paths, (html, md), strict=True):
        with atomic_open(path, "wb") as handle:
            handle.write(text.encode("utf-8"))
    return paths


def load_results(root: Path) -> dict[str, Any]:
    """``root/results.json`` as a dict, or a one-line :class:`LococoError` naming the file."""
    path = root / RESULTS
    if not path.is_file():
        raise LococoError(f"{path}: missing; not a lococo run, study or main-job directory")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise LococoError(f"{path}: corrupt JSON ({err.msg} at line {err.lineno})") from err
    except (OSError, UnicodeDecodeError) as err:
        raise LococoError(f"{path}: unreadable ({err})") from err
    if not isinstance(data, dict):
        raise LococoError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def detect_kind(path: Path, results: Mapping[str, Any]) -> str:
    """``"main"``, ``"study"`` or ``"run"``, from the top-level keys of ``results``."""
    if {"profile", "seed"} <= results.keys():
        return "main"
    if {"study", "cells", "summary"} <= results.keys():
        if cmim_cls.is_study(results):
            return "cmim_cls_study"
        if ocgan.is_gan_study(results):
            return "ocgan_study"
        return "cmim_study" if cmim.is_study(results) else "study"
    if results.keys() & {"pretrain", "zsl", "analysis"}:
        return "run"
    if "sgsm" in results:
        return "sgsm"
    if ocgan.is_gan_run(results):
        return "ocgan_run"
    if cmim.SECTION in results or cmim.TRAIN_SECTION in results:
        return "cmim_run"
    if cmim_cls.is_run(results):
        return "cmim_cls_run"
    keys = ", ".join(sorted(results)) or "none"
    raise LococoError(
        f"{path}: unknown kind of results (keys: {keys}); expected a run (pretrain/zsl/analysis, "
        "cmim_seg, cmim_cls), an SGSM run (sgsm), a study (study, cells, summary) or a main "
        "job (profile, seed, ...)"
    )


def _render_children(root: Path, kind: str, results: Mapping[str, Any]) -> None:
    if kind in STUDY_KINDS:
        for cell in results.get("cells") or []:
            cell_dir = root / "cells" / str(cell.get("cell", ""))
            if (cell_dir / RESULTS).is_file():
                render_report(cell_dir)
    elif kind == "main":
        for system in MAIN_JOB_SECTIONS:
            if system in results and (root / system / RESULTS).is_file():
                render_report(root / system, recursive=True)


# --------------------------------------------------------------------------- main job


def _zfs_sections(root: Path, rows: Any) -> list[Section]:
    """The main job's ZFS summary table, a link to its study report, the study figures."""
    rows = rows or []
    blocks: list[Any] = [summary_table(rows)]
    chance = chance_paragraph(rows)
    if chance is not None:
        blocks.insert(0, chance)
    study = root / "zfs" / "report.html"
    if study.is_file():
        blocks.append(Paragraph("Full study report:", Link("zfs/report.html", "zfs/report.html")))
    sections = [Section("ZFS: zero-shot learning from scratch (thesis ch. 4)", blocks)]
    if (root / "zfs" / RESULTS).is_file():  # claims need the study's per-seed cells
        study = load_results(root / "zfs")
        sections.append(claims_section(study.get("cells") or [], study.get("summary") or rows))
    return sections + figures_section(root / "zfs" / "figures", "ZFS figures")


#: Renderers of the main job's per-system sections, by ``results.json`` key; later systems
#: (e.g. ``"ocgan"``, ``"cmim"``) add theirs here: ``fn(job_dir, section_value) -> sections``.
#: Each system's study lives in ``job_dir/<key>`` and is rendered before the main report.
MAIN_JOB_SECTIONS: dict[str, Callable[[Path, Any], list[Section]]] = {
    "zfs": _zfs_sections,
    "cmim": cmim.main_sections,
    "cmim_cls": cmim_cls.main_sections,
    "ocgan": ocgan.main_sections,
}
MAIN_JOB_META = ("profile", "seed", "data", "seconds")


def main_document(root: Path, results: Mapping[str, Any]) -> Document:
    """Job settings, then one group of sections per system present in ``results``."""
    meta = {k: results[k] for k in ("profile", "seed") if k in results}
    data = results.get("data")
    if isinstance(data, Mapping):
        meta.update({f"data ({name})": path for name, path in data.items()})
    elif data is not None:
        meta["data"] = data
    seconds = results.get("seconds")
    if isinstance(seconds, Mapping):
        meta.update({f"seconds ({name})": value for name, value in seconds.items()})
    sections = [Section("Job", [key_value_table(meta, "Main job (lococo run)")])]
    for key, value in results.items():
        if key in MAIN_JOB_META:
            continue
        renderer = MAIN_JOB_SECTIONS.get(key)
        if renderer is not None:
            sections += renderer(root, value)
        else:
            sections.append(Section(key, [Paragraph(f"No report renderer for '{key}' yet.")]))
    return Document(f"lococo main job: {root.resolve().name}", sections)


BUILDERS: dict[str, Callable[[Path, Mapping[str, Any]], Document]] = {
    "main": main_document,
    "study": study_document,
    "run": run_document,
    "sgsm": ocgan.sgsm_document,
    "ocgan_run": ocgan.gan_run_document,
    "ocgan_study": ocgan.gan_study_document,
    "cmim_study": cmim.study_document,
    "cmim_run": cmim.run_document,
    "cmim_cls_study": cmim_cls.study_document,
    "cmim_cls_run": cmim_cls.run_document,
}
