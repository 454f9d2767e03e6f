"""Metrics as pure functions: ZSL accuracy, TRE, parts F1, heatmap locality, Dice."""

from lococo.metrics.compositionality import threshold_attributes, tre, tre_ratio
from lococo.metrics.locality import attribute_cosine, normalise_scores, parts_ratio, pearson, ssim
from lococo.metrics.parts import binary_f1, click_boxes, part_masks, parts_f1
from lococo.metrics.segmentation import dice
from lococo.metrics.zsl import harmonic_mean, per_class_accuracy

__all__ = [
    "attribute_cosine",
    "binary_f1",
    "click_boxes",
    "dice",
    "harmonic_mean",
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
