"""Reports of run, study and main-job directories: tables, embedded figures, errors."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from lococo.errors import LococoError
from lococo.report import MAIN_JOB_SECTIONS, render_report
from lococo.report.model import Paragraph, Section, fmt

NAN = float("nan")


def _png(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _embedded(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


class _Tags(HTMLParser):
    """Collects start/end tags to check nesting of the generated HTML."""

    VOID = frozenset({"meta", "img", "br"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def _well_formed(html: str) -> bool:
    parser = _Tags()
    parser.feed(html)
    return not parser.errors and not parser.stack


RUN = {
    "pretrain": {
        "method": "cmdim",
        "local_loss": "ac",
        "encoder": "basic",
        "image_size": 64,
        "epochs": 7,
        "steps": 140,
    },
    "zsl": {
        "top1": 0.45678,
        "top1_sample": 0.4432,
        "chance": 0.1,
        "seen": 0.5,
        "unseen": 0.25,
        "harmonic": 0.3333,
    },
    "analysis": {
        "parts_f1": 0.6123,
        "tre_ratio": 0.8766,
        "parts_ratio_corr_attr": 0.2346,
        "parts_ratio_corr_attr_p": 1.234e-7,
        "parts_ratio_corr_ssim": NAN,
        "pairs": 2000,
        "pooling": {
            "small": {"stage": "conv3", "rf": 27, "avg_repr": 0.3111, "avg_pred": 0.3556},
            "big": {"stage": "conv4", "rf": 59, "avg_repr": 0.2999, "avg_pred": 0.2888},
        },
        "parts_f1_per_part": {"<beak & crown>": 0.7123, "tail": NAN},
        "model": "cmdim+ac",
        "encoder": {"input_size": 64, "local_shape": [128, 14, 14], "small_stage": "conv4"},
        "images": {"train": 512, "test": 256},
        "figures": ["figures/heatmaps.png"],
    },
}


def _run_dir(root: Path, results: dict = RUN) -> bytes:
    _write(root / "results.json", results)
    (root / "config.yaml").write_text("method:\n  name: cmdim  # <p>\n")
    return _png(root / "figures" / "heatmaps.png")


def test_run_report(tmp_path):
    png = _run_dir(tmp_path)
    html_path, md_path = render_report(tmp_path)
    assert (html_path, md_path) == (tmp_path / "report.html", tmp_path / "report.md")
    html, md = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    for text in ("cmdim", "0.457", "0.443", "0.333", "0.612", "0.877", "0.235", "0.356", "0.289"):
        assert text in html and text in md, text
    assert "1.23e-07" in html  # p-value in scientific notation
    assert "conv3" in html and "59" in html
    assert "128, 14, 14" in html and "512" in html  # nested sections as their own tables
    assert "figures/heatmaps.png" not in html  # the figure list is not a table row
    assert "&lt;beak &amp; crown&gt;" in html and "<beak" not in html  # escaped
    assert "&lt;p&gt;" in html  # config.yaml is shown, escaped, in a collapsible block
    assert "<details>" in html
    assert "–" in html  # NaN correlation and NaN part
    assert _embedded(html) == [png]
    assert "MI heatmaps (thesis fig. 4.4)" in html
    assert "](figures/heatmaps.png)" in md
    assert "http" not in html.replace("http-equiv", "")
    assert _well_formed(html)


def test_run_report_without_analysis_or_figures(tmp_path):
    _write(tmp_path / "results.json", {"zsl": RUN["zsl"]})
    html, md = (p.read_text(encoding="utf-8") for p in render_report(tmp_path))
    assert "0.457" in md and "Analysis" not in md and "data:image" not in html


STUDY_CELLS = [
    {"cell": "fc-none-basic-s0", "model": "fc", "local_loss": "none", "encoder": "basic",
     "seed": 0, "chance": 0.1, "top1": 0.4575, "harmonic": 0.333, "parts_f1": 0.61},
    {"cell": "fc-none-basic-s1", "model": "fc", "local_loss": "none", "encoder": "basic",
     "seed": 1, "chance": 0.1, "top1": 0.495, "harmonic": 0.308, "parts_f1": 0.63},
]  # fmt: skip
STUDY = {
    "study": {"methods": ["fc"], "local_losses": ["none"], "seeds": [0, 1], "cmdim_p": [0.5]},
    "cells": STUDY_CELLS,
    "summary": [
        {"model": "fc", "local_loss": "none", "encoder": "basic", "seeds": 2,
         "top1_mean": 0.47625, "top1_std": 0.0265165, "harmonic_mean": 0.3205,
         "harmonic_std": 0.0178, "parts_f1_mean": 0.62, "parts_f1_std": 0.01414,
         "tre_ratio_mean": NAN, "tre_ratio_std": NAN, "chance": 0.1},
    ],
}  # fmt: skip


def _study_dir(root: Path) -> bytes:
    _write(root / "results.json", STUDY)
    for cell in STUDY_CELLS:
        _write(root / "cells" / cell["cell"] / "results.json", {"zsl": {"top1": cell["top1"]}})
    return _png(root / "figures" / "parts_f1_vs_zsl.png")


def test_study_report(tmp_path):
    png = _study_dir(tmp_path)
    (tmp_path / "cells" / "fc-none-basic-s0" / "report.html").write_text("<html></html>")
    html, md = (p.read_text(encoding="utf-8") for p in render_report(tmp_path))
    for text in ("0.476 ± 0.027", "0.321 ± 0.018", "0.620 ± 0.014", "0.458", "0.495", "0.630"):
        assert text in html and text in md, text
    assert "Chance level (ZSL top-1): 0.100" in html
    assert "0.500" in html  # cmdim_p is a matching probability, not a p-value
    assert "tre_ratio" in html  # present in the summary, NaN shown as a dash
    assert _embedded(html) == [png]
    assert "Parts F1 vs ZSL top-1 (thesis fig. 4.2)" in html
    assert "](figures/parts_f1_vs_zsl.png)" in md
    # only the cell whose report exists is linked
    assert 'href="cells/fc-none-basic-s0/report.html"' in html
    assert "cells/fc-none-basic-s1/report.html" not in html
    assert "[fc-none-basic-s0](cells/fc-none-basic-s0/report.html)" in md
    assert _well_formed(html)


def test_study_report_recursive_renders_cells(tmp_path):
    _study_dir(tmp_path)
    render_report(tmp_path, recursive=True)
    for cell in STUDY_CELLS:
        assert (tmp_path / "cells" / cell["cell"] / "report.html").is_file()
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count('href="cells/') == len(STUDY_CELLS)


def _job_dir(root: Path) -> bytes:
    job = {"profile": "quick", "seed": 3, "data": {"zsl": "/data/zsl"}, "zfs": STUDY["summary"]}
    _write(root / "results.json", job)
    _study_dir(root / "zfs")
    return _png(root / "zfs" / "figures" / "local_loss_gain.png", (10, 200, 10))


def test_main_job_report(tmp_path):
    gain_png = _job_dir(tmp_path)
    study_png = (tmp_path / "zfs" / "figures" / "parts_f1_vs_zsl.png").read_bytes()
    html, md = (p.read_text(encoding="utf-8") for p in render_report(tmp_path, recursive=True))
    assert "quick" in html and "/data/zsl" in html and ">3<" in html
    assert "0.476 ± 0.027" in html and "0.476 ± 0.027" in md
    assert sorted(_embedded(html)) == sorted([gain_png, study_png])
    assert "](zfs/figures/local_loss_gain.png)" in md
    assert "](zfs/figures/parts_f1_vs_zsl.png)" in md
    assert (tmp_path / "zfs" / "report.html").is_file()  # rendered by recursive=True
    assert 'href="zfs/report.html"' in html
    assert _well_formed(html)


def test_main_job_sections_are_extensible(tmp_path, monkeypatch):
    _job_dir(tmp_path)
    job = json.loads((tmp_path / "results.json").read_text())
    job["cmim"] = {"dice": 0.8}
    _write(tmp_path / "results.json", job)

    def cmim(root, value):
        return [Section("CMIM", [Paragraph(f"Dice {fmt(value['dice'])}")])]

    monkeypatch.setitem(MAIN_JOB_SECTIONS, "cmim", cmim)
    md = render_report(tmp_path)[1].read_text(encoding="utf-8")
    assert "## CMIM" in md and "Dice 0.800" in md


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing"),
        ("{not json", "corrupt JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"foo": 1}', "unknown kind"),
        ('{"study": {}, "cells": [], "summary": 3}', "malformed study"),
    ],
)
def test_bad_results_raise_and_write_nothing(tmp_path, content, message):
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(LococoError, match=message) as err:
        render_report(tmp_path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no report, no temporary file


@pytest.mark.parametrize("make", [_run_dir, _study_dir, _job_dir])
def test_rendering_is_idempotent(tmp_path, make):
    make(tmp_path)
    first = [p.read_bytes() for p in render_report(tmp_path)]
    files = sorted(p.name for p in tmp_path.iterdir())
    second = [p.read_bytes() for p in render_report(tmp_path)]
    assert first == second
    assert sorted(p.name for p in tmp_path.iterdir()) == files


def test_fmt_values():
    assert fmt(0.123456) == "0.123"
    assert fmt(NAN) == "–" and fmt(None) == "–"
    assert fmt(3.2e-9, "parts_ratio_corr_ssim_p") == "3.20e-09"
    assert fmt(0.5, "cmdim_p") == "0.500"
    assert fmt([1, 0.5]) == "1, 0.500"
    assert fmt(True) == "yes" and fmt(7) == "7"
