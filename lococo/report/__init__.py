"""Reports: a run, study or main-job directory → self-contained HTML + Markdown."""

from __future__ import annotations

from lococo.report.render import MAIN_JOB_SECTIONS, render_report
from lococo.report.zfs import FIGURE_CAPTIONS

__all__ = ["FIGURE_CAPTIONS", "MAIN_JOB_SECTIONS", "render_report"]
