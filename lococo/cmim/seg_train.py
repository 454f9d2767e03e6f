"""CMIM segmentation training: 2-D axial slices of four-modality MRI -> a run directory.

:class:`SegModule` wires any :mod:`lococo.cmim.seg_models` model into Lightning (the model
returns its weighted loss terms; the module sums and logs them). :func:`train_seg` builds the
data, trains on the shared engine (atomic checkpoints, resume, NaN guard, logs) and stores
``model.pt`` and the ``cmim_seg_train`` section of ``results.json``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lococo.cmim.seg_config import SEG_MODALITIES, SegConfig
from lococo.cmim.seg_models import MeanImputationModel, SegModel, build_seg_model, presence
from lococo.config.loading import from_dict, to_dict
from lococo.engine.device import loader_options
from lococo.engine.resume import finished_result
from lococo.engine.run_dir import RunDir, is_rank_zero, run_metadata
from lococo.engine.trainer import build_trainer
from lococo.errors import ConfigError
from lococo.io import atomic_open

MODEL_FILE = "model.pt"


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Zero-pad the last two dims of ``x`` up to multiples of ``multiple`` (bottom/right)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


def group_ids(cases: Sequence[Any] | Tensor) -> Tensor:
    """Integer ids of a batch's case names (equal names, equal ids)."""
    if isinstance(cases, Tensor):
        return cases.reshape(-1)
    index: dict[Any, int] = {}
    return torch.tensor([index.setdefault(c, len(index)) for c in cases], dtype=torch.long)


def soft_dice(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """Hard Dice over all pixels of a batch (validation monitor, not the per-case metric)."""
    pred = (logits > 0).float()
    target = target.float()
    return (2 * (pred * target).sum() + eps) / (pred.sum() + target.sum() + eps)


class EpochSlices(L.Callback):
    """Let the training slice dataset draw a new (deterministic) sample every epoch."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dataset = getattr(trainer.train_dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(trainer.current_epoch)


class SegModule(L.LightningModule):
    """Trains one segmentation model; batches are dicts with ``image`` ``B×4×H×W``,
    ``target`` ``B×1×H×W`` and ``case`` (names or ids: slices of one case are never each
    other's negatives in the MI loss)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.cfg = from_dict(SegConfig, config, "config")
        self.model: SegModel = build_seg_model(self.cfg)

    def _inputs(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        m = self.model.downsampling
        image = pad_to_multiple(batch["image"].float(), m)
        target = pad_to_multiple(batch["target"].float(), m)
        return image, target

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        image, target = self._inputs(batch)
        groups = group_ids(batch["case"]).to(image.device) if "case" in batch else None
        terms = self.model.training_losses(image, target, groups)
        loss = torch.stack(list(terms.values())).sum()
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        for name, value in terms.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        image, target = self._inputs(batch)
        for condition in self.model.test_inputs:
            logits = self.model(image, presence(condition, image.shape[0], image.device))
            self.log(f"val/dice_{condition}", soft_dice(logits, target), on_epoch=True)

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        return torch.optim.Adam(self.parameters(), lr=o.lr, weight_decay=o.weight_decay)


def modality_means(dataset: Dataset, batch_size: int = 64) -> Tensor:
    """Mean intensity of each modality over every pixel of ``dataset``'s images (4 values)."""
    total = torch.zeros(len(SEG_MODALITIES), dtype=torch.float64)
    count = 0
    for batch in DataLoader(dataset, batch_size=batch_size):
        image = batch["image"].to(torch.float64)
        total += image.sum(dim=(0, 2, 3))
        count += image.shape[0] * image.shape[2] * image.shape[3]
    return (total / max(count, 1)).float()


def train_seg(
    cfg: SegConfig, run: RunDir, *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train ``cfg.method`` on the training cases' slices; returns (and stores as
    ``cmim_seg_train``) a summary of the fit. Evaluate with
    :func:`lococo.cmim.seg_evaluate.evaluate_seg`. Resuming a run that already finished
    returns its stored summary (``already_finished``)."""
    from lococo.cmim.seg_data import load_splits, slice_dataset

    run.check_writable()
    if resume and (done := finished_result(run, "cmim_seg_train", cfg, MODEL_FILE)):
        return done
    splits = load_splits(cfg)  # validates the data before anything is written
    if len(cfg.model.widths) < 2:
        raise ConfigError("model.widths needs at least two levels")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = SegModule(to_dict(cfg))  # validates the method's keys
    if not resume:
        run.write_config({**to_dict(cfg), "meta": run_metadata()})
    train_set = slice_dataset(splits["train"], cfg, train=True, progress=progress)
    val_set = slice_dataset(splits["val"], cfg, train=False) if splits["val"] else None
    if isinstance(module.model, MeanImputationModel):
        module.model.set_means(modality_means(train_set))
    loader_args = {
        "batch_size": cfg.data.batch_size,
        **loader_options(cfg.data.num_workers, cfg.trainer),
    }
    train_loader = DataLoader(
        train_set, shuffle=True, drop_last=len(train_set) > cfg.data.batch_size, **loader_args
    )
    val_loader = DataLoader(val_set, shuffle=False, **loader_args) if val_set else None
    trainer = build_trainer(
        run,
        dict(cfg.trainer),
        checkpoint_interval_s=cfg.checkpoint_interval_s,
        callbacks=[EpochSlices()],
        progress=progress,
    )
    ckpt = run.last_checkpoint if resume and run.last_checkpoint.exists() else None
    start = time.perf_counter()
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt, weights_only=True)
    elapsed = time.perf_counter() - start
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    result = {
        "method": cfg.method.name,
        "modality": cfg.method.modality if cfg.method.name == "single" else None,
        "test_inputs": list(module.model.test_inputs),
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "train_cases": len(splits["train"]),
        "val_cases": len(splits["val"]),
        "test_cases": len(splits["test"]),
        "train_slices": len(train_set),
        "parameters": sum(p.numel() for p in module.model.parameters()),
        "fit_seconds": round(elapsed, 2),
        "resumed_from": str(ckpt) if ckpt else None,
        "metrics": metrics,
    }
    if is_rank_zero():
        with atomic_open(run.path / MODEL_FILE, "wb") as handle:
            torch.save(module.model.state_dict(), handle)
        run.write_result("cmim_seg_train", result)
    return result
