"""``lococo cmim train|evaluate|study --task cls``: the classification entry points.

:mod:`lococo.cli.cmim_cmd` dispatches here through its ``TASKS`` table (``cls``) and its
study subcommand.
"""

from __future__ import annotations

import argparse
from typing import Any


def train_cls_command(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    """Train one classification run (``--glove`` → ``data.glove``), then evaluate it."""
    from lococo.cmim.cls_config import ClsConfig
    from lococo.cmim.cls_train import train_cls
    from lococo.config.loading import load_config
    from lococo.engine.resume import resume_config
    from lococo.engine.run_dir import is_rank_zero, open_run

    if getattr(args, "glove", None):
        overrides["data.glove"] = args.glove
    if getattr(args, "modality", None) is not None:
        from lococo.errors import LococoError

        raise LococoError("--modality applies to --task seg only")
    run = open_run(args.out, resume=args.resume)
    if args.resume:
        cfg = resume_config(run, ClsConfig, overrides, args.config)
    else:
        cfg = load_config(
            ClsConfig,
            system="cmim_cls",
            profile=args.profile,
            config_file=args.config,
            overrides=overrides,
        )
    progress = not args.no_progress
    result = train_cls(cfg, run, resume=args.resume, progress=progress)
    if not is_rank_zero():
        return 0
    done = "already finished: " if result.get("already_finished") else ""
    print(
        f"{done}trained {result['method']} in {run.path} "
        f"({result['epochs']} epochs, {result['fit_seconds']:.0f} s)"
    )
    if not args.no_evaluate:
        evaluate_cls_command(str(run.path), {}, progress)
    return 0


def evaluate_cls_command(run: str, overrides: dict[str, Any], progress: bool) -> dict[str, Any]:
    from lococo.cli.main import showing_unsaved
    from lococo.cmim.cls_evaluate import evaluate_cls

    with showing_unsaved(print_cls):
        result = evaluate_cls(run, overrides=overrides, progress=progress)
    print_cls(result)
    return result


def print_cls(result: dict[str, Any]) -> None:
    """AUC per class and macro of one run (image alone at test time)."""
    from lococo.cli.tables import format_table

    rows = [{"class": name, "AUC": f"{value:.3f}"} for name, value in result["auc"].items()]
    rows.append({"class": "macro", "AUC": f"{result['auc_macro']:.3f}"})
    print(
        f"ROC-AUC from the image alone — {result['method']} "
        f"({result['test_images']} test images, {result['test_patients']} patients)"
    )
    print(format_table(rows, ["class", "AUC"]))
    if result.get("skipped"):
        print(f"no AUC (one outcome only in the test set): {', '.join(result['skipped'])}")


def study_cls_command(args: argparse.Namespace) -> int:
    """``lococo cmim study --task cls``: table 8.1 over methods × seeds."""
    from lococo.cli.common import run_study_command
    from lococo.cmim.cls_config import CLS_METHODS
    from lococo.cmim.cls_study import ClsStudySpec, run_cls_study
    from lococo.config.loading import parse_overrides
    from lococo.study.runner import parse_list, parse_seeds

    overrides = parse_overrides(args.overrides)
    if getattr(args, "glove", None):
        overrides["data.glove"] = args.glove
    from lococo.cmim.study import DEFAULT_METHODS as SEG_DEFAULT

    # the shared --methods default names the segmentation methods: use ours instead
    methods = ",".join(CLS_METHODS) if args.methods == ",".join(SEG_DEFAULT) else args.methods
    spec = ClsStudySpec(
        data=args.data,
        methods=parse_list(methods, CLS_METHODS, "method"),
        seeds=parse_seeds(args.seeds),
        profile=args.profile,
        config_file=args.config,
        overrides=overrides,
    )

    return run_study_command(args, run_cls_study, spec, print_cls_table)


def print_cls_table(result: dict[str, Any]) -> None:
    """Table 8.1 (macro AUC, mean ± std over seeds), the paired test and per-class gaps."""
    from lococo.cli.tables import format_table
    from lococo.cmim.cls_study import auc_text

    rows = [
        {
            "method": e["method"],
            "seeds": e["seeds"],
            "AUC": auc_text(e["auc_mean"], e["auc_std"], e["seeds"]),
        }
        for e in result["summary"]
    ]
    print("\nTable 8.1: ROC-AUC (macro over classes) from the image alone; mean ± std over seeds")
    print(format_table(rows, ["method", "seeds", "AUC"]))
    test = result.get("test")
    if test:
        print(
            f"CMIM − image_only: {test['mean_diff']:+.3f} over {test['n']} seed(s) "
            f"(wins {test['wins']}/{test['n']}; Wilcoxon p={test['p']:.2g}, "
            f"paired t p={test['t_p']:.2g})"
        )
        print("per class (CMIM − image_only, mean ± std over seeds, CMIM wins):")
    for row in result.get("per_class") or []:
        if row.get("diff_mean") is not None:
            spread = f" ± {row['diff_std']:.3f}" if row["n"] > 1 else ""
            print(
                f"  {row['class']}: {row['diff_mean']:+.3f}{spread} (wins {row['wins']}/{row['n']})"
            )
