"""``lococo zfs ...``: pretrain encoders under the ZFS rule and evaluate them zero-shot."""

from __future__ import annotations

import argparse
from typing import Any

from lococo.cli.common import add_config_options, run_study_command
from lococo.study.runner import add_launcher_options
from lococo.zfs.config import METHODS as METHOD_NAMES


def register(sub: Any) -> None:
    zfs = sub.add_parser("zfs", help="zero-shot learning from scratch (thesis ch. 4)")
    zsub = zfs.add_subparsers(dest="zfs_command", metavar="SUBCOMMAND", required=True)

    pre = zsub.add_parser("pretrain", help="pretrain an encoder on seen-class images only")
    pre.add_argument(
        "--data", help="dataset root (CUB-200-2011 layout with xlsa17 splits, AwA2, SUN)"
    )
    pre.add_argument(
        "--format", choices=("cub", "awa2", "sun"), help="dataset format (default: cub)"
    )
    pre.add_argument(
        "--splits", metavar="DIR", help="xlsa17 split folder (default: found under --data)"
    )
    pre.add_argument("--method", choices=METHOD_NAMES, help="pretraining method (default: fc)")
    pre.add_argument("--encoder", choices=("basic", "alexnet"), help="encoder architecture")
    pre.add_argument("--local-loss", choices=("none", "ac", "lc"), help="auxiliary local loss")
    pre.add_argument("--out", required=True, help="run directory to create")
    pre.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    pre.add_argument("--evaluate", action="store_true", help="run zero-shot evaluation afterwards")
    add_config_options(pre, "paper")
    pre.set_defaults(handler=_pretrain)

    st = zsub.add_parser(
        "study",
        help="run the study grid (pretrain -> evaluate per cell) and summarise it",
        description="Cells already finished are skipped and interrupted ones resume, so "
        "re-running the same command continues a killed study.",
    )
    st.add_argument("--data", required=True, help="dataset root")
    st.add_argument(
        "--format", choices=("cub", "awa2", "sun"), help="dataset format (default: cub)"
    )
    st.add_argument("--out", required=True, help="study directory")
    st.add_argument("--methods", default=",".join(METHOD_NAMES), help="comma-separated methods")
    st.add_argument("--local-losses", default="none", help="comma-separated: none,ac,lc")
    st.add_argument("--encoders", default="basic", help="comma-separated: basic,alexnet")
    st.add_argument("--seeds", default="0", help="comma-separated integer seeds")
    st.add_argument("--cmdim-p", default="1,0.5,0.1", help="CMDIM matching probabilities")
    st.add_argument(
        "--overwrite",
        action="store_true",
        help="remove the study in --out first (e.g. one made with other settings)",
    )
    st.add_argument(
        "--cmdim-base",
        default="",
        help="CMDIM base models to compare, comma-separated: dim,twopass "
        "(default: the profile's method.base)",
    )
    add_launcher_options(st)
    add_config_options(st, "paper")
    st.set_defaults(handler=_study)

    ev = zsub.add_parser("evaluate", help="prototypical-network zero-shot evaluation of a run")
    ev.add_argument("run", help="run directory written by `lococo zfs pretrain`")
    ev.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. zsl.epochs=200")
    ev.add_argument(
        "--allow-unfinished",
        action="store_true",
        help="evaluate a run whose pretraining has not finished (its last checkpoint); the "
        "result is marked from_unfinished_run with the checkpoint's epoch",
    )
    ev.add_argument("--no-progress", action="store_true", help="hide progress bars")
    ev.set_defaults(handler=_evaluate)

    an = zsub.add_parser(
        "analyze",
        help="parts F1, TRE ratio, MI heatmaps, parts ratio, pooling studies of a run or backbone",
        description="Measure locality and compositionality of a pretrained run's frozen encoder "
        "(or of a torchvision backbone with --backbone) and write results.json's 'analysis' "
        "section, figures/*.png and report.html.",
    )
    an.add_argument(
        "targets",
        nargs="*",
        metavar="RUN [key=value ...]",
        help="run directory written by `lococo zfs pretrain` (none with --backbone), then "
        "config overrides, e.g. analysis.pairs=5000",
    )
    an.add_argument(
        "--allow-unfinished",
        action="store_true",
        help="analyse a run whose pretraining has not finished (its last checkpoint); the "
        "result is marked from_unfinished_run with the checkpoint's epoch",
    )
    an.add_argument("--backbone", help="analyse torchvision.models.<NAME> instead of a run")
    an.add_argument("--weights", help="local state_dict file for --backbone (default: random)")
    an.add_argument(
        "--local-layer", default="layer2", help="backbone layer of the local map (default layer2)"
    )
    an.add_argument("--global-layer", help="backbone layer pooled into the global vector")
    an.add_argument("--data", help="dataset root (with --backbone)")
    an.add_argument("--format", choices=("cub", "awa2", "sun"), help="dataset format")
    an.add_argument("--out", help="run directory to create (with --backbone)")
    an.add_argument(
        "--profile", choices=("quick", "paper"), default="quick", help="with --backbone"
    )
    an.add_argument("--no-progress", action="store_true", help="hide progress bars")
    an.set_defaults(handler=_analyze)

    cmp_ = zsub.add_parser(
        "compare",
        help="figs. 4.5/4.6 across datasets from several studies (one study per dataset)",
    )
    cmp_.add_argument("studies", nargs="+", metavar="STUDY", help="study directories")
    cmp_.add_argument("--out", required=True, help="directory for the figures and summary.json")
    cmp_.set_defaults(handler=_compare)


