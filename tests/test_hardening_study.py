"""Studies under faults: one bad cell does not stop the others, cell directories never keep
settings that differ from the command's, finished cells are never relabelled."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from lococo.config.loading import to_dict
from lococo.engine.run_dir import RunDir
from lococo.errors import ConfigError, LococoError
from lococo.io import write_json
from lococo.study.runner import CellsFailed, cell_dir, run_grid
from lococo.zfs.study import StudySpec, cell_config, grid, reconcile_cells


@dataclass(frozen=True)
class Cell:
    name: str


def _run(calls: list[str], cell: Cell, run_path: str, progress: bool) -> None:
    calls.append(cell.name)
    run = RunDir(Path(run_path))
    run.read_results()  # a corrupt results.json fails this cell only
    if cell.name == "bad":
        raise LococoError("bad cell")
    write_json(run.results, {"done": True})


def test_a_failing_or_corrupt_cell_does_not_stop_the_others(tmp_path):
    cells = [Cell("a"), Cell("bad"), Cell("corrupt"), Cell("b")]
    corrupt = cell_dir(tmp_path, Cell("corrupt"))
    corrupt.mkdir(parents=True)
    (corrupt / "results.json").write_text("{")
    calls: list[str] = []
    with pytest.raises(CellsFailed) as caught:
        run_grid(
            cells,
            tmp_path,
            run_cell=functools.partial(_run, calls),
            is_done=lambda run: run.read_results().get("done", False),
        )
    assert calls == ["a", "bad", "corrupt", "b"]
    assert [f.split(":")[0] for f in caught.value.failures] == ["bad", "corrupt"]
    assert "results.json:1: not valid JSON" in caught.value.failures[1]
    assert (cell_dir(tmp_path, Cell("b")) / "results.json").exists()


def _spec(**overrides) -> StudySpec:
    return StudySpec(data="/data", methods=("fc",), profile="quick", overrides=overrides)


def _write_cell(out: Path, spec: StudySpec, results: dict) -> RunDir:
    cell = grid(spec)[0]
    run = RunDir(cell_dir(out, cell))
    run.path.mkdir(parents=True)
    run.write_config({**to_dict(cell_config(spec, cell)), "meta": {"command": "x"}})
    if results:
        write_json(run.results, results)
    return run


def test_unfinished_cell_started_with_other_settings_is_started_again(tmp_path):
    run = _write_cell(tmp_path, _spec(**{"optim.lr": 0.5}), {})
    (run.path / "logs").mkdir()
    reconcile_cells(_spec(), grid(_spec()), tmp_path)  # the override was fixed
    assert not run.path.exists()


def test_unfinished_cell_with_the_same_settings_is_kept_for_resuming(tmp_path):
    run = _write_cell(tmp_path, _spec(), {})
    reconcile_cells(_spec(), grid(_spec()), tmp_path)
    assert run.config.exists()


def test_finished_cell_with_other_settings_refuses_the_study(tmp_path):
    run = _write_cell(tmp_path, _spec(), {"pretrain": {}, "zsl": {}, "analysis": {}})
    before = run.results.read_bytes()
    with pytest.raises(ConfigError, match=r"optim\.lr: 0\.001 -> 0\.5.*new --out"):
        reconcile_cells(_spec(**{"optim.lr": 0.5}), grid(_spec()), tmp_path)
    assert run.results.read_bytes() == before


def test_analysis_keys_may_change_until_the_cell_is_analysed(tmp_path):
    spec = _spec(**{"analysis.pairs": 10})
    run = _write_cell(tmp_path, _spec(), {"pretrain": {}, "zsl": {}})
    reconcile_cells(spec, grid(spec), tmp_path)  # not analysed yet: allowed
    write_json(run.results, {"pretrain": {}, "zsl": {}, "analysis": {}})
    with pytest.raises(ConfigError, match=r"analysis\.pairs"):
        reconcile_cells(spec, grid(spec), tmp_path)


def test_stale_temp_files_in_unfinished_cells_are_removed(tmp_path):
    cell = Cell("a")
    run = RunDir(cell_dir(tmp_path, cell))
    run.checkpoints.mkdir(parents=True)
    stale = run.checkpoints / ".last.ckpt.999999999.abcdefgh.tmp"
    stale.write_bytes(b"partial")
    seen: list[bool] = []

    def check(cell: Cell, run_path: str, progress: bool) -> None:
        seen.append(stale.exists())

    run_grid([cell], tmp_path, run_cell=check, is_done=lambda run: False)
    assert seen == [False]
