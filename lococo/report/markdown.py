"""Render a :class:`~lococo.report.model.Document` as Markdown (figures by relative path)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from lococo.report.model import Block, Cell, Code, Document, Image, Link, Paragraph, Table

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown syntax characters; newlines become spaces."""
    return _SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def render_markdown(doc: Document, root: Path) -> str:
    """The whole document; images link to their path relative to ``root`` (the report's dir)."""
    parts = [f"# {md_escape(doc.title)}"]
    for section in doc.sections:
        parts.append(f"## {md_escape(section.title)}")
        parts.extend(_block(block, root) for block in section.blocks)
    return "\n\n".join(parts) + "\n"


def _link(link: Link) -> str:
    return f"[{md_escape(link.text)}]({quote(link.href)})"


def _cell(cell: Cell) -> str:
    return _link(cell) if isinstance(cell, Link) else md_escape(cell)


def _table(table: Table) -> str:
    lines = [f"*{md_escape(table.caption)}*", ""] if table.caption else []
    lines.append("| " + " | ".join(md_escape(c) for c in table.columns) + " |")
    lines.append("|" + "---|" * len(table.columns))
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (absolute when outside ``root``)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _block(block: Block, root: Path) -> str:
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Paragraph):
        return md_escape(block.text) + (f" {_link(block.link)}" if block.link else "")
    if isinstance(block, Code):
        return f"{md_escape(block.title)}: [{md_escape(block.href)}]({quote(block.href)})"
    if isinstance(block, Image):
        caption = md_escape(block.caption)
        return f"![{caption}]({quote(relative(block.path, root))})\n\n*{caption}*"
    raise TypeError(f"unknown block {type(block).__name__}")
