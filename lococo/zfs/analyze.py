"""``lococo zfs analyze``: locality and compositionality of a frozen encoder (thesis 4.4–4.5).

For any :class:`~lococo.nn.encoders.Encoder` (a lococo run's or a wrapped torchvision
backbone) on a ZSL dataset this measures

* parts F1 of linear probes on the local map (CUB-style part clicks only; 4.4.2, A.6), under
  both ground-truth definitions of :mod:`lococo.metrics.parts` (``analysis.parts_gt`` names the
  one reported as ``parts_f1``),
* TRE and TRE ratio of the global features w.r.t. thresholded class attributes (4.4.4, A.8),
* MI heatmaps of a DV statistics network, the parts ratio and its Pearson correlations with
  attribute cosine similarity and SSIM over image pairs (4.4.3, 4.5.2, A.3, A.4),
* zero-shot accuracy from local maps: averaging representations vs predictions, on the maps of
  small and big receptive field (4.5.3, A.5),

and stores them as the ``analysis`` section of ``results.json`` with figures in ``figures/``.
Parts F1 and TRE ratio are also measured for the encoder at initialisation (same architecture
and seed; :mod:`lococo.zfs.untrained`): ``parts_f1_untrained``, ``tre_ratio_untrained``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lococo.data.zsl.images import crop_size
from lococo.data.zsl.types import ZSLData
from lococo.engine.run_dir import RunDir
from lococo.errors import LococoError
from lococo.io import atomic_open
from lococo.metrics.compositionality import threshold_attributes, tre_ratio
from lococo.nn.encoders import Encoder
from lococo.zfs.config import ZFSConfig
from lococo.zfs.data import load_zsl_for, zsl_images
from lococo.zfs.features import extract_feature_maps
from lococo.zfs.pooling import (
    MapTask,
    pooling_stages,
    zsl_average_predictions,
    zsl_average_representations,
)

HEATMAPS_FILE = "analysis/heatmaps.npz"


@dataclass
class FeatureSet:
    """Frozen features of some images of a dataset (``indices`` into :class:`ZSLData`)."""

    indices: np.ndarray
    maps: dict[str, Tensor]

    @property
    def labels(self) -> Tensor:
        return self.maps["targets"]


def subsample(indices: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` of ``indices`` (all when ``limit`` is 0), sorted, chosen by ``seed``."""
    indices = np.asarray(indices, dtype=np.int64)
    if limit <= 0 or len(indices) <= limit:
        return indices
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(indices, size=limit, replace=False))


def analyze(
    run: RunDir,
    overrides: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    allow_unfinished: bool = False,
) -> dict[str, Any]:
    """Analyse a pretrained run's encoder; writes ``analysis`` and figures into ``run``. As
    with ``evaluate``, a run whose pretraining has not finished is refused unless
    ``allow_unfinished`` (the analysis then names its checkpoint and is marked
    ``from_unfinished_run``)."""
    from lococo.zfs.evaluate import load_run_config, trained_encoder

    run.check_writable()  # refuse before computing, not after
    cfg = load_run_config(run, overrides)
    data = load_zsl_for(cfg.data)
    backbone = run.read_config().get("meta", {}).get("backbone")
    if backbone:
        spec = BackboneSpec(**backbone)
        encoder = spec.build(cfg.data.image_size)
        return analyze_encoder(
            encoder, data, cfg, run, progress=progress, label=spec.name, overrides=overrides,
            untrained=spec.untrained(cfg.data.image_size, cfg.seed),
        )  # fmt: skip
    from lococo.zfs.untrained import initial_encoder

    encoder, source = trained_encoder(run, cfg, allow_unfinished=allow_unfinished)
    return analyze_encoder(
        encoder, data, cfg, run, progress=progress, overrides=overrides,
        untrained=initial_encoder(cfg), weights=source.as_result(),
    )  # fmt: skip


def model_label(cfg: ZFSConfig) -> str:
    """Display name of a run's model: method (with CMDIM's base model and p) and local loss."""
    m = cfg.method
    name = f"{m.name}_{m.base}_p{m.p:g}" if m.name == "cmdim" else m.name
    return name if m.local_loss == "none" else f"{name}+{m.local_loss}"


