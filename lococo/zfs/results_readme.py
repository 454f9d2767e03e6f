"""A study's results README, generated from its data (no hand-written numbers).

    python -m lococo.zfs.results_readme STUDY [--out FILE]

``STUDY`` is a ZFS study directory, or a copy of one such as ``docs/results/<name>``. The
numbers come from ``results.json`` (its ``cells`` and ``summary``) when present, else from
``summary.csv`` (and ``cells.csv``, the per-seed rows, when present). ``README.yaml`` in the
same directory holds the words that are not data: ``title``, the ``commands`` that produced the
study, ``notes`` about its settings, and ``rerun`` (a command to re-run it, with ``rerun_note``).
Figures are the ``*.png`` next to the data or in ``figures/``. The README (default
``STUDY/README.md``) holds the claims table of :mod:`lococo.zfs.claims`, the summary table,
the local-loss gains per model and the figure list.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lococo.errors import DataError, LococoError
from lococo.io import atomic_open, read_json
from lococo.report.model import MISSING, fmt
from lococo.zfs.claims import CLAIM_COLUMNS, MIN_SEEDS, claims_rule, evaluate_claims

Row = Mapping[str, Any]
SETTINGS_FILE = "README.yaml"
#: Summary columns of the README table: (summary metric, column title).
COLUMNS = (
    ("top1", "ZSL top-1"),
    ("parts_f1", "parts F1"),
    ("tre_ratio", "TRE ratio"),
    ("zsl_avg_repr", "avg repr"),
    ("zsl_avg_pred", "avg pred"),
    ("zsl_small_avg_repr", "small RF"),
    ("parts_ratio_corr_attr", "r(ratio, attr)"),
    ("parts_ratio_corr_ssim", "r(ratio, SSIM)"),
)


@dataclass
class StudyData:
    """What a README is made of: per-seed cells, summary rows, figures and the words."""

    cells: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    figures: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def _number(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_csv_rows(path: Path) -> list[dict[str, Any]]:
    """A CSV written by the study as dicts (numbers parsed, empty cells ``None``)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(path, f"unreadable CSV ({err})") from None