def _pretrain(args: argparse.Namespace) -> int:
    from lococo.cli.tables import print_zsl
    from lococo.config.loading import load_config, parse_overrides
    from lococo.engine.run_dir import is_rank_zero, open_run
    from lococo.zfs.config import ZFSConfig, check_zfs_config
    from lococo.zfs.evaluate import evaluate, resume_config
    from lococo.zfs.pretrain import pretrain

    overrides = parse_overrides(args.overrides)
    for option, key in (
        ("data", "data.path"),
        ("format", "data.format"),
        ("splits", "data.splits_dir"),
        ("method", "method.name"),
        ("encoder", "encoder.name"),
        ("local_loss", "method.local_loss"),
    ):
        if getattr(args, option) is not None:
            overrides[key] = getattr(args, option)
    if args.resume:
        run = open_run(args.out, resume=True)
        cfg = resume_config(run, overrides, args.config)
    else:
        cfg = load_config(
            ZFSConfig,
            system="zfs",
            profile=args.profile,
            config_file=args.config,
            overrides=overrides,
        )
        check_zfs_config(cfg)
        run = open_run(args.out, resume=False)
    result = pretrain(cfg, run, resume=args.resume, progress=not args.no_progress)
    if not is_rank_zero():  # other DDP processes stop here; rank 0 reports and evaluates
        return 0
    done = "already finished: " if result.get("already_finished") else ""
    print(
        f"{done}pretrained {result['method']} encoder in {run.path} "
        f"({result['epochs']} epochs, {result['fit_seconds']:.0f} s)"
    )
    if args.evaluate:
        zsl = evaluate(run, progress=not args.no_progress)
        print_zsl(zsl)
        print(weights_line(run.path, zsl))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from lococo.cli.main import showing_unsaved
    from lococo.cli.tables import print_zsl
    from lococo.config.loading import parse_overrides
    from lococo.engine.run_dir import RunDir
    from lococo.zfs.evaluate import evaluate

    with showing_unsaved(print_zsl):
        run = RunDir(_existing(args.run))
        zsl = evaluate(
            run,
            parse_overrides(args.overrides),
            progress=not args.no_progress,
            allow_unfinished=args.allow_unfinished,
        )
    print_zsl(zsl)
    print(weights_line(run.path, zsl))
    return 0


