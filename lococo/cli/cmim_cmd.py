"""``lococo cmim ...``: cross-modal training with every modality, evaluation with one.

Tasks plug in through :data:`TASKS` (``--task seg`` now; ``cls`` adds its entry); the
``study`` subcommand is registered by :func:`register_study` (see the end of
:func:`register`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lococo.cli.cmim_cls_cmd import evaluate_cls_command, train_cls_command
from lococo.cli.common import add_config_options
from lococo.cmim.cls_config import CLS_METHODS
from lococo.cmim.seg_config import SEG_METHODS, SEG_MODALITIES


@dataclass(frozen=True)
class Task:
    """One CMIM task: its config system name, methods, and train / evaluate entry points."""

    system: str  # config profile files: lococo/configs/<system>_<profile>.yaml
    methods: tuple[str, ...]
    train: Callable[[argparse.Namespace, dict[str, Any]], int]
    evaluate: Callable[[str, dict[str, Any], bool], dict[str, Any]]
    results_section: str


def _train_seg(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    from lococo.cmim.seg_config import SegConfig
    from lococo.cmim.seg_train import train_seg
    from lococo.config.loading import load_config
    from lococo.engine.resume import resume_config
    from lococo.engine.run_dir import is_rank_zero, open_run
    from lococo.engine.trainer import validate_trainer_config

    if args.modality is not None:
        overrides["method.modality"] = args.modality
    run = open_run(args.out, resume=args.resume)
    if args.resume:
        cfg = resume_config(run, SegConfig, overrides, args.config)
    else:
        cfg = load_config(
            SegConfig,
            system="cmim_seg",
            profile=args.profile,
            config_file=args.config,
            overrides=overrides,
        )
    validate_trainer_config(cfg.trainer)
    progress = not args.no_progress
    result = train_seg(cfg, run, resume=args.resume, progress=progress)
    if not is_rank_zero():
        return 0
    done = "already finished: " if result.get("already_finished") else ""
    print(
        f"{done}trained {result['method']} in {run.path} "
        f"({result['epochs']} epochs, {result['fit_seconds']:.0f} s)"
    )
    if not args.no_evaluate:
        _evaluate_seg(str(run.path), {}, progress)
    return 0


def _evaluate_seg(run: str, overrides: dict[str, Any], progress: bool) -> dict[str, Any]:
    from lococo.cli.main import showing_unsaved
    from lococo.cmim.seg_evaluate import evaluate_seg

    with showing_unsaved(print_seg):
        result = evaluate_seg(run, overrides=overrides, progress=progress)
    print_seg(result)
    return result


def print_seg(result: dict[str, Any]) -> None:
    """Dice per test-time input of one run."""
    from lococo.cli.tables import format_table

    columns = [*SEG_MODALITIES, "all", "empty"]
    row = {**result["dice"], "empty": result["empty_dice"]}
    label = result["method"] + (f" ({result['modality']})" if result.get("modality") else "")
    print(f"Dice (enhancing tumour, mean over {result['test_cases']} test cases) — {label}")
    print(format_table([row], columns))


#: ``--task`` → entry points.
TASKS: dict[str, Task] = {
    "seg": Task("cmim_seg", SEG_METHODS, _train_seg, _evaluate_seg, "cmim_seg"),
    "cls": Task("cmim_cls", CLS_METHODS, train_cls_command, evaluate_cls_command, "cmim_cls"),
}


def register(sub: Any) -> None:
    cmim = sub.add_parser("cmim", help="cross-modal mutual-information maximisation (thesis ch. 8)")
    csub = cmim.add_subparsers(dest="cmim_command", metavar="SUBCOMMAND", required=True)

    tr = csub.add_parser(
        "train",
        help="train with every modality (then evaluate with each one alone)",
        description="Train a CMIM model or a baseline on all modalities; unless --no-evaluate, "
        "then measure Dice for each single test-time modality and for all four.",
    )
    tr.add_argument("--task", choices=tuple(TASKS), default="seg", help="task (default: seg)")
    tr.add_argument("--data", help="dataset root")
    tr.add_argument(
        "--format",
        choices=("brats", "brats2015", "decathlon"),
        help="dataset layout (default: brats, the NIfTI BraTS layout)",
    )
    methods = sorted({m for t in TASKS.values() for m in t.methods}, key=_method_order)
    tr.add_argument("--method", choices=methods, help="method (default: cmim)")
    tr.add_argument(
        "--modality", choices=SEG_MODALITIES, help="the input of --method single (default: t1c)"
    )
    tr.add_argument(
        "--glove",
        help="--task cls: GloVe word-vector text file (default: DIR/glove.txt when present)",
    )
    tr.add_argument("--out", required=True, help="run directory to create")
    tr.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    tr.add_argument("--no-evaluate", action="store_true", help="skip the evaluation afterwards")
    add_config_options(tr, "paper")
    tr.set_defaults(handler=_train)

    ev = csub.add_parser("evaluate", help="Dice for each single test-time modality and all four")
    ev.add_argument("run", help="run directory written by `lococo cmim train`")
    ev.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. eval.threshold=0.4")
    ev.add_argument("--no-progress", action="store_true", help="hide progress bars")
    ev.set_defaults(handler=_evaluate)

    register_study(csub)


def register_study(csub: Any) -> None:
    """``lococo cmim study`` (table 8.2 on the shared study runner)."""
    from lococo.cli.cmim_study_cmd import register_study as register

    register(csub)


def _method_order(name: str) -> int:
    order = [m for t in TASKS.values() for m in t.methods]
    return order.index(name)


def _train(args: argparse.Namespace) -> int:
    from lococo.config.loading import parse_overrides
    from lococo.errors import LococoError

    task = TASKS[args.task]
    if args.method is not None and args.method not in task.methods:
        raise LococoError(
            f"method {args.method!r} does not apply to --task {args.task}; "
            f"choose one of {', '.join(task.methods)}"
        )
    overrides = parse_overrides(args.overrides)
    for option, key in (
        ("data", "data.path"),
        ("format", "data.format"),
        ("method", "method.name"),
    ):
        if getattr(args, option) is not None:
            overrides[key] = getattr(args, option)
    return task.train(args, overrides)


def _evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lococo.config.loading import parse_overrides
    from lococo.engine.run_dir import RunDir
    from lococo.errors import LococoError

    path = Path(args.run)
    if not path.is_dir():
        raise LococoError(f"{path}: run directory not found")
    task_name = RunDir(path).read_config().get("task", "seg")
    if task_name not in TASKS:
        raise LococoError(f"{path}/config.yaml: unknown task {task_name!r}")
    TASKS[task_name].evaluate(str(path), parse_overrides(args.overrides), not args.no_progress)
    return 0
