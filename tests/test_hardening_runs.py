"""Run directories under faults: --resume rules, corrupt and unwritable files, failed starts,
killed writes, OS errors, and the CSV log across a resume."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from lococo.cli.main import main
from lococo.data.zsl.synth import synth_zsl
from lococo.engine.run_dir import RunDir, discard_unfinished_runs, forget_runs, open_run
from lococo.errors import LococoError

FAST = ["--profile", "quick", "--no-progress", "data.batch_size=16", "zsl.epochs=2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zsl")
    synth_zsl(root, seed=5, classes=10, unseen=3, images_per_class=6, image_size=32, progress=False)
    return root


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory) -> Path:
    """A pretrained (1 epoch) and evaluated fc run."""
    run = tmp_path_factory.mktemp("runs") / "fc"
    args = ["zfs", "pretrain", "--data", str(data), "--out", str(run), "--evaluate", *FAST]
    assert main([*args, "trainer.max_epochs=1"]) == 0
    return run


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_resume_with_changed_settings_is_refused_and_changes_nothing(run_copy, tmp_path, capsys):
    before = _snapshot(run_copy)
    resume = ["zfs", "pretrain", "--out", str(run_copy), "--resume", "--no-progress"]
    assert main([*resume, "optim.lr=0.5"]) == 2
    err = capsys.readouterr().err
    assert "optim.lr" in err and "0.5" in err and "another --out" in err
    assert err.count("\n") == 1
    assert main([*resume, "--method", "vae"]) == 2  # not a load_state_dict traceback
    assert "method.name: 'fc' -> 'vae'" in capsys.readouterr().err
    override = tmp_path / "other.yaml"
    override.write_text("data:\n  batch_size: 8\n")
    assert main([*resume, "--config", str(override)]) == 2
    assert "data.batch_size: 16 -> 8" in capsys.readouterr().err
    assert _snapshot(run_copy) == before


def test_resume_of_a_finished_run_keeps_its_results(run_copy, capsys):
    before = (run_copy / "results.json").read_bytes()
    args = ["zfs", "pretrain", "--out", str(run_copy), "--resume", "--no-progress"]
    assert main([*args, "data.batch_size=16"]) == 0  # same value as saved: accepted
    assert "already finished" in capsys.readouterr().out
    assert (run_copy / "results.json").read_bytes() == before


def test_corrupt_results_json_is_refused_before_any_work(run_copy, capsys):
    broken = b'{"pretrain": {"epochs": 1,\n'
    (run_copy / "results.json").write_bytes(broken)
    assert main(["zfs", "evaluate", str(run_copy), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{run_copy / 'results.json'}:2: not valid JSON" in err and err.count("\n") == 1
    assert (run_copy / "results.json").read_bytes() == broken  # left as it was
    assert main(["zfs", "analyze", str(run_copy), "--no-progress"]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_results_lost_between_compute_and_write_are_saved_aside(run_copy):
    run = RunDir(run_copy)
    run.results.write_text("{ truncated")
    with pytest.raises(LococoError, match=r"results\.zsl\.json"):
        run.write_result("zsl", {"top1": 0.5})
    assert json.loads((run_copy / "results.zsl.json").read_text()) == {"zsl": {"top1": 0.5}}


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_run_is_refused_before_any_work(run_copy, capsys):
    run_copy.chmod(0o555)
    try:
        assert main(["zfs", "evaluate", str(run_copy), "--no-progress"]) == 1
        assert "not writable" in capsys.readouterr().err
    finally:
        run_copy.chmod(0o755)


def test_corrupt_or_pickled_weights_are_one_line_naming_the_file(run_copy, tmp_path, capsys):
    weights = run_copy / "encoder.pt"
    weights.write_bytes(weights.read_bytes()[:5000])
    assert main(["zfs", "evaluate", str(run_copy), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{weights}: encoder weights is truncated or corrupt" in err
    assert err.count("\n") == 1 and "weights_only" not in err
    marker = tmp_path / "executed"
    torch.save({"x": _Payload(str(marker))}, weights)
    assert main(["zfs", "evaluate", str(run_copy), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{weights}: encoder weights holds a pickled" in err and "weights_only" not in err
    assert not marker.exists()  # nothing was executed
    torch.save([torch.zeros(2)], weights)  # loads weights-only, but is not a state dict
    assert main(["zfs", "evaluate", str(run_copy), "--no-progress"]) == 1
    assert "is not a state dict" in capsys.readouterr().err


class _Payload:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_corrupt_checkpoint_on_resume_names_the_file(data, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["zfs", "pretrain", "--data", str(data), "--out", str(run), *FAST]
    assert main([*args, "trainer.max_epochs=1"]) == 0
    (run / "results.json").unlink()  # as if killed after the checkpoint
    ckpt = run / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    assert main([*args, "trainer.max_epochs=1", "--resume"]) == 1
    err = capsys.readouterr().err
    assert f"{ckpt}: checkpoint is truncated or corrupt" in err and "Traceback" not in err


def test_evaluate_records_its_overrides(run_copy):
    assert main(["zfs", "evaluate", str(run_copy), "--no-progress", "zsl.epochs=3"]) == 0
    zsl = json.loads((run_copy / "results.json").read_text())["zsl"]
    assert zsl["overrides"] == {"zsl.epochs": 3} and zsl["protonet"]["epochs"] == 3


def test_failed_start_leaves_nothing_and_is_accepted_again(data, tmp_path, capsys):
    run = tmp_path / "run"
    bad = tmp_path / "notdata"
    bad.mkdir()
    args = ["zfs", "pretrain", "--out", str(run), *FAST, "trainer.max_epochs=1"]
    assert main([*args, "--data", str(bad)]) == 1
    assert "images.txt" in capsys.readouterr().err
    assert not run.exists()
    # a start killed before its first checkpoint leaves config.yaml and logs: the same
    # command line accepts it again, another one does not
    run.mkdir()
    (run / "logs").mkdir()
    (run / ".config.yaml.99999999.x.tmp").write_text("")
    RunDir(run).write_config({"seed": 0, "meta": {"command": "lococo something else"}})
    assert main([*args, "--data", str(data)]) == 1
    assert "not empty" in capsys.readouterr().err
    RunDir(run).write_config({"seed": 0, "meta": {"command": " ".join(sys.argv)}})
    assert main([*args, "--data", str(data)]) == 0
    assert (run / "encoder.pt").exists()


def test_fresh_run_lifecycle(tmp_path):
    run = open_run(tmp_path / "a", resume=False)
    run.write_config({"seed": 0})
    assert discard_unfinished_runs() == [run.path] and not run.path.exists()
    kept = open_run(tmp_path / "b", resume=False)
    kept.checkpoints.mkdir(parents=True)
    (kept.checkpoints / "last.ckpt").write_bytes(b"x")
    assert discard_unfinished_runs() == [] and kept.last_checkpoint.exists()
    with pytest.raises(LococoError, match="not empty"):
        open_run(kept.path, resume=False)  # it has a checkpoint: never cleared
    open_run(tmp_path / "c", resume=False)
    forget_runs()
    assert discard_unfinished_runs() == []


def test_stale_temp_files_of_killed_writes_are_removed(tmp_path):
    run = RunDir(tmp_path / "run")
    run.checkpoints.mkdir(parents=True)
    run.write_config({"seed": 0})
    dead = run.checkpoints / ".last.ckpt.999999999.abcdefgh.tmp"  # no such process
    alive = run.checkpoints / f".last.ckpt.{os.getpid()}.abcdefgh.tmp"
    old_style = run.path / ".results.json.abcdefgh.tmp"
    for p in (dead, alive, old_style):
        p.write_bytes(b"partial")
    open_run(run.path, resume=True)
    assert not dead.exists() and not old_style.exists() and alive.exists()


def test_os_errors_are_one_line_naming_the_path(data, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    args = ["zfs", "pretrain", "--data", str(data), *FAST, "trainer.max_epochs=1"]
    assert main([*args, "--out", str(blocker)]) == 1
    assert f"{blocker}: exists and is not a directory" in capsys.readouterr().err
    assert main([*args, "--out", str(blocker / "run")]) == 1
    err = capsys.readouterr().err
    assert str(blocker / "run") in err and "not a directory" in err and err.count("\n") == 1
    long = tmp_path / ("x" * 300)
    assert main([*args, "--out", str(long)]) == 1
    assert "file name too long" in capsys.readouterr().err


def test_csv_log_keeps_rows_across_a_resume(tmp_path):
    from lococo.engine.trainer import AppendingCSVLogger

    first = AppendingCSVLogger(save_dir=str(tmp_path), name="", version="csv")
    first.log_metrics({"train/loss": 1.0, "epoch": 0}, step=4)
    first.save()
    second = AppendingCSVLogger(save_dir=str(tmp_path), name="", version="csv")
    second.log_metrics({"train/loss": 0.5, "val/acc": 0.2, "epoch": 1}, step=9)
    second.save()
    rows = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,step,train/loss,val/acc"
    assert rows[1:] == ["0,4,1.0,", "1,9,0.5,0.2"]


def test_full_disk_while_saving_weights_is_one_line(tmp_path, monkeypatch):
    from lococo.engine import weights

    def full(obj, handle):
        handle.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")

    monkeypatch.setattr(weights.torch, "save", full)
    target = tmp_path / "encoder.pt"
    with pytest.raises(LococoError, match=r"encoder\.pt: could not write .*disk full"):
        weights.save_weights({"w": torch.zeros(1)}, target)
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary file


def test_os_error_lines(tmp_path):
    import errno

    from lococo.cli.main import describe_os_error

    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))
    assert describe_os_error(full) == f"{tmp_path / 'x'}: no space left on the device (disk full)"
    denied = PermissionError(errno.EACCES, "Permission denied", "/ro/run")
    assert describe_os_error(denied) == "/ro/run: permission denied"


ANALYZE_SMALL = [
    "analysis.critic_steps=5",
    "analysis.pairs=50",
    "analysis.probe_epochs=1",
    "analysis.tre_steps=5",
    "analysis.train_images=30",
    "analysis.test_images=30",
    "zsl.epochs=1",
]


def _deny_writes_under(monkeypatch, root: Path) -> None:
    """From now on every atomic write under ``root`` fails as in a read-only directory."""
    import errno
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve().is_relative_to(root.resolve()):
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr("lococo.io.tempfile.mkstemp", mkstemp)


def test_evaluate_prints_and_keeps_results_when_results_json_breaks_meanwhile(
    run_copy, monkeypatch, capsys
):
    import lococo.zfs.evaluate as zfs_evaluate

    real = zfs_evaluate.fit_protonet

    def fit_then_corrupt(*args, **kwargs):  # results.json breaks while the command computes
        (run_copy / "results.json").write_text("{ broken")
        return real(*args, **kwargs)

    monkeypatch.setattr(zfs_evaluate, "fit_protonet", fit_then_corrupt)
    assert main(["zfs", "evaluate", str(run_copy), "--no-progress", "zsl.epochs=2"]) == 1
    out, err = capsys.readouterr()
    spare = run_copy / "results.zsl.json"
    assert err.count("\n") == 1 and str(spare) in err and "Traceback" not in err
    saved = json.loads(spare.read_text())["zsl"]
    assert f"{saved['top1']:.3f}" in out and f"{saved['harmonic']:.3f}" in out
    assert (run_copy / "results.json").read_text() == "{ broken"  # left for the user to repair


def test_analyze_prints_and_saves_aside_its_overridden_results_when_the_run_becomes_unwritable(
    run_copy, monkeypatch, capsys
):
    import lococo.zfs.analyze as zfs_analyze

    real = zfs_analyze._pooling

    def pool_then_deny(*args, **kwargs):  # the run directory turns read-only mid-analysis
        _deny_writes_under(monkeypatch, run_copy)
        return real(*args, **kwargs)

    monkeypatch.setattr(zfs_analyze, "_pooling", pool_then_deny)
    before = (run_copy / "results.json").read_bytes()
    args = ["zfs", "analyze", str(run_copy), "--no-progress", *ANALYZE_SMALL]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "permission denied" in err and "Traceback" not in err
    spare = Path(err.split("results were saved to ")[1].strip())
    assert spare.name.endswith("results.analysis.json") and not spare.is_relative_to(run_copy)
    saved = json.loads(spare.read_text())["analysis"]
    assert f"{saved['tre_ratio']:.3f}" in out  # the numbers were printed
    overrides = dict(a.split("=") for a in ANALYZE_SMALL)  # and record their overrides
    assert {k: str(v) for k, v in saved["overrides"].items()} == overrides
    assert (run_copy / "results.json").read_bytes() == before
    spare.unlink()
