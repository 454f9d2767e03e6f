"""Render a :class:`~lococo.report.model.Document` as one self-contained HTML file."""

from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path
from urllib.parse import quote

from lococo.report.model import Block, Cell, Code, Document, Image, Link, Paragraph, Table

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-style: italic; color: #444; margin-top: .3em; }
details pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: .85em; }
"""

_NUMERIC = re.compile(r"^[-+]?[\d.,e∞–+ ±-]+$")


def render_html(doc: Document) -> str:
    """The whole document: inline CSS, every image embedded as a base64 data URI."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(doc.title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(doc.title)}</h1>",
    ]
    for section in doc.sections:
        parts.append(f"<h2>{escape(section.title)}</h2>")
        parts.extend(_block(block) for block in section.blocks)
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _block(block: Block) -> str:
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Paragraph):
        link = f" {_link(block.link)}" if block.link else ""
        return f"<p>{escape(block.text)}{link}</p>"
    if isinstance(block, Code):
        return (
            f"<details><summary>{escape(block.title)}</summary>"
            f"<pre>{escape(block.text)}</pre></details>"
        )
    if isinstance(block, Image):
        return _image(block)
    raise TypeError(f"unknown block {type(block).__name__}")


def _link(link: Link) -> str:
    return f'<a href="{escape(quote(link.href), quote=True)}">{escape(link.text)}</a>'


def _cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        return f"<td>{_link(cell)}</td>"
    numeric = _NUMERIC.match(cell) is not None
    attr = ' class="num"' if numeric else ""
    return f"<td{attr}>{escape(cell)}</td>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = "\n".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in table.rows)
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    return (
        f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


def data_uri(path: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _image(image: Image) -> str:
    alt = escape(image.caption, quote=True)
    return (
        f'<figure><img alt="{alt}" src="{data_uri(image.path)}">'
        f"<figcaption>{escape(image.caption)}</figcaption></figure>"
    )
