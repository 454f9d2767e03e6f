"""ROC-AUC of a trained classification run from the IMAGE ALONE (thesis 8.4.2, table 8.1).

:func:`evaluate_cls` rebuilds only the image path of the run's model (the ResNet encoder and
the classifier head: no text encoder, no GloVe file, no report text), scores the test patients'
images (the run's ``splits.json``) and stores the section ``cmim_cls`` of ``results.json``:
``auc_macro`` (the mean of the per-class AUCs), ``auc.{class}`` (scikit-learn
``roc_auc_score``), ``skipped`` (classes without both a positive and a negative test image:
no AUC), test counts and ``predictions`` (``predictions.npz``: ``scores`` N×K sigmoid
outputs, ``labels`` N×K, ``image_ids``, ``classes``: the data for ROC curves).

:func:`agreement_maps` is separate and DOES use the report: for a few test images of a CMIM
run it gives the local–local critic's score of every image position against each of the
report's key words (the words that name the image's findings), i.e. where the text tokens and
the image positions agree (``agreement.npz``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from lococo.cmim.cls_config import ClsConfig
from lococo.cmim.cls_models import CMIMClassifier, ImageOnlyClassifier
from lococo.cmim.cls_train import (
    MODEL_FILE,
    SPLITS_FILE,
    build_cls_model,
    dataset,
    prepare_cls_data,
    read_vocab,
)
from lococo.config.loading import apply_overrides
from lococo.engine.callbacks import load_checkpoint
from lococo.engine.device import compute_device
from lococo.engine.run_dir import RunDir
from lococo.engine.weights import load_state_dict
from lococo.errors import LococoError
from lococo.io import atomic_open

SECTION = "cmim_cls"
PREDICTIONS_FILE = "predictions.npz"
AGREEMENT_FILE = "agreement.npz"

#: Report words that name each label's finding (for the agreement figure).
LABEL_WORDS: dict[str, tuple[str, ...]] = {
    "Atelectasis": ("atelectasis",),
    "Cardiomegaly": ("cardiomegaly", "enlarged"),
    "Effusion": ("effusion", "effusions"),
    "Infiltration": ("infiltrate", "infiltrates", "opacity", "opacities"),
    "Mass": ("mass", "masses"),
    "Nodule": ("nodule", "nodules"),
    "Pneumonia": ("pneumonia",),
    "Pneumothorax": ("pneumothorax",),
    "Consolidation": ("consolidation", "airspace"),
    "Edema": ("edema",),
    "Emphysema": ("emphysema",),
    "Fibrosis": ("fibrosis",),
    "Pleural_Thickening": ("thickening",),
    "Hernia": ("hernia",),
}


def load_cls_config(run: RunDir, overrides: dict[str, Any] | None = None) -> ClsConfig:
    """The run's resolved config (``config.yaml``) with ``overrides`` applied."""
    return apply_overrides(run.saved_config(ClsConfig), overrides or {}, "override")


def _state_dict(run: RunDir) -> dict[str, torch.Tensor]:
    weights = run.path / MODEL_FILE
    if weights.exists():
        return load_state_dict(weights, "model weights")
    if run.last_checkpoint.exists():
        full = load_checkpoint(run.last_checkpoint)["state_dict"]
        return {k.removeprefix("model."): v for k, v in full.items() if k.startswith("model.")}
    raise LococoError(
        f"{run.path}: no trained model ({MODEL_FILE} or checkpoints/last.ckpt); "
        "run `lococo cmim train --task cls` first"
    )


def load_image_classifier(run: RunDir, cfg: ClsConfig, num_classes: int) -> ImageOnlyClassifier:
    """The run's test-time network: image encoder + head only (from either method's weights)."""
    from dataclasses import replace

    image_cfg = replace(cfg, method=replace(cfg.method, name="image_only"))
    model = build_cls_model(image_cfg, num_classes, None)
    state = {k: v for k, v in _state_dict(run).items() if k.startswith(("image.", "head."))}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise LococoError(
            f"{run.path / MODEL_FILE}: weights do not match the config ({str(err).splitlines()[0]})"
        ) from None
    return model.eval()


@torch.no_grad()
def predict_scores(
    model: ImageOnlyClassifier, test_set: Any, batch_size: int, progress: bool = False
) -> np.ndarray:
    """Sigmoid scores ``N×K`` from the images alone (on the model's device)."""
    device = next(model.parameters()).device
    out = []
    for start in tqdm(
        range(0, len(test_set), batch_size), desc="evaluate", disable=not progress, leave=False
    ):
        images = test_set.images[start : start + batch_size].to(device, non_blocking=True)
        out.append(torch.sigmoid(model.predict(images)).float())
    return torch.cat(out).cpu().numpy()


def auc_per_class(
    scores: np.ndarray, labels: np.ndarray, names: tuple[str, ...] | list[str]
) -> tuple[dict[str, float], list[str]]:
    """``{class: ROC-AUC}`` (scikit-learn) for classes with both outcomes in ``labels``, and
    the names of the skipped ones."""
    from sklearn.metrics import roc_auc_score

    auc, skipped = {}, []
    for k, name in enumerate(names):
        y = labels[:, k]
        if 0 < y.sum() < len(y):
            auc[name] = float(roc_auc_score(y, scores[:, k]))
        else:
            skipped.append(name)
    return auc, skipped


