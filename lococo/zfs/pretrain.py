"""ZFS pretraining: seen-class training images only -> a trained encoder in a run directory."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from lococo.config.loading import to_dict
from lococo.data.zsl.images import ZSLImageDataset
from lococo.data.zsl.types import ZSLData
from lococo.engine.device import loader_options
from lococo.engine.run_dir import RunDir, is_rank_zero, run_metadata
from lococo.engine.trainer import build_trainer
from lococo.engine.weights import load_weights, save_weights
from lococo.zfs.config import ZFSConfig
from lococo.zfs.data import load_zsl_for, zsl_images
from lococo.zfs.losses import attribute_targets
from lococo.zfs.methods import method_class
from lococo.zfs.methods.base import ZFSMethod
from lococo.zfs.pairing import ClassPartnerDataset, MultiViewDataset


def training_dataset(module: ZFSMethod, train_set: ZSLImageDataset) -> Dataset:
    """What ``module`` trains on: single images, two views, or image + same-class partner."""
    if module.views == 1:
        return train_set
    if module.pairing == "class_partner":
        return ClassPartnerDataset(train_set, train_set.targets, p=module.partner_probability)
    return MultiViewDataset(train_set, module.views)


def seen_label_map(data: ZSLData) -> dict[int, int]:
    """Seen class id -> training target ``0..S-1`` (sorted by class id)."""
    return {int(c): i for i, c in enumerate(data.seen_classes)}


def build_method(cfg: ZFSConfig, data: ZSLData) -> ZFSMethod:
    """The configured method; AC targets come from the seen classes' raw attributes only."""
    seen = np.asarray(data.seen_classes)
    targets = attribute_targets(np.asarray(data.class_attributes_raw)[seen])
    return method_class(cfg.method.name, cfg.method.base)(to_dict(cfg), targets)


def pretrain(
    cfg: ZFSConfig, run: RunDir, *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train the encoder with ``cfg.method``; returns (and stores) the ``pretrain`` results.

    Resuming a run that already finished returns its stored results (``already_finished``)."""
    run.check_writable()
    if resume:
        done = run.read_results().get("pretrain")
        wanted_epochs = cfg.trainer.get("max_epochs")
        extended = isinstance(wanted_epochs, int) and done is not None
        extended = extended and int(done.get("epochs", 0)) < wanted_epochs
        if done is not None and not extended and (run.path / "encoder.pt").exists():
            return {**done, "already_finished": True}
        if run.last_checkpoint.exists():  # a corrupt checkpoint stops before any log is written
            load_weights(run.last_checkpoint, "checkpoint")
    data = load_zsl_for(cfg.data)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if not resume:
        run.write_config({**to_dict(cfg), "meta": run_metadata()})
    labels_map = seen_label_map(data)

    train_set = zsl_images(
        data, data.trainval, cfg.data, train=True, labels_map=labels_map, progress=progress
    )
    val_set = zsl_images(  # seen-class test images: monitoring only
        data, data.test_seen, cfg.data, train=False, labels_map=labels_map, progress=progress
    )
    loader_args = {
        "batch_size": cfg.data.batch_size,
        **loader_options(cfg.data.num_workers, cfg.trainer),
    }
    module = build_method(cfg, data)
    train_data = training_dataset(module, train_set)
    train_loader = DataLoader(
        train_data,
        shuffle=True,
        drop_last=len(train_set) > cfg.data.batch_size,
        **loader_args,
    )
    val_loader = DataLoader(val_set, shuffle=False, **loader_args)
    trainer = build_trainer(
        run, dict(cfg.trainer), checkpoint_interval_s=cfg.checkpoint_interval_s, progress=progress
    )
    ckpt = run.last_checkpoint if resume and run.last_checkpoint.exists() else None
    start = time.perf_counter()
    trainer.fit(
        module,
        train_loader,
        val_loader if len(val_set) else None,
        ckpt_path=ckpt,
        weights_only=True,
    )
    elapsed = time.perf_counter() - start
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    result = {
        "method": cfg.method.name,
        "local_loss": cfg.method.local_loss,
        "encoder": cfg.encoder.name,
        "image_size": cfg.data.image_size,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "train_images": len(train_set),
        "seen_classes": len(labels_map),
        "fit_seconds": round(elapsed, 2),
        "resumed_from": str(ckpt) if ckpt else None,
        "metrics": metrics,
    }
    if is_rank_zero():
        save_weights(module.encoder.state_dict(), run.path / "encoder.pt")
        run.write_result("pretrain", result)
    return result