def weights_line(run: Any, zsl: dict[str, Any]) -> str:
    """``weights: RUN/encoder.pt (epoch 10, finished run)`` for the printed result."""
    epoch = "" if zsl.get("epoch") is None else f"epoch {zsl['epoch']}, "
    state = "UNFINISHED run" if zsl.get("from_unfinished_run") else "finished run"
    return f"weights: {run}/{zsl.get('checkpoint', 'encoder.pt')} ({epoch}{state})"


def _analyze(args: argparse.Namespace) -> int:
    from lococo.cli.main import showing_unsaved
    from lococo.cli.tables import print_analysis
    from lococo.config.loading import parse_overrides
    from lococo.engine.run_dir import RunDir
    from lococo.errors import LococoError
    from lococo.report import render_report
    from lococo.zfs.analyze import BackboneSpec, analyze, analyze_backbone

    progress = not args.no_progress
    runs = [t for t in args.targets if "=" not in t]
    overrides = parse_overrides([t for t in args.targets if "=" in t])
    if args.backbone is None:
        if len(runs) != 1:
            raise LococoError("give one run directory, or --backbone NAME --data DIR --out RUN")
        run = RunDir(_existing(runs[0]))
        with showing_unsaved(print_analysis):
            result = analyze(
                run, overrides, progress=progress, allow_unfinished=args.allow_unfinished
            )
    else:
        if runs:
            raise LococoError(f"--backbone analyses a new run in --out; unexpected {runs[0]!r}")
        if not args.data or not args.out:
            raise LococoError("--backbone needs --data DIR and --out RUN")
        overrides["data.path"] = args.data
        if args.format:
            overrides["data.format"] = args.format
        spec = BackboneSpec(args.backbone, args.local_layer, args.global_layer, args.weights)
        with showing_unsaved(print_analysis):
            run, result = analyze_backbone(
                spec, args.out, args.profile, overrides, progress=progress
            )
    print_analysis(result)
    html, _ = render_report(run.path)
    print(f"\nreport: {html}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lococo.zfs.study_figures import compare_studies

    out = Path(args.out)
    for figure in compare_studies([Path(s) for s in args.studies], out):
        print(f"figure: {out / figure}")
    print(f"summary: {out / 'summary.json'}")
    return 0


def _existing(path: str):
    from pathlib import Path

    from lococo.errors import LococoError

    p = Path(path)
    if not p.is_dir():
        raise LococoError(f"{p}: run directory not found")
    return p


def _study(args: argparse.Namespace) -> int:
    from lococo.cli.tables import print_study
    from lococo.config.loading import parse_overrides
    from lococo.study.runner import parse_list, parse_seeds
    from lococo.zfs.config import CMDIM_BASES, LOCAL_LOSSES
    from lococo.zfs.study import StudySpec, run_study

    overrides = parse_overrides(args.overrides)
    if args.format:
        overrides["data.format"] = args.format
    spec = StudySpec(
        data=args.data,
        methods=parse_list(args.methods, METHOD_NAMES, "method"),
        local_losses=parse_list(args.local_losses, LOCAL_LOSSES, "local loss"),
        encoders=parse_list(args.encoders, ("basic", "alexnet"), "encoder"),
        seeds=parse_seeds(args.seeds),
        cmdim_p=[_probability(p) for p in parse_list(args.cmdim_p)],
        cmdim_bases=parse_list(args.cmdim_base, CMDIM_BASES, "CMDIM base")
        if args.cmdim_base
        else (),
        profile=args.profile,
        config_file=args.config,
        overrides=overrides,
    )

    return run_study_command(
        args, run_study, spec, lambda result: print_study(result["summary"]),
        overwrite=args.overwrite,
    )  # fmt: skip


def _probability(text: str) -> float:
    from lococo.errors import LococoError

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise LococoError(f"CMDIM p {text!r} must be a number in [0, 1]")
    return value
