"""Grid execution shared by every system's study: cell directories, skip/resume, launchers.

A system plugs in with three things (see ``docs/study.md``):

* its cells: any picklable objects with a unique ``name`` (the cell's directory under
  ``STUDY/cells/``), one per grid point × seed;
* ``is_done(run_dir) -> bool``: whether a cell directory holds finished results;
* ``run_cell(cell, run_path, progress)``: a module-level callable (or a
  :func:`functools.partial` of one) that does the cell's work, resuming an interrupted cell
  from what its directory holds. It must be picklable: submitit ships it to another process.

:func:`run_grid` runs every unfinished cell (``local``: one after another in this process;
``slurm``: one submitit job per cell on a cluster; ``submitit-local``: the same job path as
local subprocesses). Summaries over seeds are the system's own (built with
:mod:`lococo.study.stats`) and written with :func:`write_csv` / :func:`lococo.io.write_json`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError
from lococo.io import atomic_open, remove_stale_temp_files

LAUNCHERS = ("local", "slurm", "submitit-local")
CELLS = "cells"


class NamedCell(Protocol):
    @property
    def name(self) -> str: ...


RunCell = Callable[[Any, str, bool], Any]
IsDone = Callable[[RunDir], bool]
OnCell = Callable[[int, int, Any], None]
C = TypeVar("C")


def parse_list(text: str, choices: Sequence[str] | None = None, what: str = "value") -> list[str]:
    """``"a,b , c"`` → ``["a", "b", "c"]``; a :class:`LococoError` for an empty list or an item
    outside ``choices``."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise LococoError(f"empty list of {what}s")
    for item in items:
        if choices is not None and item not in choices:
            raise LococoError(f"unknown {what} {item!r}; choose from {', '.join(choices)}")
    return items


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]`` (one-line error for a non-integer)."""
    seeds = []
    for item in parse_list(text, what="seed"):
        try:
            seeds.append(int(item))
        except ValueError:
            raise LococoError(f"seed {item!r} is not an integer") from None
    return seeds


def cell_dir(out: str | Path, cell: NamedCell) -> Path:
    """The run directory of ``cell`` in the study directory ``out``."""
    return Path(out) / CELLS / cell.name


def check_unique(cells: Sequence[NamedCell]) -> None:
    names = [c.name for c in cells]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise LococoError(f"study cells share directory names: {', '.join(duplicates)}")


class CellsFailed(LococoError):
    """Some cells of a study failed; the others ran (``failures``: one line per cell)."""

    def __init__(self, failures: Sequence[str]) -> None:
        self.failures = list(failures)
        super().__init__(f"{len(failures)} study cell(s) failed: " + "; ".join(failures))


def train_then_evaluate(
    run_path: str | Path,
    *,
    trained: str,
    new_config: Callable[[], C],
    saved_config: Callable[[RunDir], C],
    train: Callable[[C, RunDir, bool], Any],
    evaluate: Callable[[Path], Any],
    is_done: IsDone,
) -> dict[str, Any]:
    """A train-then-evaluate cell: train unless ``results.json`` holds the ``trained`` section
    (resuming from the saved config when the directory holds one, else starting from
    ``new_config()``), then evaluate unless ``is_done``; returns the cell's results."""
    run = RunDir(Path(run_path))
    if trained not in run.read_results():
        resume = run.config.exists()
        cfg = saved_config(run) if resume else new_config()
        train(cfg, run, resume)
    if not is_done(run):
        evaluate(run.path)
    return run.read_results()


def pending(cells: Sequence[NamedCell], out: str | Path, is_done: IsDone) -> list[Any]:
    """The cells of ``cells`` whose directory does not hold finished results yet (a cell whose
    results cannot be read counts as unfinished: running it reports the problem)."""
    return [c for c in cells if not _safely_done(is_done, RunDir(cell_dir(out, c)))]


def _safely_done(is_done: IsDone, run: RunDir) -> bool:
    try:
        return is_done(run)
    except LococoError:
        return False


