"""``lococo cmim study``: table 8.2 over methods × seeds on the shared study runner."""

from __future__ import annotations

import argparse
from typing import Any

from lococo.cli.common import add_config_options, run_study_command
from lococo.study.runner import add_launcher_options


def register_study(csub: Any) -> None:
    """Add ``study`` to the ``lococo cmim`` subcommands."""
    from lococo.cmim.seg_config import SEG_METHODS
    from lococo.cmim.study import DEFAULT_METHODS

    st = csub.add_parser(
        "study",
        help="table 8.2: train every method × seed, Dice per test-time modality, paired tests",
        description="Train each method with each seed (cells), evaluate each with one modality "
        "at a time and with all four, and write table 8.2 (mean ± std over seeds), paired "
        "Wilcoxon tests of CMIM against every other method and overlay figures. Finished "
        "cells are skipped and interrupted ones resume, so re-running continues a study.",
    )
    st.add_argument("--task", choices=("seg", "cls"), default="seg", help="task (default: seg)")
    st.add_argument(
        "--glove",
        help="--task cls: GloVe word-vector text file (default: DIR/glove.txt when present)",
    )
    st.add_argument("--data", required=True, help="dataset root")
    st.add_argument(
        "--format",
        choices=("brats", "brats2015", "decathlon"),
        help="dataset layout (default: brats, the NIfTI BraTS layout)",
    )
    st.add_argument("--out", required=True, help="study directory")
    st.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated, from {','.join(SEG_METHODS)} (default: %(default)s)",
    )
    st.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    add_launcher_options(st)
    add_config_options(st, "paper")
    st.set_defaults(handler=_study)


def _study(args: argparse.Namespace) -> int:
    if args.task == "cls":  # table 8.1: lococo.cli.cmim_cls_cmd
        from lococo.cli.cmim_cls_cmd import study_cls_command

        return study_cls_command(args)
    from lococo.cmim.seg_config import SEG_METHODS
    from lococo.cmim.study import SegStudySpec, run_study
    from lococo.config.loading import parse_overrides
    from lococo.study.runner import parse_list, parse_seeds

    overrides = parse_overrides(args.overrides)
    if args.format:
        overrides["data.format"] = args.format
    spec = SegStudySpec(
        data=args.data,
        methods=parse_list(args.methods, SEG_METHODS, "method"),
        seeds=parse_seeds(args.seeds),
        profile=args.profile,
        config_file=args.config,
        overrides=overrides,
    )

    return run_study_command(args, run_study, spec, print_table)


def print_table(result: dict[str, Any]) -> None:
    """Table 8.2 (Dice %, mean ± std over seeds) and the findings on the terminal."""
    from lococo.cli.tables import format_table
    from lococo.cmim.study import findings
    from lococo.report.cmim import percent

    methods = [str(m) for m in result["study"]["methods"]]
    rows = [
        {
            "input": entry["modality"],
            **{
                m: percent(
                    entry.get(f"{m}_mean"), entry.get(f"{m}_std"), entry.get(f"{m}_seeds", 0)
                )
                for m in methods
            },
        }
        for entry in result["summary"]
    ]
    print("\nDice (%) of the enhancing tumour per test-time input; mean ± std over seeds")
    print(format_table(rows, ["input", *methods]))
    for finding in findings(result):
        verdict = "holds" if finding["holds"] else "does not hold"
        if finding["holds"] and finding.get("significant") is not None:
            verdict += (
                " (p < 0.05 against each)" if finding["significant"] else " (not all p < 0.05)"
            )
        print(f"- {finding['finding']}: {verdict} ({finding['evidence']})")
