"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def format_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], floats: str = "{:.3f}"
) -> str:
    """Align ``rows`` (dicts) under ``columns``; floats use ``floats``; missing cells show ``-``."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return floats.format(value)
        return str(value)

    body = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [
        max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(columns)
    ]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    out = [line, rule] + [
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body
    ]
    return "\n".join(out)


def print_zsl(result: dict[str, Any]) -> None:
    keys = ("top1", "top1_sample", "chance", "seen", "unseen", "harmonic")
    print("zero-shot evaluation (unseen classes: per-class top-1; GZSL: seen/unseen/harmonic)")
    print(format_table([{k: result[k] for k in keys}], keys))


def print_study(summary: list[dict[str, Any]]) -> None:
    """ZSL top-1 per model, local loss and encoder (mean ± std when there are several seeds),
    with the analysis measures when the cells were analysed."""

    def stat(r: dict[str, Any], metric: str) -> str | None:
        if r.get(f"{metric}_mean") is None:
            return None
        mean = f"{r[f'{metric}_mean']:.3f}"
        return mean if r["seeds"] == 1 else f"{mean} ± {r[f'{metric}_std']:.3f}"

    measures = {
        "top1": "top1",
        "harmonic": "harmonic",
        "parts_f1": "parts F1",
        "tre_ratio": "TRE ratio",
        "zsl_avg_repr": "avg repr",
        "zsl_avg_pred": "avg pred",
    }
    shown = [m for m in measures if any(r.get(f"{m}_mean") is not None for r in summary)]
    rows = [
        {
            "model": r["model"],
            "local": r["local_loss"],
            "encoder": r["encoder"],
            "seeds": r["seeds"],
            **{measures[m]: stat(r, m) for m in shown},
            "chance": r["chance"],
        }
        for r in sorted(summary, key=lambda r: -r["top1_mean"])
    ]
    print("zero-shot top-1 on unseen classes (per-class mean; mean ± std over seeds)")
    columns = ["model", "local", "encoder", "seeds", *(measures[m] for m in shown), "chance"]
    print(format_table(rows, columns))


ANALYSIS_KEYS = (
    "parts_f1",
    "tre_ratio",
    "parts_ratio_corr_attr",
    "parts_ratio_corr_ssim",
    "zsl_avg_repr",
    "zsl_avg_pred",
)


def print_analysis(result: dict[str, Any]) -> None:
    """The headline locality / compositionality measures of one analysed encoder."""
    print("locality and compositionality (parts F1 up, TRE ratio down; r: Pearson vs parts ratio)")
    print(format_table([{k: result.get(k) for k in ANALYSIS_KEYS}], ANALYSIS_KEYS))