def run_grid(
    cells: Sequence[NamedCell],
    out: str | Path,
    *,
    run_cell: RunCell,
    is_done: IsDone,
    launcher: str = "local",
    slurm: Mapping[str, Any] | None = None,
    progress: bool = True,
    on_cell: OnCell | None = None,
) -> list[Any]:
    """Run every unfinished cell with ``launcher``; returns the cells that were run.

    Finished cells are skipped; an interrupted one is handed to ``run_cell`` again, which
    resumes it. ``on_cell(i, n, cell)`` announces each local cell before it runs.
    """
    if launcher not in LAUNCHERS:
        raise LococoError(f"unknown launcher {launcher!r}; choose from {', '.join(LAUNCHERS)}")
    check_unique(cells)
    for folder in (Path(out), Path(out) / "figures"):  # summaries killed mid-write
        remove_stale_temp_files(folder)
    todo = pending(cells, out, is_done)
    for cell in todo:  # temporary files of writes killed in an earlier run of the study
        run = RunDir(cell_dir(out, cell))
        remove_stale_temp_files(run.path)
        remove_stale_temp_files(run.checkpoints)
    launch(todo, out, run_cell, launcher=launcher, slurm=slurm, progress=progress, on_cell=on_cell)
    return todo


def launch(
    cells: Sequence[NamedCell],
    out: str | Path,
    run_cell: RunCell,
    *,
    launcher: str = "local",
    slurm: Mapping[str, Any] | None = None,
    progress: bool = True,
    on_cell: OnCell | None = None,
) -> None:
    """Run ``run_cell(cell, cell_dir, progress)`` for each of ``cells`` (no skipping)."""
    if launcher == "local":
        failures = []
        for i, cell in enumerate(cells, 1):
            if on_cell is not None:
                on_cell(i, len(cells), cell)
            try:
                run_cell(cell, str(cell_dir(out, cell)), progress)
            except LococoError as err:  # one failed cell must not stop the others
                failures.append(f"{cell.name}: {err}")
        if failures:
            raise CellsFailed(failures)
    elif launcher in ("slurm", "submitit-local"):
        _run_submitit(cells, Path(out), run_cell, launcher, dict(slurm or {}))
    else:
        raise LococoError(f"unknown launcher {launcher!r}; choose from {', '.join(LAUNCHERS)}")


def _run_submitit(
    cells: Sequence[NamedCell],
    out: Path,
    run_cell: RunCell,
    launcher: str,
    slurm: dict[str, Any],
) -> None:
    try:
        import submitit
    except ImportError:
        raise LococoError("--launcher slurm needs submitit: pip install 'lococo[slurm]'") from None
    if not cells:
        return
    folder = out / "jobs"
    if launcher == "slurm":
        executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
        executor.update_parameters(**{k: v for k, v in slurm.items() if v is not None})
    else:
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=int(slurm.get("timeout_min") or 60))
    with executor.batch():
        jobs = [executor.submit(run_cell, cell, str(cell_dir(out, cell)), False) for cell in cells]
    failures = []
    for cell, job in zip(cells, jobs, strict=True):
        try:
            job.result()
        except Exception as err:  # one failed cell must not hide the others
            failures.append(f"{cell.name} (job {job.job_id}): {str(err).splitlines()[-1]}")
    if failures:
        raise CellsFailed(failures)


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` as CSV (columns in order of first appearance), atomically; nothing when empty."""
    if not rows:
        return
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_open(Path(path), "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------- command line


def add_launcher_options(parser: Any) -> None:
    """``--launcher`` and the ``--slurm-*`` options every ``study`` command takes."""
    parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="local",
        help="local: cells one after another here; slurm: one submitit job per cell",
    )
    parser.add_argument("--slurm-partition", help="SLURM partition")
    parser.add_argument("--slurm-gpus", type=int, default=1, help="GPUs per job (default 1)")
    parser.add_argument("--slurm-cpus", type=int, default=8, help="CPUs per job (default 8)")
    parser.add_argument("--slurm-time", type=int, default=24 * 60, help="time limit in minutes")
    parser.add_argument("--slurm-mem-gb", type=int, default=None, help="memory per job in GB")


def slurm_parameters(args: Any) -> dict[str, Any]:
    """submitit parameters from the options of :func:`add_launcher_options`."""
    return {
        "slurm_partition": args.slurm_partition,
        "gpus_per_node": args.slurm_gpus,
        "cpus_per_task": args.slurm_cpus,
        "timeout_min": args.slurm_time,
        "mem_gb": args.slurm_mem_gb,
    }