def analyze_encoder(
    encoder: Encoder,
    data: ZSLData,
    cfg: ZFSConfig,
    run: RunDir,
    *,
    progress: bool = True,
    label: str | None = None,
    untrained: Encoder | None = None,
    overrides: dict[str, Any] | None = None,
    weights: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every analysis of 4.4–4.5 for ``encoder`` on ``data``; stored in ``run`` (with the
    ``overrides`` of the run's config it was computed with, and ``weights``: which checkpoint
    it read). With ``untrained`` (the same architecture at initialisation) its parts F1 and
    TRE ratio are stored too, as ``*_untrained``."""
    a = cfg.analysis
    torch.manual_seed(a.seed)
    device = _device(cfg)
    encoder = encoder.eval().to(device)  # features on the GPU when there is one
    with torch.no_grad():
        zeros = torch.zeros(1, 3, encoder.input_size, encoder.input_size, device=device)
        probe = {k: v.cpu() for k, v in encoder.features(zeros).items()}
    small, big = pooling_stages(probe)
    stages = tuple(dict.fromkeys(("local", "global", small, big)))
    train_indices, test_indices = _analysis_images(data, cfg)
    train = _feature_set(encoder, data, train_indices, cfg, stages, "features (train)", progress)
    test = _feature_set(
        encoder, data, test_indices, cfg, stages, "features (test)", progress, keep_images=True
    )
    unseen = _unseen_part(test, data)

    rf = _local_receptive_field(encoder)
    result: dict[str, Any] = {
        "model": label or model_label(cfg),
        "encoder": _encoder_facts(encoder, probe, rf, small, big),
        "images": {"train": len(train.indices), "test": len(test.indices)},
    }
    result.update(_tre(data, train, unseen, cfg))
    all_masks = _part_masks(rf, data, cfg, (train, test))
    result.update(_parts_f1(data, train, test, all_masks, cfg))
    if untrained is not None:
        result.update(untrained_measures(untrained, data, cfg, all_masks, progress=progress))
    masks = None if all_masks is None else all_masks["receptive_field"]
    locality, heatmaps = _mi_heatmaps(data, train, test, masks, cfg, progress)
    result.update(locality)
    result.update(_pooling(data, train, unseen, (small, big), cfg))
    result["overrides"] = dict(overrides or {})
    result.update(weights or {})
    with run.keeping_results("analysis", result):
        _save_heatmaps(run, heatmaps)
        result["figures"] = _figures(run, result, heatmaps)
    run.write_result("analysis", result)
    return result


def _analysis_images(data: ZSLData, cfg: ZFSConfig) -> tuple[np.ndarray, np.ndarray]:
    """The trainval and test images every analysis of ``cfg`` reads (subsampled with
    ``analysis.seed``)."""
    a = cfg.analysis
    test_pool = np.concatenate([data.test_seen, data.test_unseen])
    return (
        subsample(data.trainval, a.train_images, a.seed),
        subsample(test_pool, a.test_images, a.seed + 1),
    )


def _feature_set(
    encoder: Encoder,
    data: ZSLData,
    indices: np.ndarray,
    cfg: ZFSConfig,
    stages: tuple[str, ...],
    name: str,
    progress: bool,
    *,
    keep_images: bool = False,
) -> FeatureSet:
    dataset = zsl_images(data, indices, cfg.data, train=False, progress=progress)
    maps = extract_feature_maps(
        encoder, dataset, stages, keep_images=keep_images, progress=progress, desc=name
    )
    return FeatureSet(indices, maps)


def _device(cfg: ZFSConfig) -> torch.device:
    wants_gpu = str(cfg.trainer.get("accelerator", "auto")) in ("auto", "gpu", "cuda")
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")


def _unseen_part(test: FeatureSet, data: ZSLData) -> FeatureSet:
    keep = np.isin(test.indices, data.test_unseen)
    sel = torch.from_numpy(keep)
    return FeatureSet(test.indices[keep], {k: v[sel] for k, v in test.maps.items()})


def _local_receptive_field(encoder: Encoder) -> tuple[int, int, float] | None:
    """``(rf, jump, start)`` of the local map, or ``None`` when it cannot be measured."""
    from lococo.nn.receptive import encoder_receptive_field

    try:
        return encoder_receptive_field(encoder, "local")
    except (ValueError, NotImplementedError, KeyError):
        return None


def _encoder_facts(
    encoder: Encoder,
    probe: dict[str, Tensor],
    rf: tuple[int, int, float] | None,
    small: str,
    big: str,
) -> dict[str, Any]:
    return {
        "input_size": encoder.input_size,
        "local_shape": list(probe["local"].shape[1:]),
        "global_dim": int(probe["global"].shape[1]),
        "receptive_field": None if rf is None else list(rf),
        "small_stage": small,
        "big_stage": big,
    }


def _class_attributes(data: ZSLData) -> Tensor:
    return torch.as_tensor(data.class_attributes, dtype=torch.float32)


def _tre(data: ZSLData, train: FeatureSet, unseen: FeatureSet, cfg: ZFSConfig) -> dict[str, Any]:
    """TRE of unseen test globals, vectors fit on trainval globals (app. A.8); the TRE ratio's
    denominator is a class-level random assignment (``tre_random_class``), the per-image one
    is reported as ``tre_random_image`` / ``tre_ratio_image``."""
    a = cfg.analysis
    binary = threshold_attributes(data.class_attributes_raw, a.tre_threshold).float()
    out = tre_ratio(
        unseen.maps["global"],
        unseen.labels,
        binary,
        fit=(train.maps["global"], train.labels),
        seed=a.seed,
        steps=a.tre_steps,
    )
    threshold = "per-attribute mean over classes" if a.tre_threshold is None else a.tre_threshold
    return {**out, "tre_threshold": threshold}


def untrained_measures(
    untrained: Encoder,
    data: ZSLData,
    cfg: ZFSConfig,
    masks: dict[str, list[Tensor]] | None,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Parts F1 (both ground truths) and TRE ratio of ``untrained`` on the images the trained
    encoder was measured on, as ``*_untrained`` keys; computed once per process for the same
    data, architecture, seed and analysis settings."""
    from lococo.zfs.untrained import baseline_key, cached, fingerprint

    def compute() -> dict[str, Any]:
        with torch.random.fork_rng(devices=[]):  # the trained measures' RNG stream is kept
            return _untrained_measures(untrained, data, cfg, masks, progress)

    return dict(cached(baseline_key(cfg, "analysis", fingerprint(untrained)), compute))


def _untrained_measures(
    untrained: Encoder,
    data: ZSLData,
    cfg: ZFSConfig,
    masks: dict[str, list[Tensor]] | None,
    progress: bool,
) -> dict[str, Any]:
    torch.manual_seed(cfg.analysis.seed)
    encoder = untrained.eval().to(_device(cfg))
    stages = ("local", "global")
    train_indices, test_indices = _analysis_images(data, cfg)
    train = _feature_set(
        encoder, data, train_indices, cfg, stages, "untrained features (train)", progress
    )
    test = _feature_set(
        encoder, data, test_indices, cfg, stages, "untrained features (test)", progress
    )
    tre = _tre(data, train, _unseen_part(test, data), cfg)
    out = {
        "tre_untrained": tre.get("tre"),
        "tre_random_untrained": tre.get("tre_random"),
        "tre_ratio_untrained": tre.get("tre_ratio"),
    }
    parts = _parts_f1(data, train, test, masks, cfg)
    for key, value in parts.items():  # parts_f1 -> parts_f1_untrained, parts_f1_<gt> -> ..._<gt>
        if key.startswith("parts_f1") and key != "parts_f1_per_part":
            out[key.replace("parts_f1", "parts_f1_untrained", 1)] = value
    return out


def _part_masks(
    rf: tuple[int, int, float] | None,
    data: ZSLData,
    cfg: ZFSConfig,
    sets: tuple[FeatureSet, ...],
) -> dict[str, list[Tensor]] | None:
    """``N×P×H×W`` visible-part masks on the local grid for every set, per ground truth
    (``receptive_field``, ``stride_cell``); ``None`` without part annotations."""
    from lococo.metrics.parts import cell_masks, click_boxes, click_points, part_masks

    if data.parts is None or data.image_sizes is None or not len(data.parts.clicks):
        return None
    if rf is None:
        raise LococoError(
            "the local map's receptive fields cannot be measured; parts F1 needs them"
        )
    grid = tuple(sets[0].maps["local"].shape[2:])
    size, parts = cfg.data.image_size, len(data.parts.names)
    masks: dict[str, list[Tensor]] = {"receptive_field": [], "stride_cell": []}
    for s in sets:
        boxes = click_boxes(
            data.parts.clicks,
            data.image_sizes,
            size,
            crop_size(size),
            square=cfg.analysis.parts_square,
            images=s.indices,
        )
        masks["receptive_field"].append(part_masks(boxes, len(s.indices), parts, grid, rf))
        points = click_points(
            data.parts.clicks, data.image_sizes, size, crop_size(size), images=s.indices
        )
        masks["stride_cell"].append(cell_masks(points, len(s.indices), parts, grid, rf))
    return masks


def _parts_f1(
    data: ZSLData,
    train: FeatureSet,
    test: FeatureSet,
    masks: dict[str, list[Tensor]] | None,
    cfg: ZFSConfig,
) -> dict[str, Any]:
    """Parts F1 under every ground truth (``parts_f1_<gt>``); ``parts_f1`` and the per-part,
    precision and recall keys are those of ``analysis.parts_gt``."""
    from lococo.metrics.parts import GROUND_TRUTHS, parts_f1

    a = cfg.analysis
    if masks is None:
        return {
            "parts_f1": None,
            **{f"parts_f1_{gt}": None for gt in GROUND_TRUTHS},
            "parts_f1_per_part": None,
            "parts_note": "no part annotations",
        }
    assert data.parts is not None
    names = list(data.parts.names)
    # one fit for both ground truths: the per-part probes are independent of each other
    out = parts_f1(
        train.maps["local"],
        torch.cat([masks[gt][0] for gt in GROUND_TRUTHS], 1),
        test.maps["local"],
        torch.cat([masks[gt][1] for gt in GROUND_TRUTHS], 1),
        epochs=a.probe_epochs,
        lr=a.probe_lr,
        seed=a.seed,
        part_names=[f"{gt}:{name}" for gt in GROUND_TRUTHS for name in names],
    )
    result: dict[str, Any] = {"parts_gt": a.parts_gt}
    for k, gt in enumerate(GROUND_TRUTHS):
        part = slice(k * len(names), (k + 1) * len(names))
        f1 = np.array(out["per_part"][part], dtype=np.float64)
        result[f"parts_f1_{gt}"] = _nanmean(f1)
        if gt == a.parts_gt:
            result.update(
                {
                    "parts_f1": _nanmean(f1),
                    "parts_f1_per_part": {n: _finite(v) for n, v in zip(names, f1, strict=True)},
                    "parts_precision": _nanmean(out["per_part_precision"][part]),
                    "parts_recall": _nanmean(out["per_part_recall"][part]),
                    "parts_positive_rate": _nanmean(out["positive_rate"][part]),
                }
            )
    return result


def _nanmean(values: Any) -> float | None:
    """Mean of the finite ``values`` (``None`` when there is none)."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    return float(finite.mean()) if finite.size else None


def _mi_heatmaps(
    data: ZSLData,
    train: FeatureSet,
    test: FeatureSet,
    masks: list[Tensor] | None,
    cfg: ZFSConfig,
    progress: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """DV statistics network on trainval, pair statistics and heatmaps on test images."""
    from lococo.metrics.locality import normalise_scores
    from lococo.zfs.heatmaps import (
        correlations,
        fit_statistics_network,
        pair_statistics,
        sample_pairs,
        score_maps,
    )

    a = cfg.analysis
    critic, fit = fit_statistics_network(
        train.maps["local"],
        train.maps["global"],
        embed_dim=a.critic_dim,
        steps=a.critic_steps,
        lr=a.critic_lr,
        seed=a.seed,
        progress=progress,
    )
    out: dict[str, Any] = {"mi_critic": fit}
    local, global_ = test.maps["local"], test.maps["global"]
    attrs = _class_attributes(data)[test.labels]
    if masks is not None:
        pairs = sample_pairs(len(test.indices), a.pairs, seed=a.seed)
        stats = pair_statistics(
            critic, global_, local, test.maps["images"], attrs, masks[1].any(1), pairs
        )
        out.update(
            {k: v if isinstance(v, int) else _finite(v) for k, v in correlations(stats).items()}
        )
        heat_pairs = {k: v.numpy() for k, v in stats.items()}
    else:
        for key in ("parts_ratio_mean", "parts_ratio_corr_attr", "parts_ratio_corr_ssim"):
            out[key] = None
        heat_pairs = {}
    a_idx, b_idx = heatmap_pairs(test.labels, a.heatmap_images, a.seed)
    maps = normalise_scores(score_maps(critic, global_[a_idx], local[b_idx]))
    images = test.maps["images"]
    heat = {
        "index_a": test.indices[a_idx.numpy()],
        "index_b": test.indices[b_idx.numpy()],
        "images_a": images[a_idx].numpy(),
        "images_b": images[b_idx].numpy(),
        "maps": maps.numpy(),
        "class_names_b": np.array([data.class_names[int(c)] for c in test.labels[b_idx]]),
        "pair_stats": heat_pairs,
    }
    return out, heat


def heatmap_pairs(labels: Tensor, count: int, seed: int) -> tuple[Tensor, Tensor]:
    """One image A and ``count`` images B of distinct classes, the first of A's class (4.4)."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g)
    a = int(order[0])
    chosen: list[int] = []
    same = [int(i) for i in order[1:] if labels[i] == labels[a]]
    if same:
        chosen.append(same[0])
    classes = {int(labels[a])}
    for i in order[1:].tolist():
        if len(chosen) >= count:
            break
        if int(labels[i]) not in classes:
            classes.add(int(labels[i]))
            chosen.append(i)
    b = torch.tensor(chosen[:count], dtype=torch.long)
    return torch.full_like(b, a), b


def _pooling(
    data: ZSLData,
    train: FeatureSet,
    unseen: FeatureSet,
    stages: tuple[str, str],
    cfg: ZFSConfig,
) -> dict[str, Any]:
    """ZSL from the small / big receptive-field maps, averaging representations vs predictions."""
    attrs = _class_attributes(data)
    seen = torch.as_tensor(data.seen_classes, dtype=torch.long)
    unseen_classes = torch.as_tensor(data.unseen_classes, dtype=torch.long)
    out: dict[str, Any] = {}
    for size, stage in zip(("small", "big"), stages, strict=True):
        task = MapTask(
            train.maps[stage],
            train.labels,
            unseen.maps[stage],
            unseen.labels,
            attrs,
            seen,
            unseen_classes,
        )
        out[size] = {
            "stage": stage,
            "shape": list(train.maps[stage].shape[1:]),
            "avg_repr": zsl_average_representations(task, cfg.zsl, cfg.analysis.seed),
            "avg_pred": zsl_average_predictions(task, cfg.zsl, cfg.analysis.seed),
        }
    return {
        "zsl_chance": 1.0 / len(unseen_classes),
        "zsl_avg_repr": out["big"]["avg_repr"],
        "zsl_avg_pred": out["big"]["avg_pred"],
        "pooling": out,
    }


def _save_heatmaps(run: RunDir, heat: dict[str, Any]) -> None:
    arrays = {k: v for k, v in heat.items() if k != "pair_stats"}
    arrays.update({f"pair_{k}": v for k, v in heat["pair_stats"].items()})
    path = run.path / HEATMAPS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def load_heatmaps(run_path: Any) -> dict[str, np.ndarray]:
    """The heatmap arrays saved by :func:`analyze_encoder` for a run directory."""
    with np.load(RunDir(run_path).path / HEATMAPS_FILE) as npz:
        return {k: npz[k] for k in npz.files}


def _figures(run: RunDir, result: dict[str, Any], heat: dict[str, Any]) -> list[str]:
    from lococo.viz.common import save_figure
    from lococo.viz.zfs import heatmap_pairs as heatmap_figure
    from lococo.viz.zfs import paired_bars, per_part_bars, similarity_scatter

    figures = run.path / "figures"
    written = []

    def save(fig: Any, name: str) -> None:
        save_figure(fig, figures / name)
        written.append(f"figures/{name}")

    titles = [short_class_name(str(c)) for c in heat["class_names_b"]]
    save(
        heatmap_figure(
            torch.from_numpy(heat["images_a"]),
            torch.from_numpy(heat["images_b"]),
            torch.from_numpy(heat["maps"]),
            titles=titles,
        ),
        "heatmaps.png",
    )
    if result.get("parts_f1_per_part"):
        per_part = result["parts_f1_per_part"]
        values = [math.nan if v is None else v for v in per_part.values()]
        save(per_part_bars(list(per_part), values), "parts_f1.png")
    stats = heat["pair_stats"]
    if stats:
        save(
            similarity_scatter(
                stats["parts_ratio"], stats["attr_sim"], stats["ssim"], result["model"]
            ),
            "parts_ratio_similarity.png",
        )
    pooling = result["pooling"]
    sizes = [f"{k} RF ({v['stage']})" for k, v in pooling.items()]
    save(
        paired_bars(
            sizes,
            [v["avg_repr"] for v in pooling.values()],
            [v["avg_pred"] for v in pooling.values()],
            chance=result["zsl_chance"],
        ),
        "pooling.png",
    )
    return written


def short_class_name(name: str, width: int = 28) -> str:
    """``"017.Cardinal_bird"`` → ``"Cardinal bird"``, wrapped onto lines of ``width``."""
    import textwrap

    text = name.split(".", 1)[-1].replace("_", " ")
    return "\n".join(textwrap.wrap(text, width)[:3])


def _finite(value: Any) -> float | None:
    """JSON-safe float: NaN/inf become ``None``."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class BackboneSpec:
    """A torchvision backbone to analyse: model name, layers, optional local weights."""

    name: str
    local_layer: str = "layer2"
    global_layer: str | None = None
    weights: str | None = None

    def build(self, image_size: int, *, untrained: bool = False) -> Encoder:
        """The wrapped backbone for images resized to ``image_size`` (centre-cropped); with
        ``untrained`` at its random initialisation (input normalised as with the weights)."""
        from lococo.zfs.backbone import torchvision_backbone

        return torchvision_backbone(
            self.name,
            self.local_layer,
            input_size=crop_size(image_size),
            weights=None if untrained else self.weights,
            global_layer=self.global_layer,
            imagenet_input=self.weights is not None,
        )

    def untrained(self, image_size: int, seed: int) -> Encoder:
        """The backbone at a random initialisation drawn after seeding torch with ``seed``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.build(image_size, untrained=True)


def analyze_backbone(
    spec: BackboneSpec,
    out: Any,
    profile: str,
    overrides: dict[str, Any],
    *,
    progress: bool = True,
) -> tuple[RunDir, dict[str, Any]]:
    """Zero-shot evaluation and analysis of a torchvision backbone in a fresh run directory."""
    from dataclasses import asdict

    from lococo.config.loading import load_config, to_dict
    from lococo.engine.run_dir import open_run, run_metadata
    from lococo.zfs.evaluate import evaluate_encoder

    cfg = load_config(ZFSConfig, system="zfs", profile=profile, overrides=overrides)
    data = load_zsl_for(cfg.data)
    encoder = spec.build(cfg.data.image_size)
    run = open_run(out, resume=False)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config({**to_dict(cfg), "meta": {**run_metadata(), "backbone": asdict(spec)}})
    run.write_result("backbone", {**asdict(spec), "weights_loaded": spec.weights is not None})
    untrained = spec.untrained(cfg.data.image_size, cfg.seed)
    evaluate_encoder(encoder, data, cfg, run, progress=progress, untrained=untrained)
    return run, analyze_encoder(
        encoder, data, cfg, run, progress=progress, label=spec.name, untrained=untrained
    )