def load_study(directory: Path) -> StudyData:
    """The cells, summary, figures and README settings of a study directory."""
    results = directory / "results.json"
    if results.is_file():
        data = read_json(results)
        cells, summary, source = data.get("cells") or [], data.get("summary") or [], "results.json"
    elif (directory / "summary.csv").is_file():
        summary, source = read_csv_rows(directory / "summary.csv"), "summary.csv"
        cells_csv = directory / "cells.csv"
        cells = read_csv_rows(cells_csv) if cells_csv.is_file() else []
        source += ", cells.csv" if cells else ""
    else:
        raise LococoError(f"{directory}: no results.json or summary.csv; not a study directory")
    settings: dict[str, Any] = {}
    settings_path = directory / SETTINGS_FILE
    if settings_path.is_file():
        try:
            settings = yaml.safe_load(settings_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise DataError(settings_path, f"not valid YAML ({err})".splitlines()[0]) from None
        if not isinstance(settings, dict):
            raise DataError(settings_path, "expected a mapping (title, commands, notes, rerun)")
    figures = sorted(
        p.relative_to(directory).as_posix()
        for pattern in ("*.png", "figures/*.png")
        for p in directory.glob(pattern)
    )
    return StudyData(cells, summary, figures, settings, source)


# --------------------------------------------------------------------------- markdown pieces


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(_escape(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_escape(str(c)) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _mean_std(row: Row, metric: str) -> str:
    mean, std = row.get(f"{metric}_mean"), row.get(f"{metric}_std")
    text = fmt(mean, metric)
    if text == MISSING or std is None or not math.isfinite(float(std)) or row.get("seeds") == 1:
        return text
    return f"{text} ± {fmt(float(std), metric)}"


def summary_markdown(summary: Sequence[Row]) -> str:
    """Models sorted by ZSL top-1 (mean ± std over seeds)."""
    present = [(m, t) for m, t in COLUMNS if any(r.get(f"{m}_mean") is not None for r in summary)]
    ordered = sorted(summary, key=lambda r: -_sort_value(r.get("top1_mean")))
    rows = [
        [str(r.get("model")), str(r.get("local_loss")), str(r.get("seeds"))]
        + [_mean_std(r, m) for m, _ in present]
        for r in ordered
    ]
    return markdown_table(["model", "local loss", "seeds", *(t for _, t in present)], rows)


def _sort_value(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else -math.inf


def claims_markdown(cells: Sequence[Row], summary: Sequence[Row]) -> str:
    claims = [c.as_dict() for c in evaluate_claims(cells, summary)]
    rows = [[fmt(c[k], k) for k in CLAIM_COLUMNS] for c in claims]
    return markdown_table(list(CLAIM_COLUMNS), rows)


def gains(summary: Sequence[Row]) -> list[dict[str, Any]]:
    """Relative ZSL change of each local loss over the same model without one (means over
    seeds): ``(loss − none) / none``."""
    plain = {
        (r["model"], r.get("encoder")): r.get("top1_mean")
        for r in summary
        if r.get("local_loss") == "none"
    }
    out = []
    for r in summary:
        base = plain.get((r["model"], r.get("encoder")))
        value = r.get("top1_mean")
        if r.get("local_loss") == "none" or not base or value is None:
            continue
        out.append(
            {"model": r["model"], "local_loss": r["local_loss"], "gain": (value - base) / base}
        )
    return out


def gains_markdown(summary: Sequence[Row]) -> str | None:
    rows = gains(summary)
    if not rows:
        return None
    models = list(dict.fromkeys(r["model"] for r in rows))
    losses = list(dict.fromkeys(r["local_loss"] for r in rows))
    table = {(r["model"], r["local_loss"]): r["gain"] for r in rows}
    body = [
        [m] + [f"{table[(m, loss)]:+.1%}" if (m, loss) in table else MISSING for loss in losses]
        for m in models
    ]
    return markdown_table(["model", *(f"+{loss}" for loss in losses)], body)


def data_notes(data: StudyData) -> list[str]:
    """Facts about the data that change how its numbers read, found in the data itself."""
    notes = []
    seeds = sorted({int(r["seeds"]) for r in data.summary if r.get("seeds") is not None})
    if seeds and max(seeds) < MIN_SEEDS:
        notes.append(
            f"This study has {max(seeds)} seed(s) per model: every claim needs at least "
            f"{MIN_SEEDS}, so each comes out inconclusive whatever its p-value."
        )
    if not data.cells:
        notes.append(
            "Only the summary (means and stds over seeds) was kept, not the per-seed values: "
            "the paired tests across seeds cannot be computed from it (n = 0)."
        )
    has_tre = any(r.get("tre_ratio_mean") is not None for r in data.summary)
    has_image = any(r.get("tre_ratio_image_mean") is not None for r in data.summary)
    if has_tre and not has_image:
        notes.append(
            "The TRE ratios here predate the class-level random control: their denominator is "
            "the per-image random assignment, which rewards any class-structured features, so "
            "they read lower (more compositional) than the current definition would give."
        )
    return notes


def readme(directory: Path) -> str:
    """The README text of the study in ``directory``."""
    from lococo.report.zfs import caption

    data = load_study(directory)
    s = data.settings
    out = [f"# {s.get('title', 'ZFS study: ' + directory.resolve().name)}", ""]
    out += [
        f"Generated from this directory's data ({data.source}) by "
        "`python -m lococo.zfs.results_readme DIR` (DIR: this directory); edit "
        f"`{SETTINGS_FILE}` (the words) or the data, never this file.",
        "",
    ]
    if s.get("commands"):
        out += ["## How the data were made", "", "```bash", *s["commands"], "```", ""]
    notes = [*(s.get("notes") or []), *data_notes(data)]
    if notes:
        out += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    out += [
        "## Claims of thesis ch. 4",
        "",
        claims_rule(),
        "",
        claims_markdown(data.cells, data.summary),
        "",
    ]
    out += ["## Results (mean ± std over seeds)", "", summary_markdown(data.summary), ""]
    gain = gains_markdown(data.summary)
    if gain:
        out += ["## Local-loss gains (relative ZSL top-1 change over the plain model)", ""]
        out += [gain, ""]
    if data.figures:
        out += ["## Figures", ""]
        out += [markdown_table(["file", "shows"], _figure_rows(data.figures, caption)), ""]
    if s.get("rerun"):
        out += ["## Re-run with enough seeds", ""]
        out += [s.get("rerun_note", ""), "", "```bash", *s["rerun"], "```", ""]
    return "\n".join(out).rstrip() + "\n"


def _figure_rows(figures: Sequence[str], caption: Any) -> list[list[str]]:
    return [[f"`{f}`", caption(Path(f))] for f in figures]


def write_readme(directory: str | Path, out: str | Path | None = None) -> Path:
    directory = Path(directory)
    text = readme(directory)
    target = Path(out) if out is not None else directory / "README.md"
    with atomic_open(target, "w") as handle:
        handle.write(text)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lococo.zfs.results_readme", description=__doc__.splitlines()[0]
    )
    parser.add_argument("study", help="study directory (results.json or summary.csv)")
    parser.add_argument("--out", help="README path (default: STUDY/README.md)")
    args = parser.parse_args(argv)
    try:
        print(f"readme: {write_readme(args.study, args.out)}")
    except LococoError as err:
        print(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
