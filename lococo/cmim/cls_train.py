"""CMIM chest X-ray classification training: images + reports -> a run directory.

:func:`prepare_cls_data` reads and validates everything a run needs (reports, labels, the
optional view list, the GloVe file) before anything is written. :class:`ClsModule` wires
:class:`~lococo.cmim.cls_models.CMIMClassifier` or the image-only baseline into Lightning (the
model returns the eq. 8.3.5 terms; the module logs them, and the validation macro AUC from the
image alone). :func:`train_cls` writes ``splits.json`` (patient-level, seeded),
``vocab.json``, trains on the shared engine (atomic checkpoints, resume, NaN guard, logs) and
stores ``model.pt`` and the ``cmim_cls_train`` section of ``results.json``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from lococo.cmim.cls_config import ClsConfig
from lococo.cmim.cls_losses import ClsLossWeights
from lococo.cmim.cls_models import CMIMClassifier, ImageOnlyClassifier
from lococo.cmim.seg_train import EpochSlices
from lococo.config.loading import from_dict, to_dict
from lococo.engine.device import loader_options
from lococo.engine.resume import finished_result
from lococo.engine.run_dir import RunDir, is_rank_zero, run_metadata
from lococo.engine.trainer import build_trainer
from lococo.errors import LococoError
from lococo.io import atomic_open, read_json, write_json

MODEL_FILE = "model.pt"
SPLITS_FILE = "splits.json"
VOCAB_FILE = "vocab.json"
TRAIN_SECTION = "cmim_cls_train"


# --------------------------------------------------------------------------- data


@dataclass
class ClsData:
    """Samples per split, label names, vocabulary and (when read) the embedding matrix."""

    splits: dict[str, list[Any]]  # split -> [lococo.data.cxr.openi.Sample]
    patients: dict[str, list[str]]
    label_names: tuple[str, ...]
    vocab: Any  # lococo.data.cxr.text.Vocabulary
    embeddings: Tensor | None
    view_list: str | None
    dropped: dict[str, int]
    glove_coverage: float | None = None


def view_list_of(cfg: ClsConfig) -> str | None:
    """The view list a run uses: ``data.view_list``, else ``path/views.csv`` if present."""
    if not cfg.data.frontal_only:
        return None
    if cfg.data.view_list:
        return cfg.data.view_list
    default = Path(cfg.data.path) / "views.csv"
    return str(default) if default.is_file() else None


def glove_path_of(cfg: ClsConfig) -> str:
    """``data.glove``, else ``path/glove.txt`` (the synthetic data's file) when present."""
    if cfg.data.glove:
        return cfg.data.glove
    default = Path(cfg.data.path) / "glove.txt"
    if default.is_file():
        return str(default)
    raise LococoError("CMIM classification needs word vectors: pass --glove FILE (data.glove)")


def prepare_cls_data(
    cfg: ClsConfig, *, with_text: bool = True, splits: dict[str, list[str]] | None = None
) -> ClsData:
    """Read the data of ``cfg`` (validated; nothing written). ``with_text`` also reads the
    GloVe file and builds the embedding matrix of the training vocabulary; ``splits``
    (patient ids per split, e.g. a run's ``splits.json``) replaces the seeded split."""
    from lococo.data.cxr.dataset import prepare_openi
    from lococo.data.cxr.glove import read_glove
    from lococo.data.cxr.splits import split_indices

    if not cfg.data.path:
        raise LococoError("no dataset: pass --data DIR (data.path)")
    val, test = cfg.data.val_fraction, cfg.data.test_fraction
    if val < 0 or test <= 0 or val + test >= 1:
        raise LococoError(
            f"data.val_fraction={val} and data.test_fraction={test}: need val >= 0, test > 0 "
            "and val + test < 1"
        )
    views = view_list_of(cfg)
    prepared = prepare_openi(
        cfg.data.path,
        labels=cfg.data.labels or None,
        view_list=views,
        fractions=(1 - val - test, val, test),
        seed=cfg.seed,
        image_dir=cfg.data.image_dir or None,
        min_count=cfg.data.min_count,
    )
    by_split, patients = prepared.splits, prepared.patients
    if splits is not None:
        samples = [s for part in by_split.values() for s in part]
        index = split_indices([s.patient_id for s in samples], splits)
        by_split = {name: [samples[i] for i in idx] for name, idx in index.items()}
        patients = splits
    if not by_split.get("train"):
        raise LococoError(f"{cfg.data.path}: no training images after the split")
    embeddings, coverage = None, None
    if with_text:
        glove_file = glove_path_of(cfg)
        glove = read_glove(glove_file)
        embeddings = prepared.vocab.embedding_matrix(glove)
        coverage = prepared.vocab.coverage(glove)
    return ClsData(
        by_split,
        patients,
        prepared.label_names,
        prepared.vocab,
        embeddings,
        views,
        prepared.dropped,
        coverage,
    )


def dataset(cfg: ClsConfig, data: ClsData, split: str, *, train: bool = False) -> Any:
    from lococo.data.cxr.dataset import CXRDataset

    return CXRDataset(
        data.splits[split],
        data.vocab,
        cfg.data.image_size,
        max_len=cfg.data.max_len,
        shift=cfg.data.shift if train else 0,
        seed=cfg.seed,
    )


# --------------------------------------------------------------------------- model


def build_cls_model(
    cfg: ClsConfig, num_classes: int, embeddings: Tensor | None
) -> ImageOnlyClassifier:
    """The configured classifier; ``embeddings`` (``V×d``) is required for CMIM."""
    from lococo.cmim.image import ImageEncoder
    from lococo.cmim.text import TextCNN

    m = cfg.model
    image = ImageEncoder(
        m.depth, m.local_layer, cfg.data.image_size, m.weights or None
    )  # validates depth / layer, reads local weights
    if cfg.method.name == "image_only":
        return ImageOnlyClassifier(image, num_classes, m.dropout)
    if embeddings is None:
        raise LococoError("the CMIM classifier needs the word-embedding matrix")
    text = TextCNN(
        embeddings,
        m.text_channels,
        m.text_blocks,
        m.kernel_size,
        m.text_global,
        freeze=m.freeze_embeddings,
    )
    return CMIMClassifier(
        image,
        text,
        num_classes,
        joint_dim=m.joint_dim,
        fusion_rank=m.fusion_rank or None,
        critic_hidden=m.critic_hidden,
        critic_layers=m.critic_layers,
        local_embed=m.local_embed,
        dropout=m.dropout,
    )


def loss_weights(cfg: ClsConfig) -> ClsLossWeights:
    mth = cfg.method
    return ClsLossWeights(mth.lambda_lg, mth.lambda_ll, mth.lambda_c)


def macro_auc(scores: np.ndarray, labels: np.ndarray) -> tuple[float, dict[int, float]]:
    """Mean ROC-AUC over the columns that have both classes (``nan`` if none) and the
    per-column AUCs (scikit-learn ``roc_auc_score``)."""
    from sklearn.metrics import roc_auc_score

    per = {}
    for k in range(labels.shape[1]):
        y = labels[:, k]
        if 0 < y.sum() < len(y):
            per[k] = float(roc_auc_score(y, scores[:, k]))
    return (float(np.mean(list(per.values()))) if per else float("nan")), per


class ClsModule(L.LightningModule):
    """Trains one classifier on batches of :func:`lococo.data.cxr.dataset.collate`."""

    def __init__(self, config: dict[str, Any], num_classes: int, vocab_size: int, dim: int):
        super().__init__()
        self.save_hyperparameters(
            {"config": config, "num_classes": num_classes, "vocab_size": vocab_size, "dim": dim}
        )
        self.cfg = from_dict(ClsConfig, config, "config")
        embeddings = torch.zeros(vocab_size, dim) if dim > 0 else None
        self.model = build_cls_model(self.cfg, num_classes, embeddings)
        self.weights = loss_weights(self.cfg)
        self._val: list[tuple[Tensor, Tensor]] = []

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        out = self.model(batch["image"], batch["tokens"], batch["lengths"])
        terms = self.model.losses(out, batch["labels"], self.weights, self.cfg.method.estimator)
        loss = terms.pop("total")
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        for name, value in terms.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._val.append((self.model.predict(batch["image"]).float().cpu(), batch["labels"].cpu()))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        scores = torch.cat([s for s, _ in self._val]).numpy()
        labels = torch.cat([y for _, y in self._val]).numpy()
        self._val.clear()
        auc, _ = macro_auc(scores, labels)
        if np.isfinite(auc):
            self.log("val/auc_macro", auc, prog_bar=True)

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)


