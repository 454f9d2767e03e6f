"""Zero-shot evaluation of a pretrained run: frozen encoder + prototypical network."""

from __future__ import annotations

from typing import Any

import torch

from lococo.config.loading import apply_overrides, from_dict, to_dict
from lococo.data.zsl.types import ZSLData
from lococo.engine.callbacks import load_checkpoint
from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError
from lococo.nn.encoders import Encoder
from lococo.zfs.config import ZFSConfig
from lococo.zfs.data import load_zsl_for, zsl_images
from lococo.zfs.features import extract_global_features
from lococo.zfs.methods.base import encoder_from_config
from lococo.zfs.protonet import fit_protonet, zsl_metrics


def load_run_config(run: RunDir, overrides: dict[str, Any] | None = None) -> ZFSConfig:
    saved = {k: v for k, v in run.read_config().items() if k != "meta"}
    cfg = from_dict(ZFSConfig, saved, str(run.config))
    return apply_overrides(cfg, overrides or {}, "override")


def load_encoder(run: RunDir, cfg: ZFSConfig) -> Encoder:
    """The run's trained encoder (``encoder.pt``, else the encoder inside ``last.ckpt``)."""
    encoder = encoder_from_config(to_dict(cfg))
    weights = run.path / "encoder.pt"
    if weights.exists():
        state = torch.load(weights, map_location="cpu", weights_only=True)
    elif run.last_checkpoint.exists():
        full = load_checkpoint(run.last_checkpoint)["state_dict"]
        state = {k.removeprefix("encoder."): v for k, v in full.items() if k.startswith("encoder.")}
    else:
        raise LococoError(
            f"{run.path}: no trained encoder (encoder.pt or checkpoints/last.ckpt); "
            "run `lococo zfs pretrain` first"
        )
    try:
        encoder.load_state_dict(state)
    except RuntimeError as err:
        raise LococoError(
            f"{weights}: weights do not match encoder {cfg.encoder.name!r} ({err})".splitlines()[0]
        ) from None
    return encoder.eval()


def evaluate(
    run: RunDir, overrides: dict[str, Any] | None = None, *, progress: bool = True
) -> dict[str, Any]:
    """Fit the prototypical network on seen-class features, score unseen classes; store ``zsl``."""
    cfg = load_run_config(run, overrides)
    data = load_zsl_for(cfg.data)
    return evaluate_encoder(load_encoder(run, cfg), data, cfg, run, progress=progress)


def evaluate_encoder(
    encoder: Encoder, data: ZSLData, cfg: ZFSConfig, run: RunDir, *, progress: bool = True
) -> dict[str, Any]:
    """Zero-shot evaluation of any frozen ``encoder``'s global features; stored as ``zsl``."""
    torch.manual_seed(cfg.seed)

    def feats(indices: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        dataset = zsl_images(data, indices, cfg.data, train=False, progress=progress)
        return extract_global_features(
            encoder, dataset, progress=progress, desc=f"features ({name})"
        )

    train = feats(data.trainval, "trainval")
    seen_test = feats(data.test_seen, "test seen")
    unseen_test = feats(data.test_unseen, "test unseen")
    attributes = torch.as_tensor(data.class_attributes, dtype=torch.float32)
    seen = torch.as_tensor(data.seen_classes, dtype=torch.long)
    unseen = torch.as_tensor(data.unseen_classes, dtype=torch.long)
    z = cfg.zsl
    net = fit_protonet(train[0], train[1], attributes, seen, z, seed=cfg.seed)
    result: dict[str, Any] = zsl_metrics(net, attributes, seen, unseen, seen_test, unseen_test)
    result["protonet"] = {"embed_dim": z.embed_dim, "epochs": z.epochs, "lr": z.lr}
    run.write_result("zsl", result)
    return result
