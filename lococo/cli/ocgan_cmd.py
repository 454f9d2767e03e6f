"""``lococo ocgan ...``: object-centric layout-to-image generation (thesis ch. 6)."""

from __future__ import annotations

import argparse
from typing import Any

from lococo.cli.common import add_config_options, run_study_command


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
    register_gan(osub)


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


def register_gan(osub: Any) -> None:
    """``train``, ``sample``, ``evaluate``, ``donut`` and ``study`` (thesis 6.3.2–6.4.6)."""
    from lococo.study.runner import add_launcher_options

    tr = osub.add_parser(
        "train",
        help="train the OC-GAN (layout -> image) with the frozen SGSM of a pretrain-sgsm run",
        description="Train generator and discriminators (thesis 6.3.3-6.3.4) with manual "
        "D-then-G steps. Writes generator.pt, results.json (ocgan_train), fixed-noise sample "
        "grids with the layouts drawn (figures/train_samples_*.png) and report.html.",
    )
    tr.add_argument("--data", help="dataset root (COCO-Stuff 2017 layout or sg2im VG)")
    tr.add_argument("--format", choices=("coco-stuff", "vg"), help="dataset format")
    tr.add_argument("--sgsm", help="SGSM run directory (lococo ocgan pretrain-sgsm)")
    tr.add_argument("--out", required=True, help="run directory to create")
    tr.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    tr.add_argument("--evaluate", action="store_true", help="run `evaluate` afterwards")
    add_config_options(tr, "paper")
    tr.set_defaults(handler=_train)

    sa = osub.add_parser(
        "sample",
        help="generate images from a layout JSON file, with layout-editing figures",
        description='FILE.json is a list of scenes, each a list of {"label": NAME, "box": '
        "[x0, y0, x1, y1]} with coordinates in [0, 1]. Writes DIR/images/scene<i>_<k>.png, "
        "DIR/grid.png (boxes and labels drawn) and DIR/editing.png (each scene again with one "
        "object moved and one resized under the same noise).",
    )
    sa.add_argument("run", help="training run directory (lococo ocgan train)")
    sa.add_argument("--layouts", required=True, metavar="FILE.json", help="layout JSON file")
    sa.add_argument("--out", required=True, help="output directory (absent or empty)")
    sa.add_argument("--seed", type=int, default=0, help="noise seed (same seed, same images)")
    sa.add_argument("--per-layout", type=int, default=1, help="images per layout (default 1)")
    sa.set_defaults(handler=_sample)

    ev = osub.add_parser(
        "evaluate",
        help="FID, KID, IS, SceneFID and CA of a trained run on held-out layouts",
        description="Generate one image per held-out layout and write results.json -> ocgan: "
        "fid, kid, is_mean/is_std/is_splits, scene_fid, ca (generated crops), ca_real (real "
        "test crops), ca_chance, comparable and the extractor names.",
    )
    ev.add_argument("run", help="training run directory (lococo ocgan train)")
    ev.add_argument("--split", help="layouts to evaluate on (default: eval.split of the run)")
    ev.add_argument(
        "--weights-dir", help="directory with the FID Inception weights (else $LOCOCO_WEIGHTS_DIR)"
    )
    ev.add_argument(
        "--substitute",
        action="store_true",
        help="use lococo's CA classifier as feature extractor (not comparable)",
    )
    ev.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. eval.max_scenes=500")
    ev.add_argument("--no-progress", action="store_true", help="hide progress bars")
    ev.set_defaults(handler=_evaluate)

    do = osub.add_parser(
        "donut",
        help="fig. 6.1: two same-class objects converging; how often they stay distinct",
        description="Generate layouts in which two objects of one class move towards each "
        "other and measure, on the generator's placed masks, the fraction of layouts where the "
        "two objects stay distinct (see docs/ocgan.md). With --compare RUN2 both models.",
    )
    do.add_argument("run", help="training run directory")
    do.add_argument("--out", required=True, help="output directory (absent or empty)")
    do.add_argument("--compare", metavar="RUN2", help="a second run (e.g. without boundaries)")
    do.add_argument("--seed", type=int, default=0)
    do.add_argument("--layouts", type=int, default=64, help="random layouts per distance")
    do.set_defaults(handler=_donut)

    st = osub.add_parser(
        "study",
        help="table 6.4: the ablation rows x seeds as one grid, mean +- std over seeds",
        description="Each row is one override set (full, no_sgsm, no_object_d, "
        "no_object_d_no_sgsm, no_boundaries, patch_d_1, no_patch_d, no_perceptual, "
        "no_perceptual_no_sgsm); each cell trains and evaluates one row with one seed. "
        "Finished cells are skipped and interrupted ones resume.",
    )
    st.add_argument("--data", required=True, help="dataset root")
    st.add_argument("--format", choices=("coco-stuff", "vg"), help="dataset format")
    st.add_argument("--sgsm", required=True, help="SGSM run directory")
    st.add_argument("--out", required=True, help="study directory")
    st.add_argument("--ablations", default="full,no_object_d_no_sgsm", help="comma-separated rows")
    st.add_argument("--seeds", default="0,1", help="comma-separated seeds (default 0,1)")
    add_launcher_options(st)
    add_config_options(st, "paper")
    st.set_defaults(handler=_study)


