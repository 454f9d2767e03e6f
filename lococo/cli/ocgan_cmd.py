"""``lococo ocgan ...``: object-centric layout-to-image generation (thesis ch. 6)."""

from __future__ import annotations

import argparse
from typing import Any

from lococo.cli.common import add_config_options


def register(sub: Any) -> None:
    ocgan = sub.add_parser("ocgan", help="layout-to-image generation: OC-GAN (thesis ch. 6)")
    osub = ocgan.add_subparsers(dest="ocgan_command", metavar="SUBCOMMAND", required=True)

    pre = osub.add_parser(
        "pretrain-sgsm",
        help="train the scene-graph similarity module, evaluate graph<->image retrieval",
        description="Train the SGSM (thesis 6.3.1) on the training scenes of a layout dataset, "
        "then rank held-out scenes: results.json gets sgsm.g2i_r1/r5, sgsm.i2g_r1/r5 and "
        "sgsm.candidates (chance R@1 = 1/candidates); the trained module goes to sgsm.pt, the "
        "attention maps to figures/sgsm_attention.png, and the report to report.html.",
    )
    pre.add_argument("--data", help="dataset root (COCO-Stuff 2017 layout or sg2im VG)")
    pre.add_argument(
        "--format",
        choices=("coco-stuff", "vg"),
        help="dataset format (default: coco-stuff)",
    )
    pre.add_argument("--out", required=True, help="run directory to create")
    pre.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    add_config_options(pre, "paper")
    pre.set_defaults(handler=_pretrain_sgsm)


def _pretrain_sgsm(args: argparse.Namespace) -> int:
    from lococo.config.loading import load_config, parse_overrides
    from lococo.engine.run_dir import is_rank_zero, open_run
    from lococo.engine.trainer import validate_trainer_config
    from lococo.ocgan.config import SGSMRunConfig
    from lococo.ocgan.sgsm_train import pretrain_sgsm, resume_config
    from lococo.report import render_report

    overrides = parse_overrides(args.overrides)
    for option, key in (("data", "data.path"), ("format", "data.format")):
        if getattr(args, option) is not None:
            overrides[key] = getattr(args, option)
    run = open_run(args.out, resume=args.resume)
    if args.resume:
        cfg = resume_config(run, overrides, args.config)
    else:
        cfg = load_config(
            SGSMRunConfig,
            system="sgsm",
            profile=args.profile,
            config_file=args.config,
            overrides=overrides,
        )
    validate_trainer_config(cfg.trainer)
    result = pretrain_sgsm(cfg, run, resume=args.resume, progress=not args.no_progress)
    if not is_rank_zero():
        return 0
    chance = result["chance_r1"]
    print(
        f"SGSM ({result['image_encoder']}) trained in {run.path}: {result['epochs']} epochs, "
        f"{result['fit_seconds']:.0f} s"
    )
    print(
        f"retrieval over {result['candidates']} held-out scenes ({result['eval_split']}; chance "
        f"R@1 {chance:.4f}): graph->image R@1 {result['g2i_r1']:.3f} R@5 {result['g2i_r5']:.3f}, "
        f"image->graph R@1 {result['i2g_r1']:.3f} R@5 {result['i2g_r5']:.3f}"
    )
    html, _ = render_report(run.path)
    print(f"report: {html}")
    return 0
