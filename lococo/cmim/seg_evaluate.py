"""Dice of a trained segmentation run for each single test-time modality and for all four.

Every test case is read whole; each axial slice is segmented (sigmoid > ``eval.threshold``)
from the modalities a condition gives, the slices are stacked back into a volume, and Dice on
the enhancing tumour is computed per case (:func:`lococo.metrics.dice`, BraTS empty-target
convention) and averaged over the test cases. ``results.json`` gets the section ``cmim_seg``:
``dice.{flair,t1,t1c,t2,all}`` (mean over cases; ``null`` for conditions the method cannot
take), ``dice_per_case`` and ``empty_dice`` (the same mean for an all-empty prediction).
``predictions.npz`` keeps, for ``eval.overlay_cases`` test cases, the slice with the most
enhancing tumour: ``image`` (K×4×H×W), ``target`` (K×H×W), ``pred_<condition>`` (K×H×W),
``case`` and ``slice``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from lococo.cmim.seg_config import SegConfig
from lococo.cmim.seg_models import TEST_INPUTS, SegModel, build_seg_model, presence
from lococo.cmim.seg_train import MODEL_FILE, pad_to_multiple
from lococo.config.loading import apply_overrides
from lococo.engine.callbacks import load_checkpoint
from lococo.engine.device import compute_device
from lococo.engine.run_dir import RunDir
from lococo.engine.weights import load_weights
from lococo.errors import LococoError
from lococo.io import atomic_open
from lococo.metrics.segmentation import dice

PREDICTIONS_FILE = "predictions.npz"


def load_seg_config(run: RunDir, overrides: dict[str, Any] | None = None) -> SegConfig:
    """The run's resolved config (``config.yaml``) with ``overrides`` applied."""
    return apply_overrides(run.saved_config(SegConfig), overrides or {}, "override")


def load_seg_model(run: RunDir, cfg: SegConfig) -> SegModel:
    """The trained model of ``run`` (``model.pt``, else the model inside ``last.ckpt``)."""
    model = build_seg_model(cfg)
    weights = run.path / MODEL_FILE
    if weights.exists():
        state = load_weights(weights, "model weights")
    elif run.last_checkpoint.exists():
        full = load_checkpoint(run.last_checkpoint)["state_dict"]
        state = {k.removeprefix("model."): v for k, v in full.items() if k.startswith("model.")}
    else:
        raise LococoError(
            f"{run.path}: no trained model ({MODEL_FILE} or checkpoints/last.ckpt); "
            "run `lococo cmim train --task seg` first"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise LococoError(
            f"{weights}: weights do not match method {cfg.method.name!r} "
            f"({str(err).splitlines()[0]})"
        ) from None
    return model.eval()


@torch.no_grad()
def segment_volume(
    model: SegModel, image: np.ndarray, condition: str, batch_size: int, threshold: float
) -> np.ndarray:
    """Binary ``D×H×W`` prediction for a ``4×D×H×W`` volume, slice by slice along ``D``."""
    device = next(model.parameters()).device
    slices = torch.from_numpy(np.ascontiguousarray(image.transpose(1, 0, 2, 3)))  # D×4×H×W
    if device.type == "cuda":
        slices = slices.pin_memory()
    h, w = slices.shape[-2:]
    out = []
    for start in range(0, slices.shape[0], batch_size):
        x = slices[start : start + batch_size].to(device, non_blocking=True).float()
        x = pad_to_multiple(x, model.downsampling)
        logits = model(x, presence(condition, x.shape[0], device))[:, 0, :h, :w]
        out.append(torch.sigmoid(logits) > threshold)
    return torch.cat(out).cpu().numpy()  # one copy back per volume


def evaluate_seg(
    run_path: str | Path,
    *,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Dice per test-time condition on the run's test cases; stored as ``cmim_seg``."""
    from lococo.cmim.seg_data import load_splits, test_volumes

    run = RunDir(Path(run_path))
    run.check_writable()  # refuse before computing, not after
    cfg = load_seg_config(run, overrides)
    cases = load_splits(cfg)["test"]
    if not cases:
        raise LococoError(f"{cfg.data.path}: no test cases (raise data.test_fraction)")
    model = load_seg_model(run, cfg).to(compute_device(cfg.trainer))
    torch.manual_seed(cfg.seed)
    conditions = [c for c in TEST_INPUTS if c in model.test_inputs]
    per_case: dict[str, dict[str, float]] = {c: {} for c in conditions}
    empty: dict[str, float] = {}
    overlays: list[dict[str, Any]] = []
    for volume in tqdm(test_volumes(cases), desc="evaluate", disable=not progress):
        target = torch.from_numpy(volume.target)[None]
        empty[volume.case_id] = float(dice(torch.zeros_like(target), target)[0])
        keep = len(overlays) < cfg.eval.overlay_cases
        if keep:
            k = int(volume.target.sum(axis=(1, 2)).argmax())
            item: dict[str, Any] = {
                "case": volume.case_id,
                "slice": k,
                "image": volume.image[:, k],
                "target": volume.target[k],
            }
        for c in conditions:
            pred = segment_volume(model, volume.image, c, cfg.eval.batch_size, cfg.eval.threshold)
            per_case[c][volume.case_id] = float(dice(torch.from_numpy(pred)[None], target)[0])
            if keep:
                item[f"pred_{c}"] = pred[k]
        if keep:
            overlays.append(item)
    result: dict[str, Any] = {
        "method": cfg.method.name,
        "modality": cfg.method.modality if cfg.method.name == "single" else None,
        "test_cases": len(cases),
        "dice": {c: _mean(per_case[c]) if c in per_case else None for c in TEST_INPUTS},
        "empty_dice": _mean(empty),
        "dice_per_case": per_case,
        "convention": "Dice of the enhancing tumour per case (3-D), mean over test cases; "
        "empty target: 1 if the prediction is empty, else 0 (BraTS)",
        "predictions": PREDICTIONS_FILE if overlays else None,
    }
    result["overrides"] = dict(overrides or {})
    if overlays:
        with run.keeping_results("cmim_seg", result):
            _save_overlays(run.path / PREDICTIONS_FILE, overlays, conditions)
    run.write_result("cmim_seg", result)
    return result


def _mean(values: dict[str, float]) -> float:
    return float(np.mean(list(values.values()))) if values else float("nan")


def _save_overlays(path: Path, items: list[dict[str, Any]], conditions: list[str]) -> None:
    arrays = {
        "image": np.stack([i["image"] for i in items]).astype(np.float32),
        "target": np.stack([i["target"] for i in items]).astype(np.uint8),
        "case": np.array([i["case"] for i in items]),
        "slice": np.array([i["slice"] for i in items], dtype=np.int64),
        **{
            f"pred_{c}": np.stack([i[f"pred_{c}"] for i in items]).astype(np.uint8)
            for c in conditions
        },
    }
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
