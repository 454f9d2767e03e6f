"""Metrics as pure functions: ZSL accuracy (later: parts F1, TRE, Dice, AUC, FID)."""

from lococo.metrics.zsl import harmonic_mean, per_class_accuracy

__all__ = ["harmonic_mean", "per_class_accuracy"]
