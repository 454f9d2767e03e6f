"""``lococo ocgan evaluate``: IS, FID, KID, SceneFID and CA of a trained OC-GAN (thesis 6.4.4).

One image is generated for every layout of the evaluation split (noise from ``eval.seed``;
generator in eval mode). Metrics, all from :mod:`lococo.metrics`:

* ``fid``, ``kid`` (mean ± std over subsets), ``is_mean``/``is_std`` over ``is_splits``
  consecutive splits: generated images against the real images of the same layouts, on the
  features of ``eval.extractor`` — ``inception`` (the FID Inception-V3 from a local weights file:
  ``--weights-dir``, ``eval.weights`` or ``$LOCOCO_WEIGHTS_DIR``) or ``substitute`` (lococo's
  CA classifier below, used as feature extractor; numbers marked ``comparable: false``);
* ``scene_fid``: FID on object crops (every box, resized to ``eval.crop_size``) of real and
  generated images;
* ``ca``: accuracy of a ResNet-``eval.ca_depth`` trained on crops of *real training* images
  (:func:`lococo.metrics.objects.ca_classifier`, kept in ``RUN/eval/``) on the crops of the
  generated images; ``ca_real`` the same classifier on crops of the real test images;
  ``ca_chance`` = 1 / number of object classes, ``ca_gap`` = ``ca_real − ca``.

Results go to ``results.json`` → ``ocgan``; sample grids (generated, layout drawn, real) to
``figures/eval_samples.png``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lococo.config.loading import apply_overrides
from lococo.engine.run_dir import RunDir
from lococo.errors import ConfigError, LococoError
from lococo.ocgan.gan_config import GANRunConfig
from lococo.ocgan.gan_train import (
    generate,
    held_out_split,
    layout_dataset,
    load_generator,
    load_layout_data,
)

SECTION = "ocgan"
EVAL_DIR = "eval"
SAMPLES_FIGURE = "eval_samples.png"


def eval_config(base: GANRunConfig, overrides: dict[str, Any] | None) -> GANRunConfig:
    """The run's config with ``eval.*`` overrides (anything else is refused: it would not
    describe the trained model any more)."""
    overrides = dict(overrides or {})
    for key in overrides:
        if not key.startswith("eval."):
            raise ConfigError(
                f"override {key!r}: evaluate takes eval.* keys only (the model is trained)"
            )
    return apply_overrides(base, overrides, "override")


def feature_extractor(cfg: GANRunConfig, weights_dir: str | None) -> Any:
    """The FID Inception-V3 (``eval.extractor=inception``), or ``None`` for the substitute
    (built later from the CA classifier). Missing weights: one line naming the file."""
    if cfg.eval.extractor != "inception":
        return None
    from lococo.metrics.inception import WEIGHTS_FILE, load_fid_inception

    weights: str | Path | None = cfg.eval.weights or None
    if weights is None and weights_dir:
        weights = Path(weights_dir) / WEIGHTS_FILE
    try:
        return load_fid_inception(weights)
    except LococoError as err:
        if weights is None and not os.environ.get("LOCOCO_WEIGHTS_DIR"):
            raise LococoError(
                f"{err}; or evaluate with the substitute extractor (--substitute, not comparable)"
            ) from None
        raise


def _uint8(images: Tensor) -> Tensor:
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _boxes(dataset: Any, count: int) -> tuple[list[Tensor], Tensor]:
    boxes = [dataset.boxes[i][dataset.valid[i]] for i in range(count)]
    labels = torch.cat([dataset.labels[i][dataset.valid[i]] for i in range(count)])
    return boxes, labels


def real_images(dataset: Any, count: int) -> Tensor:
    """``uint8`` images of the first ``count`` items of a :class:`LayoutDataset`."""
    return torch.stack([_uint8(dataset[i]["image"]) for i in range(count)])


def generate_split(trained: Any, dataset: Any, count: int, cfg: GANRunConfig, progress: bool):
    """One generated ``uint8`` image per layout (noise from ``eval.seed``)."""
    from tqdm.auto import tqdm

    noise = trained.noise(count, cfg.eval.seed)
    out = []
    for start in tqdm(
        range(0, count, cfg.eval.batch_size), desc="generate", disable=not progress, leave=False
    ):
        sl = slice(start, min(count, start + cfg.eval.batch_size))
        layout = {
            "boxes": dataset.boxes[sl],
            "labels": dataset.labels[sl],
            "valid": dataset.valid[sl],
            "z": noise["z"][sl],
            "obj_z": noise["obj_z"][sl],
        }
        out.append(_uint8(generate(trained.generator, layout).cpu()))
    return torch.cat(out)


def evaluate_gan(
    run_dir: str | Path,
    overrides: dict[str, Any] | None = None,
    *,
    weights_dir: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Every metric of the module docstring; stored as ``results.json`` → ``ocgan``."""
    from lococo.metrics.generation import (
        feature_statistics,
        frechet_distance,
        inception_score,
        kernel_inception_distance,
    )
    from lococo.metrics.inception import extract
    from lococo.metrics.objects import (
        CAConfig,
        ClassifierExtractor,
        ca_classifier,
        crop_accuracy,
        object_crops,
        scene_fid,
    )

    run = RunDir(Path(run_dir))
    run.check_writable()
    trained = load_generator(run.path)
    cfg = eval_config(trained.cfg, overrides)
    e = cfg.eval
    extractor = feature_extractor(cfg, weights_dir)  # missing weights: stop before any work
    data = load_layout_data(cfg)
    if data.class_names != trained.class_names:
        raise LococoError(
            f"{cfg.data.path}: the data's classes differ from the ones {run.path} was trained on"
        )
    split = held_out_split(data, e.split)
    start = time.perf_counter()
    torch.manual_seed(e.seed)
    test_set = layout_dataset(data, split, cfg, train=False, progress=progress)
    train_set = layout_dataset(data, cfg.data.train_split, cfg, train=False, progress=progress)
    count = len(test_set) if e.max_scenes <= 0 else min(e.max_scenes, len(test_set))
    if count < max(2, e.is_splits):
        raise LococoError(
            f"{data.root}: split {split!r} has {count} scenes; evaluation needs at least "
            f"{max(2, e.is_splits)} (eval.is_splits)"
        )
    fake = generate_split(trained, test_set, count, cfg, progress)
    real = real_images(test_set, count)
    boxes, labels = _boxes(test_set, count)
    train_boxes, train_labels = _boxes(train_set, len(train_set))

    ca_cfg = CAConfig(
        depth=e.ca_depth,
        input_size=e.ca_input_size,
        epochs=e.ca_epochs,
        batch_size=e.ca_batch_size,
        lr=e.ca_lr,
        seed=e.seed,
    )
    train_crops = object_crops(real_images(train_set, len(train_set)), train_boxes, e.ca_input_size)
    classifier, ca_meta = ca_classifier(
        run.path / EVAL_DIR,
        train_crops,
        train_labels,
        data.num_classes,
        ca_cfg,
        progress=progress,
    )
    fake_crops = object_crops(fake, boxes, e.ca_input_size)
    real_crops = object_crops(real, boxes, e.ca_input_size)
    ca = crop_accuracy(classifier, fake_crops, labels)
    ca_real = crop_accuracy(classifier, real_crops, labels)
    if extractor is None:
        extractor = ClassifierExtractor(classifier, source=str(run.path / EVAL_DIR))

    def feats(images: Tensor, name: str) -> Any:
        batches = (images[i : i + e.batch_size] for i in range(0, len(images), e.batch_size))
        return extract(extractor, batches, total=len(images), progress=progress, desc=name)

    real_f, fake_f = feats(real, "real features"), feats(fake, "generated features")
    fid = frechet_distance(
        *feature_statistics(real_f.features), *feature_statistics(fake_f.features)
    )
    subset = min(e.kid_subset_size, count)
    kid, kid_std = kernel_inception_distance(  # real and generated image i share a layout
        real_f.features, fake_f.features, subsets=e.kid_subsets, subset_size=subset,
        seed=e.seed, paired=True,
    )  # fmt: skip
    if fake_f.logits is None:
        raise LococoError(f"extractor {extractor.name} gives no logits for the Inception Score")
    is_mean, is_std = inception_score(fake_f.logits, splits=e.is_splits)
    sfid = scene_fid(extractor, real, boxes, fake, boxes, crop_size=e.crop_size, progress=progress)[
        "scene_fid"
    ]
    info = extractor.info()
    result: dict[str, Any] = {
        "split": split,
        "scenes": count,
        "objects": len(labels),
        "classes": data.num_classes,
        "fid": round(fid, 4),
        "kid": round(kid, 6),
        "kid_std": round(kid_std, 6),
        "kid_paired": True,
        "kid_subset_size": subset,
        "is_mean": round(is_mean, 4),
        "is_std": round(is_std, 4),
        "is_splits": e.is_splits,
        "scene_fid": round(sfid, 4),
        "scene_fid_crop_size": e.crop_size,
        "ca": round(ca, 4),
        "ca_real": round(ca_real, 4),
        "ca_chance": round(1.0 / data.num_classes, 4),
        "ca_gap": round(ca_real - ca, 4),
        "ca_classifier": f"resnet{classifier.depth}",
        "ca_classifier_reused": bool(ca_meta.get("reused")),
        "ca_train_crops": len(train_crops),
        "extractor": info.get("extractor"),
        "extractor_source": info.get("extractor_source", info.get("weights")),
        "comparable": bool(info.get("comparable")) and _perceptual_comparable(cfg),
        "perceptual": cfg.loss.perceptual if cfg.model.perceptual else None,
        "seed": e.seed,
        "seconds": round(time.perf_counter() - start, 2),
    }
    result["figures"] = [samples_figure(run, trained, test_set, fake, real, cfg)]
    run.write_result(SECTION, result)
    return result


def _perceptual_comparable(cfg: GANRunConfig) -> bool:
    return not cfg.model.perceptual or cfg.loss.perceptual == "vgg19"


def samples_figure(
    run: RunDir, trained: Any, dataset: Any, fake: Tensor, real: Tensor, cfg: GANRunConfig
) -> str:
    """Generated images, the same with the layout drawn, and the real images of the layouts."""
    from lococo.viz.ocgan import plot_layout_samples

    n = min(cfg.sample.scenes, len(fake))
    to_float = lambda x: x[:n].float() / 127.5 - 1.0  # noqa: E731
    path = plot_layout_samples(
        to_float(fake),
        dataset.boxes[:n],
        dataset.labels[:n],
        dataset.valid[:n],
        trained.class_names,
        run.figures / SAMPLES_FIGURE,
        "generated / with layout / real",
        real=to_float(real),
    )
    return str(path.relative_to(run.path))
