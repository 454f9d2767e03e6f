"""The study runner every system shares: a grid of cells × seeds, skipping finished cells,
local or SLURM (submitit) launchers, and mean/std summaries over seeds with paired tests."""

from __future__ import annotations

from lococo.study.runner import LAUNCHERS, cell_dir, launch, parse_list, pending, run_grid
from lococo.study.stats import mean_std, paired_test, summarize_groups

__all__ = [
    "LAUNCHERS",
    "cell_dir",
    "launch",
    "mean_std",
    "paired_test",
    "parse_list",
    "pending",
    "run_grid",
    "summarize_groups",
]
