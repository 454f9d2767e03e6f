"""A neutral document model (sections of tables, figures, text) and value formatting.

Reports are built once as a :class:`Document`, then rendered to HTML and to Markdown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MISSING = "–"


@dataclass(frozen=True)
class Link:
    """A table cell or line that links to ``href`` (relative to the report's directory)."""

    text: str
    href: str


Cell = str | Link


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str
    link: Link | None = None  # appended after the text


@dataclass(frozen=True)
class Code:
    """A text file shown collapsed in HTML; Markdown links to ``href``."""

    title: str
    text: str
    href: str


@dataclass(frozen=True)
class Image:
    """A PNG file (absolute path) with its caption."""

    path: Path
    caption: str


Block = Table | Paragraph | Code | Image


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)


def is_p_value(key: str) -> bool:
    """Keys holding p-values (scientific notation): ``p``, ``*_pvalue``, ``*corr*_p``."""
    if key in ("p", "pvalue", "p_value") or key.endswith(("_pvalue", "_p_value")):
        return True
    return key.endswith("_p") and "corr" in key


def fmt(value: Any, key: str = "") -> str:
    """3 decimals for floats, scientific for p-values, "–" for None/NaN, lists joined."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.2e}" if is_p_value(key) else f"{value:.3f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={fmt(v, str(k))}" for k, v in value.items()) or MISSING
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v, key) for v in value) or MISSING
    return str(value)


def mean_std(row: Mapping[str, Any], metric: str) -> str:
    """``mean ± std`` of ``metric`` in a study summary row (mean alone for one seed)."""
    mean = row.get(f"{metric}_mean")
    std = row.get(f"{metric}_std")
    text = fmt(mean, metric)
    if text == MISSING or row.get("seeds", 2) == 1 or not _finite(std):
        return text
    return f"{text} ± {fmt(std, metric)}"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def key_value_table(items: Mapping[str, Any], caption: str = "") -> Table:
    """A two-column table of ``items``."""
    rows: list[list[Cell]] = [[str(k), fmt(v, str(k))] for k, v in items.items()]
    return Table(["key", "value"], rows, caption)


def records_table(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str], caption: str = ""
) -> Table:
    """One row per record, ``columns`` picked from each (missing shown as "–")."""
    rows: list[list[Cell]] = [[fmt(r.get(c), c) for c in columns] for r in records]
    return Table(list(columns), rows, caption)
