"""SGSM pretraining on the engine, retrieval evaluation, and loading a trained SGSM frozen.

``pretrain_sgsm`` trains on the ``data.train_split`` scenes, then evaluates retrieval on held-out
scenes (``data.eval_split``, falling back to ``val``): every scene graph of the pool is scored
against every image of the pool with ``Sim^L + Sim^G`` (eq. 6.3.2–6.3.3) and the ranks of the
true partners give ``g2i_r1/r5`` (graph → image) and ``i2g_r1/r5`` (image → graph); chance
R@k is ``k / candidates`` (ties are broken at random, in expectation). Results go to the
``sgsm`` section of ``results.json``; the trained weights and the vocabulary to ``sgsm.pt``
(:func:`load_sgsm`); the attention maps to ``figures/sgsm_attention.png``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from lococo.config.loading import from_dict, to_dict
from lococo.data.layout.types import LayoutData
from lococo.engine.device import loader_options
from lococo.engine.resume import finished_result
from lococo.engine.resume import resume_config as shared_resume_config
from lococo.engine.run_dir import RunDir, is_rank_zero, run_metadata
from lococo.engine.trainer import build_trainer
from lococo.engine.weights import load_weights
from lococo.errors import ConfigError, DataError, LococoError
from lococo.io import atomic_open
from lococo.ocgan.config import SGSMRunConfig
from lococo.ocgan.sgsm import SGSM, build_image_encoder, sgsm_state
from lococo.ocgan.sgsm_losses import global_scores, local_scores

SGSM_FILE = "sgsm.pt"
ATTENTION_FIGURE = "sgsm_attention.png"


class SGSMModule(L.LightningModule):
    """Trains an :class:`~lococo.ocgan.sgsm.SGSM` with ``L_SGSM`` (eq. 6.3.6).

    The random scene graphs of step ``t`` come from a generator seeded with ``seed + t``, so a
    resumed run draws the same graphs. (``sgsm.shuffle_pairs`` acts on the training data:
    :class:`MismatchedLayouts`.)
    """

    def __init__(self, config: dict[str, Any], class_names: list[str]) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config, "class_names": list(class_names)})
        self.cfg = from_dict(SGSMRunConfig, config, "config")
        self.model = SGSM(self.cfg, class_names, build_image_encoder(self.cfg))

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.global_step)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        gen = self._generator()
        graphs = self.model.graphs(
            batch["boxes"], batch["labels"], batch["valid"], masks=batch.get("masks"), generator=gen
        )
        graph = self.model.encode_graphs(graphs)
        out = self.model.loss(graph, self.model.encode_images(batch["image"]))
        self.log("train/loss", out.total, prog_bar=True, on_step=True, on_epoch=True)
        self.log("train/local", out.local, on_step=False, on_epoch=True)
        self.log("train/global", out.global_, on_step=False, on_epoch=True)
        return out.total

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(
            params, lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay
        )
        if o.scheduler == "none":
            return optimizer
        epochs = max(1, int(self.trainer.max_epochs or 1))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}


# --------------------------------------------------------------------------- configs and data


class MismatchedLayouts(torch.utils.data.Dataset):
    """The shuffled-pairs control: item ``i`` is the image of scene ``i`` with the layout of
    scene ``π(i)``, ``π`` a fixed random cyclic derangement (seeded). No image is ever paired
    with its own layout, and its own layout is in a batch only by chance (unlike rolling a
    batch, which would always present the true pair as a negative)."""

    LAYOUT_KEYS = ("boxes", "labels", "valid", "masks")

    def __init__(self, dataset: Any, seed: int) -> None:
        self.dataset = dataset
        n = len(dataset)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        self.partner = torch.empty(n, dtype=torch.long)
        self.partner[order] = order.roll(-1)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = dict(self.dataset[i])
        other = self.dataset[int(self.partner[i])] if len(self.dataset) > 1 else item
        item.update({k: other[k] for k in self.LAYOUT_KEYS if k in other})
        return item


def resume_config(
    run: RunDir, requested: dict[str, Any], config_file: str | None = None
) -> SGSMRunConfig:
    """The saved config of ``run`` for ``--resume``: a change of any setting is refused
    (one line, exit 2), except a larger ``trainer.max_epochs`` (training longer)."""
    return shared_resume_config(run, SGSMRunConfig, requested, config_file)


def load_layout_for(cfg: SGSMRunConfig) -> LayoutData:
    """The configured layout dataset, or one error line (no path, missing dir, bad format)."""
    from lococo.data.layout import LAYOUT_FORMATS, load_layout

    if not cfg.data.path:
        raise ConfigError("no data: pass --data DIR (or data.path=DIR)")
    root = Path(cfg.data.path)
    if not root.is_dir():
        raise DataError(root, "data directory not found")
    if cfg.data.format not in LAYOUT_FORMATS:
        raise ConfigError(
            f"unknown layout format {cfg.data.format!r}; choose one of {', '.join(LAYOUT_FORMATS)}"
        )
    return load_layout(root, cfg.data.format)


def eval_split(data: LayoutData, cfg: SGSMRunConfig) -> str:
    for split in (cfg.data.eval_split, "val", "test"):
        if data.splits.get(split):
            return split
    raise DataError(data.root, "no held-out scenes (empty val and test splits) to evaluate on")


def layout_dataset(
    data: LayoutData, split: str, cfg: SGSMRunConfig, *, train: bool, progress: bool
) -> Any:
    from lococo.data.layout.dataset import LayoutDataset

    if not data.splits.get(split):
        raise DataError(data.root, f"split {split!r} has no scenes after preprocessing")
    return LayoutDataset(
        data,
        split,
        cfg.data.image_size,
        max_objects=cfg.data.max_objects,
        masks=cfg.graph.centres == "mask",
        mask_size=cfg.graph.mask_size,
        flip=cfg.data.flip and train,
        progress=progress,
    )


# --------------------------------------------------------------------------- training


def pretrain_sgsm(
    cfg: SGSMRunConfig, run: RunDir, *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train the SGSM, evaluate retrieval, store ``sgsm.pt``, the figure and ``results.sgsm``.
    Resuming a run that already finished returns its stored results (``already_finished``)."""
    run.check_writable()
    if resume and (done := finished_result(run, "sgsm", cfg, SGSM_FILE)):
        return done
    data = load_layout_for(cfg)
    if cfg.sgsm.image_encoder == "inception_v3":
        build_image_encoder(cfg)  # fail on missing weights before anything is written
    held_out = eval_split(data, cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    train_set = layout_dataset(data, cfg.data.train_split, cfg, train=True, progress=progress)
    test_set = layout_dataset(data, held_out, cfg, train=False, progress=progress)
    if not resume:
        run.write_config({**to_dict(cfg), "meta": run_metadata()})
    module = SGSMModule(to_dict(cfg), data.class_names)
    loader = DataLoader(
        MismatchedLayouts(train_set, cfg.seed) if cfg.sgsm.shuffle_pairs else train_set,
        batch_size=cfg.data.batch_size,
        shuffle=True,
        drop_last=len(train_set) > cfg.data.batch_size,
        **loader_options(cfg.data.num_workers, cfg.trainer),
    )
    trainer = build_trainer(
        run, dict(cfg.trainer), checkpoint_interval_s=cfg.checkpoint_interval_s, progress=progress
    )
    ckpt = run.last_checkpoint if resume and run.last_checkpoint.exists() else None
    start = time.perf_counter()
    trainer.fit(module, loader, ckpt_path=ckpt, weights_only=True)
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = {}
    if is_rank_zero():
        model = module.model.cpu().eval()
        with atomic_open(run.path / SGSM_FILE, "wb") as handle:
            torch.save({**sgsm_state(model), "format": data.format, "config": to_dict(cfg)}, handle)
        result = {
            "image_encoder": cfg.sgsm.image_encoder,
            "comparable": cfg.sgsm.image_encoder == "inception_v3",
            "format": data.format,
            "classes": data.num_classes,
            "graph_mode": cfg.graph.mode,
            "centres": cfg.graph.centres,
            "shuffle_pairs": cfg.sgsm.shuffle_pairs,
            "train_scenes": len(train_set),
            "epochs": trainer.current_epoch,
            "steps": trainer.global_step,
            "fit_seconds": round(elapsed, 2),
            "resumed_from": str(ckpt) if ckpt else None,
            "eval_split": held_out,
            **evaluate_retrieval(model, test_set, cfg, progress=progress),
        }
        figure = attention_figure(model, test_set, cfg, run.figures / ATTENTION_FIGURE)
        result["figures"] = [str(figure.relative_to(run.path))]
        run.write_result("sgsm", result)
    return result


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def embed_pool(model: SGSM, dataset: Any, cfg: SGSMRunConfig, count: int, progress: bool):
    """Graph and image embeddings of the first ``count`` scenes of ``dataset``."""
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(cfg.eval.graph_seed)
    subset = torch.utils.data.Subset(dataset, range(count))
    loader = DataLoader(subset, batch_size=cfg.eval.batch_size, shuffle=False)
    parts: dict[str, list[Tensor]] = {k: [] for k in ("nodes", "valid", "gg", "regions", "ig")}
    for batch in tqdm(loader, desc="retrieval", disable=not progress, leave=False):
        graphs = model.graphs(
            batch["boxes"], batch["labels"], batch["valid"], masks=batch.get("masks"), generator=gen
        )
        g = model.encode_graphs(graphs)
        im = model.encode_images(batch["image"])
        for key, value in zip(
            parts, (g.nodes, g.valid, g.global_, im.regions, im.global_), strict=True
        ):
            parts[key].append(value)
    return {k: torch.cat(v) for k, v in parts.items()}


def recall_at(scores: Tensor, k: int) -> tuple[float, float]:
    """R@k of graph → image (rows) and image → graph (columns) for a ``[graph, image]`` score
    matrix whose diagonal pairs match. Ties are broken uniformly at random, in expectation: with
    ``g`` candidates scored higher than the true partner and ``t`` others scored equal, the
    partner is in the top ``k`` with probability ``clamp((k − g) / (t + 1), 0, 1)`` (so a
    model that scores everything alike sits exactly at chance)."""
    true = scores.diagonal()

    def hit(above: Tensor, ties: Tensor) -> float:
        return float(((k - above) / (ties + 1)).clamp(0, 1).mean())

    g2i = hit((scores > true[:, None]).sum(1), (scores == true[:, None]).sum(1) - 1)
    i2g = hit((scores > true[None, :]).sum(0), (scores == true[None, :]).sum(0) - 1)
    return g2i, i2g


@torch.no_grad()
def retrieval_scores(model: SGSM, pool: dict[str, Tensor]) -> dict[str, Tensor]:
    """``local``, ``global`` and ``combined`` (their sum) ``[graph, image]`` score matrices."""
    s = model.cfg.sgsm
    loc = local_scores(
        pool["nodes"],
        pool["valid"],
        pool["regions"],
        gamma1=s.gamma1,
        gamma2=s.gamma2,
        norm=s.attention_norm,
    )
    glo = global_scores(pool["gg"], pool["ig"])
    return {"combined": loc + glo, "local": loc, "global": glo}


def evaluate_retrieval(
    model: SGSM, dataset: Any, cfg: SGSMRunConfig, *, progress: bool = True
) -> dict[str, Any]:
    """R@1/R@5 both ways over a pool of held-out scenes (see the module docstring)."""
    count = len(dataset) if cfg.eval.candidates <= 0 else min(cfg.eval.candidates, len(dataset))
    model.eval()
    scores = retrieval_scores(model, embed_pool(model, dataset, cfg, count, progress))
    out: dict[str, Any] = {"candidates": count, "chance_r1": 1.0 / count}
    out["chance_r5"] = min(1.0, 5.0 / count)
    for name, matrix in scores.items():
        suffix = "" if name == "combined" else f"_{name}"
        for k in (1, 5):
            g2i, i2g = recall_at(matrix, k)
            out[f"g2i_r{k}{suffix}"] = round(g2i, 4)
            out[f"i2g_r{k}{suffix}"] = round(i2g, 4)
    return out


@torch.no_grad()
def attention_figure(model: SGSM, dataset: Any, cfg: SGSMRunConfig, path: Path) -> Path:
    """Where each graph node looks: the attention maps of the first held-out scenes."""
    from lococo.viz.ocgan import plot_attention_maps

    count = min(cfg.eval.attention_images, len(dataset))
    batch = torch.utils.data.default_collate([dataset[i] for i in range(count)])
    gen = torch.Generator().manual_seed(cfg.eval.graph_seed)
    graphs = model.graphs(
        batch["boxes"], batch["labels"], batch["valid"], masks=batch.get("masks"), generator=gen
    )
    model.eval()
    maps = model.attention_maps(model.encode_graphs(graphs), model.encode_images(batch["image"]))
    return plot_attention_maps(
        batch["image"], batch["boxes"], batch["labels"], batch["valid"], maps,
        model.class_names, path,
    )  # fmt: skip


# --------------------------------------------------------------------------- loading


def load_sgsm(
    run_dir: str | Path,
    *,
    class_names: list[str] | None = None,
    data_format: str | None = None,
) -> SGSM:
    """The trained SGSM of ``run_dir`` (``sgsm.pt``), frozen and in eval mode, carrying its
    vocabulary (``model.class_names``). With ``class_names`` / ``data_format`` a run trained on
    another vocabulary or dataset format is refused with one error line."""
    path = Path(run_dir) / SGSM_FILE
    if not path.is_file():
        raise LococoError(f"{path}: no trained SGSM; run `lococo ocgan pretrain-sgsm` first")
    try:
        saved = load_weights(path, "SGSM file")
        cfg = from_dict(SGSMRunConfig, saved["config"], str(path))
        names = list(saved["class_names"])
    except (KeyError, TypeError, RuntimeError, EOFError, OSError) as err:
        raise DataError(path, f"not a trained SGSM ({str(err).splitlines()[0]})") from None
    if data_format is not None and saved.get("format") != data_format:
        raise LococoError(
            f"{path}: SGSM trained on {saved.get('format')!r} layouts, not {data_format!r}"
        )
    if class_names is not None and list(class_names) != names:
        diff = next(
            (i for i, (a, b) in enumerate(zip(names, class_names, strict=False)) if a != b),
            min(len(names), len(class_names)),
        )
        raise LococoError(
            f"{path}: SGSM vocabulary differs from the data's ({len(names)} vs "
            f"{len(class_names)} classes, first difference at class {diff}); "
            "train an SGSM on this dataset"
        )
    model = SGSM(cfg, names, build_image_encoder(cfg, weights_required=False))
    try:
        model.load_state_dict(saved["state_dict"])
    except RuntimeError as err:
        raise DataError(path, f"weights do not fit ({str(err).splitlines()[0]})") from None
    model.requires_grad_(False)
    return model.eval()
