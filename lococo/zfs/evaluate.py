"""Zero-shot evaluation of a pretrained run: frozen encoder + prototypical network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lococo.config.loading import apply_overrides, flatten, read_yaml, to_dict
from lococo.config.validation import refuse_changes
from lococo.data.zsl.types import ZSLData
from lococo.engine.callbacks import load_checkpoint
from lococo.engine.run_dir import RunDir
from lococo.engine.weights import load_state_dict
from lococo.errors import LococoError
from lococo.nn.encoders import Encoder
from lococo.zfs.config import ZFSConfig, check_zfs_config
from lococo.zfs.data import load_zsl_for, zsl_images
from lococo.zfs.features import extract_global_features
from lococo.zfs.methods.base import encoder_from_config
from lococo.zfs.protonet import fit_protonet, zsl_metrics


def load_run_config(run: RunDir, overrides: dict[str, Any] | None = None) -> ZFSConfig:
    cfg = apply_overrides(run.saved_config(ZFSConfig), overrides or {}, "override")
    check_zfs_config(cfg)
    return cfg


def resume_config(
    run: RunDir, overrides: dict[str, Any], config_file: str | None = None
) -> ZFSConfig:
    """The saved config of ``run`` for ``--resume``; overrides or a ``--config`` file that
    would change it are refused (a resumed run keeps the settings it was started with)."""
    saved = load_run_config(run)
    wanted = saved
    if config_file is not None:
        wanted = apply_overrides(wanted, flatten(read_yaml(config_file)), str(config_file))
    wanted = apply_overrides(wanted, overrides, "override")
    extend = extended_epochs(saved, wanted)
    if extend is not None:  # training longer is the one change a resumed run accepts
        saved = apply_overrides(saved, {"trainer.max_epochs": extend}, "override")
    refuse_changes(run, to_dict(saved), to_dict(wanted))
    if extend is not None:
        run.write_config({**to_dict(saved), "meta": load_run_meta(run)})
    return saved


def extended_epochs(saved: ZFSConfig, wanted: ZFSConfig) -> int | None:
    """The new ``trainer.max_epochs`` when ``wanted`` only trains longer than ``saved``."""
    before, after = saved.trainer.get("max_epochs"), wanted.trainer.get("max_epochs")
    if isinstance(before, int) and isinstance(after, int) and after > before:
        return after
    return None


def load_run_meta(run: RunDir) -> Any:
    """The provenance block stored with a run's config (``meta``), if any."""
    return read_yaml(run.path / "config.yaml").get("meta", {})


def _load_weights(encoder: Encoder, weights: Path, cfg: ZFSConfig) -> Encoder:
    """``encoder`` with the weights of ``encoder.pt`` or of a training checkpoint."""
    if weights.name.endswith(".ckpt"):
        full = load_checkpoint(weights)["state_dict"]
        state = {k.removeprefix("encoder."): v for k, v in full.items() if k.startswith("encoder.")}
    else:
        state = load_state_dict(weights, "encoder weights")
    try:
        encoder.load_state_dict(state)
    except RuntimeError as err:
        raise LococoError(
            f"{weights}: weights do not match encoder {cfg.encoder.name!r} ({err})".splitlines()[0]
        ) from None
    return encoder.eval()


@dataclass(frozen=True)
class EncoderSource:
    """Which weights an evaluation used: ``checkpoint`` (relative to the run), the training
    ``epoch`` they come from, and whether pretraining had finished."""

    checkpoint: str
    epoch: int | None
    finished: bool

    def as_result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"checkpoint": self.checkpoint, "epoch": self.epoch}
        out["from_unfinished_run"] = not self.finished
        return out


def pretraining_finished(run: RunDir, cfg: ZFSConfig) -> bool:
    """Whether ``pretrain`` stored its results and ``encoder.pt`` for the configured length
    (a run resumed to train longer and stopped again has not finished)."""
    done = run.read_results().get("pretrain")
    if not isinstance(done, dict) or not (run.path / "encoder.pt").exists():
        return False
    max_epochs = cfg.trainer.get("max_epochs")
    other_limits = any(cfg.trainer.get(k) not in (None, -1) for k in ("max_steps", "max_time"))
    if isinstance(max_epochs, int) and max_epochs >= 0 and not other_limits:
        return int(done.get("epochs", 0)) >= max_epochs
    return True


