"""A main-job or study directory never mixes settings: refused with one line, or --overwrite."""

from __future__ import annotations

import json

import pytest

from lococo.cli.main import main
from lococo.errors import ConfigError, LococoError
from lococo.main_job import SETTINGS_FILE, job_settings, prepare_job_dir


def _settings(seed: int = 0, **zfs) -> dict:
    return job_settings("quick", seed, zfs, None, None)


def _job(tmp_path, settings: dict):
    out = tmp_path / "job"
    prepare_job_dir(out, settings, overwrite=False)
    (out / "data" / "zsl").mkdir(parents=True)  # work done under these settings
    return out


def test_same_settings_continue_and_other_settings_are_refused(tmp_path):
    out = _job(tmp_path, _settings(0, **{"trainer.max_epochs": 2}))
    prepare_job_dir(out, _settings(0, **{"trainer.max_epochs": 2}), overwrite=False)
    with pytest.raises(ConfigError, match=r"seed: 0 -> 1") as err:
        prepare_job_dir(out, _settings(1, **{"trainer.max_epochs": 2}), overwrite=False)
    assert "--overwrite" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"trainer\.max_epochs"):
        prepare_job_dir(out, _settings(0), overwrite=False)
    assert (out / "data" / "zsl").is_dir()  # nothing removed by a refusal


def test_other_system_overrides_are_refused_too(tmp_path):
    out = _job(tmp_path, job_settings("quick", 0, None, None, None, {"trainer.max_epochs": 2}))
    with pytest.raises(ConfigError, match=r"overrides\.ocgan\.trainer\.max_epochs: 2 -> None"):
        prepare_job_dir(out, _settings(0), overwrite=False)
    with pytest.raises(ConfigError, match=r"overrides\.cmim\.data\.batch_size"):
        prepare_job_dir(
            out,
            job_settings("quick", 0, None, {"data.batch_size": 2}, None, {"trainer.max_epochs": 2}),
            overwrite=False,
        )


def test_settings_from_before_a_system_joined_still_match(tmp_path):
    out = _job(tmp_path, _settings(0))
    recorded = json.loads((out / SETTINGS_FILE).read_text())
    del recorded["overrides"]["ocgan"]  # written before OC-GAN's overrides were recorded
    (out / SETTINGS_FILE).write_text(json.dumps(recorded))
    prepare_job_dir(out, _settings(0), overwrite=False)
    with pytest.raises(ConfigError, match=r"overrides\.ocgan\.seed: None -> 3"):
        prepare_job_dir(
            out, job_settings("quick", 0, None, None, None, {"seed": 3}), overwrite=False
        )


def test_overwrite_starts_afresh(tmp_path):
    out = _job(tmp_path, _settings(0))
    prepare_job_dir(out, _settings(2), overwrite=True)
    assert not (out / "data").exists()
    assert json.loads((out / SETTINGS_FILE).read_text())["seed"] == 2


def test_overwrite_refuses_a_directory_that_is_not_a_job(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(LococoError, match="not one"):
        prepare_job_dir(foreign, _settings(), overwrite=True)
    assert (foreign / "thesis.tex").exists()


def test_settings_of_a_failed_start_do_not_bind(tmp_path):
    out = tmp_path / "job"
    prepare_job_dir(out, _settings(0, **{"optim.lrr": 1}), overwrite=False)  # then it failed
    prepare_job_dir(out, _settings(0), overwrite=False)
    assert json.loads((out / SETTINGS_FILE).read_text()) == _settings(0)


def test_job_directories_from_before_settings_compare_profile_and_seed(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"profile": "quick", "seed": 0, "zfs": []}))
    prepare_job_dir(out, _settings(0, **{"trainer.max_epochs": 3}), overwrite=False)
    (out / SETTINGS_FILE).unlink()
    with pytest.raises(ConfigError, match="profile: 'quick' -> 'paper'"):
        prepare_job_dir(out, job_settings("paper", 0, None, None, None), overwrite=False)


def test_lococo_run_refuses_before_any_work(tmp_path, capsys):
    out = _job(tmp_path, _settings(0))
    code = main(["run", "--out", str(out), "--seed", "3", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "made with other settings" in err
    assert sorted(p.name for p in out.iterdir()) == ["data", SETTINGS_FILE]


def _finished_cell(out, spec) -> None:
    from lococo.config.loading import to_dict
    from lococo.engine.run_dir import RunDir
    from lococo.io import write_json
    from lococo.study.runner import cell_dir
    from lococo.zfs.study import cell_config, grid

    cell = grid(spec)[0]
    run = RunDir(cell_dir(out, cell))
    run.path.mkdir(parents=True)
    run.write_config({**to_dict(cell_config(spec, cell)), "meta": {"command": "x"}})
    write_json(run.results, {"pretrain": {}, "zsl": {}, "analysis": {}})


def test_study_on_other_data_or_profile_is_refused_and_overwrite_removes_it(tmp_path):
    from lococo.zfs.study import StudySpec, grid, reconcile_cells, remove_study

    old = StudySpec(data="/data/a", methods=("fc",), profile="quick")
    _finished_cell(tmp_path / "study", old)
    for new in (
        StudySpec(data="/data/b", methods=("fc",), profile="quick"),
        StudySpec(data="/data/a", methods=("fc",), profile="paper"),
    ):
        with pytest.raises(ConfigError, match="--overwrite"):
            reconcile_cells(new, grid(new), tmp_path / "study")
    remove_study(tmp_path / "study")
    assert not (tmp_path / "study").exists()
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "a.txt").write_text("keep")
    with pytest.raises(LococoError, match="not one"):
        remove_study(foreign)
    assert (foreign / "a.txt").exists()