def _train(args: argparse.Namespace) -> int:
    from lococo.config.loading import load_config, parse_overrides
    from lococo.engine.run_dir import is_rank_zero, open_run
    from lococo.ocgan.gan_config import GANRunConfig, check_gan_config
    from lococo.ocgan.gan_train import resume_config, train_gan
    from lococo.report import render_report

    overrides = parse_overrides(args.overrides)
    for option, key in (("data", "data.path"), ("format", "data.format"), ("sgsm", "sgsm_run")):
        if getattr(args, option) is not None:
            overrides[key] = getattr(args, option)
    if args.resume:
        run = open_run(args.out, resume=True)
        cfg = resume_config(run, overrides, args.config)
    else:
        cfg = load_config(
            GANRunConfig,
            system="ocgan",
            profile=args.profile,
            config_file=args.config,
            overrides=overrides,
        )
        check_gan_config(cfg)
        run = open_run(args.out, resume=False)
    result = train_gan(cfg, run, resume=args.resume, progress=not args.no_progress)
    if not is_rank_zero():
        return 0
    done = "already finished: " if result.get("already_finished") else ""
    print(
        f"{done}OC-GAN trained in {run.path}: {result['iterations']} iterations, "
        f"{result['epochs']} epochs, {result['fit_seconds']:.0f} s "
        f"({result['cpu_seconds_per_iteration']:.3f} CPU s/iteration)"
    )
    if args.evaluate:
        from lococo.ocgan.gan_evaluate import evaluate_gan

        print_metrics(evaluate_gan(run.path, progress=not args.no_progress))
    html, _ = render_report(run.path)
    print(f"report: {html}")
    return 0


def print_metrics(result: dict[str, Any]) -> None:
    comparable = "" if result.get("comparable") else " (not comparable: substitute extractor)"
    print(
        f"FID {result['fid']:.2f}  KID {result['kid']:.4f}  IS {result['is_mean']:.2f} ± "
        f"{result['is_std']:.2f}  SceneFID {result['scene_fid']:.2f}{comparable}"
    )
    print(
        f"CA generated crops {result['ca']:.3f}, real test crops {result['ca_real']:.3f}, "
        f"chance {result['ca_chance']:.3f} ({result['classes']} classes)"
    )


def _sample(args: argparse.Namespace) -> int:
    from lococo.ocgan.gan_sample import sample_layouts

    result = sample_layouts(
        args.run, args.layouts, args.out, seed=args.seed, per_layout=args.per_layout
    )
    print(
        f"wrote {result['images']} images of {result['scenes']} layouts to {args.out}/images, "
        f"the grid to {args.out}/grid.png and the editing figure to {args.out}/editing.png"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from lococo.config.loading import parse_overrides
    from lococo.ocgan.gan_evaluate import evaluate_gan
    from lococo.report import render_report

    overrides = parse_overrides(args.overrides)
    if args.split:
        overrides["eval.split"] = args.split
    if args.substitute:
        overrides["eval.extractor"] = "substitute"
    result = evaluate_gan(
        args.run, overrides, weights_dir=args.weights_dir, progress=not args.no_progress
    )
    print_metrics(result)
    html, _ = render_report(args.run)
    print(f"report: {html}")
    return 0


def _donut(args: argparse.Namespace) -> int:
    from lococo.ocgan.donut import run_donut

    result = run_donut(
        args.run, args.out, compare=args.compare, seed=args.seed, layouts=args.layouts
    )
    for name, model in result["models"].items():
        print(
            f"{name}: objects distinct in {model['distinct_overlapping']:.3f} of overlapping "
            f"layouts, {model['distinct_all']:.3f} of all ({model['run']})"
        )
    print(f"figure: {args.out}/donut.png, numbers: {args.out}/donut.json")
    return 0


def _study(args: argparse.Namespace) -> int:
    from lococo.config.loading import parse_overrides
    from lococo.ocgan.gan_study import ABLATIONS, GANStudySpec, print_table, run_study
    from lococo.study.runner import parse_list, parse_seeds

    overrides = parse_overrides(args.overrides)
    if args.format:
        overrides["data.format"] = args.format
    spec = GANStudySpec(
        data=args.data,
        sgsm=args.sgsm,
        ablations=tuple(parse_list(args.ablations, list(ABLATIONS), "ablation")),
        seeds=tuple(parse_seeds(args.seeds)),
        profile=args.profile,
        config_file=args.config,
        overrides=overrides,
    )

    return run_study_command(args, run_study, spec, print_table)
