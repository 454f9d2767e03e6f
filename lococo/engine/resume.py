"""``--resume``: a run continues with the settings it was started with.

:func:`resume_config` gives a run's saved config and refuses (one line, exit 2, nothing
written) any option, override or ``--config`` file that would change it. The one accepted
change is training longer: a larger ``trainer.max_epochs`` is written to ``config.yaml``.
:func:`finished_result` lets a resumed run that has already finished keep its recorded
results instead of re-fitting zero epochs and overwriting them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from lococo.config.loading import apply_overrides, flatten, from_dict, read_yaml, to_dict
from lococo.config.validation import refuse_changes
from lococo.engine.run_dir import RunDir

T = TypeVar("T")


def resume_config(
    run: RunDir,
    schema: type[T],
    overrides: Mapping[str, Any],
    config_file: str | Path | None = None,
    *,
    check: Callable[[T], None] | None = None,
) -> T:
    """The saved config of ``run`` (``config.yaml``); refuses overrides or a ``--config`` file
    that would change it, except a larger ``trainer.max_epochs`` (then recorded)."""
    stored = run.read_config()
    saved = from_dict(schema, {k: v for k, v in stored.items() if k != "meta"}, str(run.config))
    if check is not None:
        check(saved)
    wanted = saved
    if config_file is not None:
        wanted = apply_overrides(wanted, flatten(read_yaml(config_file)), str(config_file))
    wanted = apply_overrides(wanted, dict(overrides), "override")
    extend = _longer(saved, wanted)
    if extend is not None:
        saved = apply_overrides(saved, {"trainer.max_epochs": extend}, "override")
    refuse_changes(run, to_dict(saved), to_dict(wanted))
    if extend is not None:
        run.write_config({**to_dict(saved), "meta": stored.get("meta", {})})
    return saved


def _longer(saved: Any, wanted: Any) -> int | None:
    """The new ``trainer.max_epochs`` when ``wanted`` asks to train longer than ``saved``."""
    before = getattr(saved, "trainer", {}).get("max_epochs")
    after = getattr(wanted, "trainer", {}).get("max_epochs")
    if isinstance(before, int) and isinstance(after, int) and after > before:
        return after
    return None


def finished_result(
    run: RunDir, section: str, cfg: Any, *outputs: str | Path
) -> dict[str, Any] | None:
    """The stored ``section`` of a run that already trained ``trainer.max_epochs`` epochs and
    wrote its ``outputs`` (file names in the run), with ``already_finished``; else ``None``."""
    done = run.read_results().get(section)
    if not isinstance(done, dict) or not all((run.path / o).is_file() for o in outputs):
        return None
    wanted = getattr(cfg, "trainer", {}).get("max_epochs")
    if isinstance(wanted, int) and int(done.get("epochs", 0)) < wanted:
        return None
    return {**done, "already_finished": True}
