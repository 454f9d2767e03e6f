"""``lococo data ...``: write synthetic data in the real formats, validate dataset trees."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lococo.data.families import FORMATS


def register(sub: Any) -> None:
    data = sub.add_parser("data", help="synthetic data and dataset validation")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    synth = dsub.add_parser("synth", help="write synthetic data in a real dataset format")
    ssub = synth.add_subparsers(dest="synth_kind", metavar="KIND", required=True)
    zsl = ssub.add_parser("zsl", help='"compositional birds" in the CUB-200-2011 + xlsa17 layout')
    zsl.add_argument("--out", required=True, help="output directory (must be absent or empty)")
    zsl.add_argument("--seed", type=int, default=0)
    zsl.add_argument("--classes", type=int, default=50, help="number of classes (default 50)")
    zsl.add_argument("--unseen", type=int, default=10, help="unseen (test) classes (default 10)")
    zsl.add_argument("--images-per-class", type=int, default=40)
    zsl.add_argument("--image-size", type=int, default=64, help="image side in pixels (default 64)")
    zsl.add_argument(
        "--preset",
        choices=("simple", "realistic"),
        default="simple",
        help="simple: the original birds (bit-identical for a seed); realistic: textures, "
        "part-like clutter, articulation, occlusion, habitats, noisier attributes",
    )
    zsl.add_argument("--workers", type=int, default=2, help="parallel writer threads")
    zsl.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    zsl.add_argument("--no-progress", action="store_true")
    zsl.set_defaults(handler=_synth_zsl)
    layout = ssub.add_parser(
        "layout", help='"synthetic scenes" (layouts with stuff and things) in the COCO-Stuff layout'
    )
    layout.add_argument("--out", required=True, help="output directory (must be absent or empty)")
    layout.add_argument("--seed", type=int, default=0)
    layout.add_argument("--images", type=int, default=1000, help="images in all (default 1000)")
    layout.add_argument(
        "--image-size", type=int, default=64, help="image side in pixels (default 64)"
    )
    layout.add_argument(
        "--val-fraction", type=float, default=0.2, help="share of images in val2017 (default 0.2)"
    )
    layout.add_argument("--workers", type=int, default=1, help="parallel writer processes")
    layout.add_argument(
        "--class-colours",
        action="store_true",
        help="each object class wears its own colours (default: one palette shared by all)",
    )
    layout.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    layout.add_argument("--no-progress", action="store_true")
    layout.set_defaults(handler=_synth_layout)
    cxr = ssub.add_parser("cxr", help="chest X-rays + reports in the Open-I (NLMCXR) layout")
    cxr.add_argument("--out", required=True, help="output directory (must be absent or empty)")
    cxr.add_argument("--seed", type=int, default=0)
    cxr.add_argument("--reports", type=int, default=400, help="number of reports (default 400)")
    cxr.add_argument("--image-size", type=int, default=64, help="image side in pixels (default 64)")
    cxr.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    cxr.add_argument("--no-progress", action="store_true")
    cxr.set_defaults(handler=_synth_cxr)
    mri = ssub.add_parser("mri", help="brain-tumour phantoms in the BraTS NIfTI 2018-2021 layout")
    mri.add_argument("--out", required=True, help="output directory (must be absent or empty)")
    mri.add_argument("--seed", type=int, default=0)
    mri.add_argument("--cases", type=int, default=30, help="number of cases (default 30)")
    mri.add_argument("--size", type=int, default=64, help="in-plane side in voxels (default 64)")
    mri.add_argument(
        "--tumour-scale", type=float, default=1.0, help="multiply tumour radii (default 1)"
    )
    mri.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    mri.add_argument("--no-progress", action="store_true")
    mri.set_defaults(handler=_synth_mri)

    check = dsub.add_parser("check", help="validate a dataset tree and print a summary")
    check.add_argument("path", help="dataset root")
    check.add_argument("--format", required=True, choices=tuple(FORMATS))
    check.add_argument(
        "--splits", metavar="DIR", help="cub|awa2|sun: xlsa17 split folder (default: under path)"
    )
    check.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    check.add_argument("--no-verify-images", action="store_true", help="skip decoding every image")
    check.add_argument("--no-progress", action="store_true")
    check.set_defaults(handler=_check)


def _synth_zsl(args: argparse.Namespace) -> int:
    from lococo.data.zsl.synth import synth_zsl
    from lococo.errors import LococoError

    try:
        info = synth_zsl(
            args.out,
            seed=args.seed,
            classes=args.classes,
            unseen=args.unseen,
            images_per_class=args.images_per_class,
            image_size=args.image_size,
            workers=args.workers,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            preset=args.preset,
        )
    except ValueError as err:
        raise LococoError(str(err)) from None
    print(
        f"wrote {info.num_images} images of {len(info.class_names)} classes "
        f"({len(info.unseen_classes)} unseen) to {info.root} "
        f"({info.images_per_second:.0f} images/s)"
    )
    return 0


def _synth_layout(args: argparse.Namespace) -> int:
    from lococo.data.layout.synth import synth_layout

    info = synth_layout(
        args.out,
        seed=args.seed,
        images=args.images,
        image_size=args.image_size,
        val_fraction=args.val_fraction,
        workers=args.workers,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        class_colours=args.class_colours,
    )
    print(
        f"wrote {info.num_images} scenes (train2017 {info.split_images['train']}, "
        f"val2017 {info.split_images['val']}; {info.donut_images} with overlapping same-class "
        f"boxes) to {info.root} ({info.images_per_second:.0f} images/s)"
    )
    return 0


def _synth_mri(args: argparse.Namespace) -> int:
    from lococo.data.mri.synth import synth_mri

    info = synth_mri(
        args.out,
        seed=args.seed,
        cases=args.cases,
        size=args.size,
        tumour_scale=args.tumour_scale,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    d, h, w = info.shape
    print(
        f"wrote {len(info.case_ids)} cases of {d}×{h}×{w} voxels to {info.root} "
        f"({info.cases_per_second:.1f} cases/s)"
    )
    return 0


def _synth_cxr(args: argparse.Namespace) -> int:
    from lococo.data.cxr.synth import synth_cxr

    info = synth_cxr(
        args.out,
        seed=args.seed,
        reports=args.reports,
        image_size=args.image_size,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(
        f"wrote {info.reports} reports ({info.reports_without_images} without images) and "
        f"{info.images} images to {info.root} in {info.seconds:.1f} s"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from lococo.data.families import check_module

    checker = check_module(args.format)
    options: dict[str, Any] = {}
    if args.splits is not None:
        if FORMATS[args.format] != "zsl":
            from lococo.errors import LococoError

            raise LococoError(f"--splits applies to cub|awa2|sun, not {args.format}")
        options["splits_dir"] = args.splits
    summary = checker.check_dataset(
        args.path,
        args.format,
        verify_images=not args.no_verify_images,
        progress=not (args.no_progress or args.json),
        **options,
    )
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    for line in checker.summary_lines(summary):
        print(line)
    return 0
