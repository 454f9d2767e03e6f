"""The results README generator: numbers only from the data, claims from lococo.zfs.claims."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_zfs_claims import _cells

from lococo.errors import LococoError
from lococo.report.model import fmt
from lococo.study.runner import write_csv
from lococo.zfs.results_readme import main, readme, write_readme
from lococo.zfs.study import summarize

DOCS = Path(__file__).parents[1] / "docs" / "results"


def _study(root: Path, seeds: int, *, with_cells: bool = True) -> list[dict]:
    cells = _cells(seeds)
    summary = summarize(cells)
    write_csv(root / "summary.csv", summary)
    if with_cells:
        write_csv(root / "cells.csv", cells)
    (root / "README.yaml").write_text(
        "title: Constructed study\ncommands:\n  - lococo zfs study --seeds 0,1,2\n"
        "rerun:\n  - lococo zfs study --seeds 0,1,2,3\nrerun_note: Run it again.\n"
    )
    return summary


def test_readme_numbers_come_from_the_data(tmp_path):
    summary = _study(tmp_path, seeds=3)
    text = readme(tmp_path)
    assert text.startswith("# Constructed study\n")
    assert "lococo zfs study --seeds 0,1,2\n" in text and "Run it again." in text
    for row in summary[:5]:
        mean, std = fmt(row["top1_mean"]), fmt(row["top1_std"])
        assert f"| {row['model']} | {row['local_loss']} | 3 | {mean} ± {std} |" in text
    claims = text.split("## Claims")[1].split("## Results")[0]
    assert claims.count("| holds |") == 5 and claims.count("| does not hold |") == 1
    assert "inconclusive (p ≥ 0.05)" in claims
    assert "n seeds" not in text  # 3 seeds: no seed warning
    # the gains table: AC adds 0.05 to fc's 0.5 (±noise): about +10 %
    gains = text.split("## Local-loss gains")[1]
    assert "| fc | +" in gains


def test_summary_only_and_two_seeds_are_said(tmp_path):
    _study(tmp_path, seeds=2, with_cells=False)
    text = readme(tmp_path)
    assert "This study has 2 seed(s) per model" in text
    assert "inconclusive (n seeds 2 < 3)" in text
    assert "inconclusive (no per-seed values)" in text
    assert "predate the class-level random control" in text  # no tre_ratio_image column


def test_cli_writes_atomically_and_reports_bad_input(tmp_path, capsys):
    _study(tmp_path, seeds=3)
    assert main([str(tmp_path)]) == 0
    assert (tmp_path / "README.md").read_text() == readme(tmp_path)
    assert main([str(tmp_path / "nowhere")]) == 1
    assert "no results.json or summary.csv" in capsys.readouterr().out
    (tmp_path / "README.yaml").write_text("- just\n- a list\n")
    with pytest.raises(LococoError, match=r"README\.yaml"):
        write_readme(tmp_path)


@pytest.mark.parametrize("study", sorted(p.parent.name for p in DOCS.glob("*/README.yaml")))
def test_committed_results_readmes_are_generated(study):
    """docs/results/*/README.md is exactly what the generator makes from the data there."""
    directory = DOCS / study
    assert (directory / "README.md").read_text(encoding="utf-8") == readme(directory)
