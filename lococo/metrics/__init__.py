"""Metrics as pure functions: ZSL accuracy, TRE (later: parts F1, Dice, AUC, FID)."""

from lococo.metrics.compositionality import threshold_attributes, tre, tre_ratio
from lococo.metrics.zsl import harmonic_mean, per_class_accuracy

__all__ = ["harmonic_mean", "per_class_accuracy", "threshold_attributes", "tre", "tre_ratio"]