# --------------------------------------------------------------------------- training


def check_config(cfg: ClsConfig) -> None:
    """Cheap checks of values the schema cannot express."""
    from lococo.data.cxr.labels import resolve_labels
    from lococo.engine.trainer import validate_trainer_config

    if cfg.data.labels:
        resolve_labels(cfg.data.labels)
    for key in ("image_size", "max_len", "batch_size", "min_count"):
        if getattr(cfg.data, key) < 1:
            raise LococoError(f"data.{key} must be positive, got {getattr(cfg.data, key)}")
    validate_trainer_config(cfg.trainer)


def train_cls(
    cfg: ClsConfig, run: RunDir, *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train ``cfg.method`` on the training patients' images (and reports for CMIM); returns
    (and stores as ``cmim_cls_train``) a summary. Evaluate with
    :func:`lococo.cmim.cls_evaluate.evaluate_cls`. Resuming a run that already finished
    returns its stored summary (``already_finished``)."""
    from lococo.data.cxr.dataset import collate
    from lococo.data.cxr.splits import balanced_sampler, read_splits, write_splits

    check_config(cfg)
    run.check_writable()
    if resume and (done := finished_result(run, TRAIN_SECTION, cfg, MODEL_FILE)):
        return done
    splits_file = run.path / SPLITS_FILE
    saved = read_splits(splits_file) if resume and splits_file.exists() else None
    # validates the data (and the GloVe file for CMIM) before anything is written
    data = prepare_cls_data(cfg, with_text=cfg.method.name == "cmim", splits=saved)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    train_set = dataset(cfg, data, "train", train=True)
    val_set = dataset(cfg, data, "val") if data.splits.get("val") else None
    dim = int(data.embeddings.shape[1]) if data.embeddings is not None else 0
    module = ClsModule(to_dict(cfg), len(data.label_names), len(data.vocab), dim)
    if isinstance(module.model, CMIMClassifier) and data.embeddings is not None:
        module.model.text.embedding.weight.data.copy_(data.embeddings)
    if is_rank_zero():
        if not resume:
            run.write_config({**to_dict(cfg), "meta": run_metadata()})
        write_splits(run.path / SPLITS_FILE, data.patients, cfg.seed)
        write_json(
            run.path / VOCAB_FILE,
            {"words": data.vocab.words, "dim": dim},
        )
    loader_args: dict[str, Any] = {
        "batch_size": cfg.data.batch_size,
        **loader_options(cfg.data.num_workers, cfg.trainer),
        "collate_fn": collate,
    }
    drop_last = len(train_set) > cfg.data.batch_size
    if cfg.data.rebalance:
        sampler = balanced_sampler(train_set.labels.numpy(), len(train_set), cfg.seed)
        train_loader = DataLoader(train_set, sampler=sampler, drop_last=drop_last, **loader_args)
    else:
        train_loader = DataLoader(train_set, shuffle=True, drop_last=drop_last, **loader_args)
    val_loader = DataLoader(val_set, shuffle=False, **loader_args) if val_set else None
    trainer = build_trainer(
        run,
        dict(cfg.trainer),
        checkpoint_interval_s=cfg.checkpoint_interval_s,
        callbacks=[EpochSlices()],  # the shifts of an epoch do not depend on a resume
        progress=progress,
    )
    ckpt = run.last_checkpoint if resume and run.last_checkpoint.exists() else None
    start = time.perf_counter()
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt, weights_only=True)
    elapsed = time.perf_counter() - start
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    counts = train_set.labels.sum(dim=0).tolist()
    result = {
        "method": cfg.method.name,
        "labels": list(data.label_names),
        "train_label_counts": dict(zip(data.label_names, map(int, counts), strict=True)),
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "patients": {k: len(v) for k, v in data.patients.items()},
        "images": {k: len(v) for k, v in data.splits.items()},
        "dropped": data.dropped,
        "view_list": data.view_list,
        "frontal_only": data.view_list is not None,
        "rebalance": cfg.data.rebalance,
        "vocabulary": len(data.vocab),
        "glove_dim": dim or None,
        "glove_coverage": data.glove_coverage,
        "image_weights": module.model.image.weights_source,
        "parameters": sum(p.numel() for p in module.model.parameters() if p.requires_grad),
        "fit_seconds": round(elapsed, 2),
        "resumed_from": str(ckpt) if ckpt else None,
        "metrics": metrics,
    }
    if is_rank_zero():
        with atomic_open(run.path / MODEL_FILE, "wb") as handle:
            torch.save(module.model.state_dict(), handle)
        run.write_result(TRAIN_SECTION, result)
    return result


def read_vocab(run: RunDir) -> tuple[list[str], int]:
    """The words and GloVe dimension a run's text encoder was built with."""
    path = run.path / VOCAB_FILE
    if not path.is_file():
        raise LococoError(f"{path}: missing (the run has not been trained)")
    data = read_json(path)
    return [str(w) for w in data["words"]], int(data["dim"])