def evaluate_cls(
    run_path: str | Path,
    *,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    figures: bool = True,
) -> dict[str, Any]:
    """Per-class and macro ROC-AUC on the run's test patients, from the image alone; stored
    as ``cmim_cls``. ``figures`` also draws the run's ROC curves (and, for CMIM, the
    text–image agreement figure, which reads the reports)."""
    from lococo.data.cxr.splits import read_splits

    run = RunDir(Path(run_path))
    run.check_writable()  # refuse before computing, not after
    cfg = load_cls_config(run, overrides)
    splits_file = run.path / SPLITS_FILE
    if not splits_file.is_file():
        raise LococoError(f"{splits_file}: missing (the run has not been trained)")
    data = prepare_cls_data(cfg, with_text=False, splits=read_splits(splits_file))
    test = data.splits.get("test") or []
    if not test:
        raise LococoError(f"{cfg.data.path}: no test images (raise data.test_fraction)")
    model = load_image_classifier(run, cfg, len(data.label_names))
    model = model.to(compute_device(cfg.trainer))
    test_set = dataset(cfg, data, "test")
    scores = predict_scores(model, test_set, cfg.eval.batch_size, progress)
    labels = test_set.labels.numpy()
    auc, skipped = auc_per_class(scores, labels, data.label_names)
    result: dict[str, Any] = {
        "method": cfg.method.name,
        "classes": list(data.label_names),
        "test_images": len(test),
        "test_patients": len(data.patients.get("test", [])),
        "positives": {n: int(v) for n, v in zip(data.label_names, labels.sum(0), strict=True)},
        "auc_macro": float(np.mean(list(auc.values()))) if auc else float("nan"),
        "auc": auc,
        "skipped": skipped,
        "test_time_input": "image",
        "metric": "ROC-AUC per class (scikit-learn roc_auc_score) from the image alone; "
        "macro = mean over classes with positive and negative test images",
        "predictions": PREDICTIONS_FILE,
    }
    result["overrides"] = dict(overrides or {})
    with run.keeping_results(SECTION, result), atomic_open(run.path / PREDICTIONS_FILE, "wb") as f:
        np.savez_compressed(
            f,
            scores=scores.astype(np.float32),
            labels=labels.astype(np.uint8),
            image_ids=np.array([s.image_id for s in test]),
            classes=np.array(data.label_names),
        )
    run.write_result(SECTION, result)
    if figures:
        draw_run_figures(run, cfg)
    return result


def draw_run_figures(run: RunDir, cfg: ClsConfig) -> list[str]:
    """ROC curves of the run (and the agreement figure of a CMIM run) under ``figures/``."""
    from lococo.viz.cmim_cls import draw_agreement, draw_roc

    names = [draw_roc({cfg.method.name: run.path}, run.figures / "roc.png")]
    if cfg.method.name == "cmim":
        maps = agreement_maps(run, cfg)
        if maps is not None:
            names.append(draw_agreement(maps, run.figures / "agreement.png"))
    return [str(Path(n).relative_to(run.path)) for n in names if n is not None]


@torch.no_grad()
def agreement_maps(run: RunDir, cfg: ClsConfig | None = None) -> dict[str, Any] | None:
    """Local–local critic scores over the image for the key words of a few test reports.

    For up to ``eval.agreement_images`` test images with a finding whose word occurs in the
    report, returns ``images`` (K×S×S), ``maps`` (list of ``(image index, word, h×w scores)``)
    and ``titles``; ``None`` for an image-only run. Saved as ``agreement.npz``.
    """
    from lococo.data.cxr.splits import read_splits
    from lococo.data.cxr.text import Vocabulary, tokenize

    cfg = cfg or load_cls_config(run)
    if cfg.method.name != "cmim":
        return None
    data = prepare_cls_data(cfg, with_text=False, splits=read_splits(run.path / SPLITS_FILE))
    words, dim = read_vocab(run)
    vocab = Vocabulary(words)
    model = build_cls_model(cfg, len(data.label_names), torch.zeros(len(words), dim))
    model.load_state_dict(_state_dict(run))
    model.eval()
    assert isinstance(model, CMIMClassifier)
    picked = []
    for s in data.splits.get("test") or []:
        tokens = tokenize(s.text)
        named = [
            w
            for k, name in enumerate(data.label_names)
            if s.labels[k] > 0
            for w in LABEL_WORDS.get(name, ())
            if w in tokens
        ]
        if named:
            picked.append((s, tokens, list(dict.fromkeys(named))[:3]))
        if len(picked) >= cfg.eval.agreement_images:
            break
    if not picked:
        return None
    from lococo.data.cxr.dataset import load_grey

    images, maps, titles = [], [], []
    for i, (s, tokens, named) in enumerate(picked):
        image = load_grey(s.image_path, cfg.data.image_size)[None]
        ids = torch.tensor([vocab.encode(s.text, cfg.data.max_len)])
        lengths = torch.tensor([ids.shape[1]])
        local = model.image(image).local
        text = model.text(ids, lengths)
        scores = model.ll_critic(local, text.local)[0, 0]  # P×L
        h, w = local.shape[-2:]
        kept = tokens[: ids.shape[1]]
        for word in named:
            q = kept.index(word) if word in kept else None
            if q is not None:
                maps.append((i, word, scores[:, q].reshape(h, w).numpy()))
        images.append(image[0, 0].numpy())
        found = [n for k, n in enumerate(data.label_names) if s.labels[k] > 0]
        titles.append(f"{s.image_id}: {', '.join(found)}")
    result = {"images": np.stack(images), "maps": maps, "titles": titles}
    with atomic_open(run.path / AGREEMENT_FILE, "wb") as handle:
        np.savez_compressed(
            handle,
            images=result["images"],
            maps=np.stack([m for _, _, m in maps]) if maps else np.zeros((0, 1, 1)),
            image_index=np.array([i for i, _, _ in maps], dtype=np.int64),
            words=np.array([w for _, w, _ in maps]),
            titles=np.array(titles),
        )
    return result
