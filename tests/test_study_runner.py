"""The shared study runner: skipping finished cells, resuming, launchers, summaries, tests."""

from __future__ import annotations

import functools
import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError
from lococo.io import read_json, write_json
from lococo.study.runner import cell_dir, parse_list, parse_seeds, run_grid, write_csv
from lococo.study.stats import mean_std, paired_test, summarize_groups


@dataclass(frozen=True)
class ToyCell:
    method: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.method}-s{self.seed}"


def toy_run(calls: list[str], fail: set[str], cell: ToyCell, run_path: str, progress: bool):
    """Writes a partial result, then (unless told to fail) the finished one."""
    calls.append(cell.name)
    run = RunDir(Path(run_path))
    previous = run.read_results().get("partial", 0)
    write_json(run.results, {"partial": previous + 1})
    if cell.name in fail:
        raise RuntimeError("killed")
    write_json(run.results, {"partial": previous + 1, "score": cell.seed})


def toy_done(run: RunDir) -> bool:
    return "score" in run.read_results()


CELLS = [ToyCell(m, s) for m, s in itertools.product(("a", "b"), (0, 1))]


def test_run_grid_skips_finished_and_resumes_interrupted(tmp_path):
    calls: list[str] = []
    announced = []
    run = functools.partial(toy_run, calls, {"b-s1"})
    with pytest.raises(RuntimeError, match="killed"):
        run_grid(
            CELLS, tmp_path, run_cell=run, is_done=toy_done, on_cell=lambda *a: announced.append(a)
        )
    assert calls == ["a-s0", "a-s1", "b-s0", "b-s1"]
    assert [a[:2] for a in announced] == [(i, 4) for i in range(1, 5)]
    # the second invocation runs only the interrupted cell, which sees its partial state
    calls.clear()
    done = run_grid(
        CELLS, tmp_path, run_cell=functools.partial(toy_run, calls, set()), is_done=toy_done
    )
    assert calls == ["b-s1"] and [c.name for c in done] == ["b-s1"]
    assert read_json(cell_dir(tmp_path, ToyCell("b", 1)) / "results.json")["partial"] == 2
    assert (
        run_grid(
            CELLS, tmp_path, run_cell=functools.partial(toy_run, calls, set()), is_done=toy_done
        )
        == []
    )


def test_run_grid_removes_summaries_left_half_written_by_a_killed_study(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (tmp_path / "figures").mkdir()
    stale = [tmp_path / f".cells.csv.{dead}.abc.tmp", tmp_path / "figures" / f".f.png.{dead}.x.tmp"]
    for path in stale:
        path.write_text("half")
    alive = tmp_path / ".summary.csv.1.keep.tmp"  # its writer (pid 1) still runs: kept
    alive.write_text("x")
    run_grid(CELLS, tmp_path, run_cell=functools.partial(toy_run, [], set()), is_done=toy_done)
    assert not any(p.exists() for p in stale) and alive.exists()


def test_run_grid_rejects_bad_launcher_and_duplicate_names(tmp_path):
    run = functools.partial(toy_run, [], set())
    with pytest.raises(LococoError, match="unknown launcher 'pbs'"):
        run_grid(CELLS, tmp_path, run_cell=run, is_done=toy_done, launcher="pbs")
    with pytest.raises(LococoError, match="share directory names: a-s0"):
        run_grid([CELLS[0], CELLS[0]], tmp_path, run_cell=run, is_done=toy_done)
    assert not (tmp_path / "cells").exists()


def test_parse_lists():
    assert parse_list(" a, b,,c ", ("a", "b", "c")) == ["a", "b", "c"]
    with pytest.raises(LococoError, match="unknown method 'x'; choose from a, b"):
        parse_list("a,x", ("a", "b"), "method")
    with pytest.raises(LococoError, match="empty list"):
        parse_list(" , ")
    assert parse_seeds("0, 2") == [0, 2]
    with pytest.raises(LococoError, match="seed 'one' is not an integer"):
        parse_seeds("0,one")


def test_summarize_groups_against_direct_loop(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        {"method": m, "seed": s, "dice": float(rng.random()), "extra": None if s else 0.5, "k": m}
        for m in ("x", "y")
        for s in range(3)
    ]
    summary = summarize_groups(rows, ("method",), ("dice", "extra", "absent"), carry=("k",))
    assert [e["method"] for e in summary] == ["x", "y"]
    for entry in summary:
        values = [r["dice"] for r in rows if r["method"] == entry["method"]]
        assert entry["seeds"] == 3 and entry["k"] == entry["method"]
        assert entry["dice_mean"] == pytest.approx(sum(values) / 3)
        assert entry["dice_std"] == pytest.approx(statistics.stdev(values))
        assert entry["extra_mean"] == 0.5 and entry["extra_std"] == pytest.approx(0.0)
        assert "absent_mean" not in entry
    assert mean_std([2.0]) == (2.0, 0.0)
    write_csv(tmp_path / "s.csv", summary)
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert header.split(",")[:3] == ["method", "seeds", "dice_mean"]


def _exact_wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided exact p of the signed-rank statistic by enumerating every sign assignment."""
    ranks = np.argsort(np.argsort(np.abs(diff))) + 1.0
    observed = ranks[diff > 0].sum()
    totals = np.array(
        [
            sum(r for r, s in zip(ranks, signs, strict=True) if s)
            for signs in itertools.product((0, 1), repeat=diff.size)
        ]
    )
    low, high = (totals <= observed).mean(), (totals >= observed).mean()
    return min(1.0, 2 * min(low, high))


def test_paired_test_matches_exact_enumeration():
    rng = np.random.default_rng(3)
    a = rng.random(9)
    b = a - rng.normal(0.1, 0.2, 9)
    result = paired_test(a, b)
    assert result["n"] == 9 and result["wins"] + result["losses"] == 9
    assert result["p"] == pytest.approx(_exact_wilcoxon_p(a - b))
    assert result["mean_diff"] == pytest.approx(float(np.mean(a - b)))


def test_paired_test_detects_a_shift_and_handles_ties():
    rng = np.random.default_rng(1)
    base = rng.random(30)
    assert paired_test(base + 0.05 + 0.01 * rng.random(30), base)["p"] < 1e-4
    same = paired_test(base, base)
    assert same["p"] == 1.0 and same["wins"] == same["losses"] == 0
    assert np.isnan(paired_test([0.3], [0.1])["p"])
    nan_pair = paired_test([0.5, np.nan, 0.7, 0.9], [0.4, 0.1, 0.6, 0.5])
    assert nan_pair["n"] == 3
