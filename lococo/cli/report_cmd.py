"""``lococo report DIR``: HTML + Markdown report of a run, a study or a main-job directory."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    rep = sub.add_parser(
        "report",
        help="render DIR/report.html and DIR/report.md for a run, a study or `lococo run` output",
    )
    rep.add_argument("directory", help="directory holding a results.json")
    rep.add_argument(
        "--no-recursive",
        action="store_true",
        help="do not (re)render the reports of a study's cells or a main job's study",
    )
    rep.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from lococo.report import render_report

    html, md = render_report(args.directory, recursive=not args.no_recursive)
    print(f"report: {html}\n        {md}")
    return 0