def trained_encoder(
    run: RunDir, cfg: ZFSConfig, *, allow_unfinished: bool = False
) -> tuple[Encoder, EncoderSource]:
    """The encoder of ``run`` and where its weights came from.

    A finished run gives ``encoder.pt``. An unfinished one (interrupted, or resumed to train
    longer and stopped) is refused with one line, unless ``allow_unfinished``: then the last
    checkpoint (else ``encoder.pt``) is used and marked as such.
    """
    finished = pretraining_finished(run, cfg)
    results = run.read_results().get("pretrain") or {}
    if finished:
        weights, epoch = run.path / "encoder.pt", results.get("epochs")
    else:
        if not run.last_checkpoint.exists() and not (run.path / "encoder.pt").exists():
            raise LococoError(
                f"{run.path}: no trained encoder (encoder.pt or checkpoints/last.ckpt); "
                "run `lococo zfs pretrain` first"
            )
        if run.last_checkpoint.exists():
            weights, epoch = run.last_checkpoint, _checkpoint_epoch(run)
        else:
            weights, epoch = run.path / "encoder.pt", results.get("epochs")
        if not allow_unfinished:
            at = "" if epoch is None else f" (last weights at epoch {epoch}"
            at += "" if not at else f" of {cfg.trainer.get('max_epochs')})"
            raise LococoError(
                f"{run.path}: pretraining has not finished{at}; continue it with `lococo zfs "
                f"pretrain --out {run.path} --resume`, or pass --allow-unfinished to evaluate "
                f"{weights.relative_to(run.path)} (the result is marked from_unfinished_run)"
            )
    encoder = _load_weights(encoder_from_config(to_dict(cfg)), weights, cfg)
    return encoder, EncoderSource(str(weights.relative_to(run.path)), epoch, finished)


def _checkpoint_epoch(run: RunDir) -> int | None:
    if not run.last_checkpoint.exists():
        return None
    epoch = load_checkpoint(run.last_checkpoint).get("epoch")
    return int(epoch) if isinstance(epoch, int) else None


def evaluate(
    run: RunDir,
    overrides: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    allow_unfinished: bool = False,
) -> dict[str, Any]:
    """Fit the prototypical network on seen-class features, score unseen classes; store ``zsl``
    (with the ``overrides`` it was computed with and the weights it used: ``checkpoint``,
    ``epoch``, ``from_unfinished_run``). An unfinished run is refused unless
    ``allow_unfinished``."""
    run.check_writable()
    cfg = load_run_config(run, overrides)
    encoder, source = trained_encoder(run, cfg, allow_unfinished=allow_unfinished)
    data = load_zsl_for(cfg.data)
    from lococo.zfs.untrained import initial_encoder

    return evaluate_encoder(
        encoder, data, cfg, run, progress=progress, overrides=overrides,
        source=source, untrained=initial_encoder(cfg),
    )  # fmt: skip


def evaluate_encoder(
    encoder: Encoder,
    data: ZSLData,
    cfg: ZFSConfig,
    run: RunDir,
    *,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
    source: EncoderSource | None = None,
    untrained: Encoder | None = None,
) -> dict[str, Any]:
    """Zero-shot evaluation of any frozen ``encoder``'s global features; stored as ``zsl``
    (with ``source``: the weights it came from). With ``untrained`` (the architecture at
    initialisation) its top-1 is ``top1_untrained``."""
    result = zsl_measures(encoder, data, cfg, progress=progress)
    if untrained is not None:
        from lococo.zfs.untrained import baseline_key, cached, fingerprint

        def baseline() -> float:
            with torch.random.fork_rng(devices=[]):
                return zsl_measures(untrained, data, cfg, progress=progress)["top1"]

        result["top1_untrained"] = cached(
            baseline_key(cfg, "zsl", fingerprint(untrained)), baseline
        )
    result["overrides"] = dict(overrides or {})
    if source is not None:
        result.update(source.as_result())
    run.write_result("zsl", result)
    return result


def zsl_measures(
    encoder: Encoder, data: ZSLData, cfg: ZFSConfig, *, progress: bool = True
) -> dict[str, Any]:
    """Prototypical-network ZSL metrics of a frozen ``encoder`` (nothing is written)."""
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
    return result
