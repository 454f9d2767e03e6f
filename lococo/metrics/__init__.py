"""Metrics as pure functions: ZSL accuracy, TRE, parts F1, heatmap locality, FID/IS/KID, Dice."""

from lococo.metrics.compositionality import threshold_attributes, tre, tre_ratio
from lococo.metrics.correlation import pearson
from lococo.metrics.generation import (
    feature_statistics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
)
from lococo.metrics.locality import attribute_cosine, normalise_scores, parts_ratio, ssim
from lococo.metrics.parts import binary_f1, click_boxes, part_masks, parts_f1
from lococo.metrics.segmentation import dice
from lococo.metrics.zsl import harmonic_mean, per_class_accuracy

__all__ = [
    "attribute_cosine",
    "binary_f1",
    "click_boxes",
    "dice",
    "feature_statistics",
    "frechet_distance",
    "harmonic_mean",
    "inception_score",
    "kernel_inception_distance",
    "normalise_scores",
    "part_masks",
    "parts_f1",
    "parts_ratio",
    "pearson",
    "per_class_accuracy",
    "ssim",
    "threshold_attributes",
    "tre",
    "tre_ratio",
]
