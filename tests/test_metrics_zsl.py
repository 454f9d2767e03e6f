"""ZSL accuracy measures against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from lococo.metrics.zsl import harmonic_mean, per_class_accuracy, sample_accuracy


def test_per_class_accuracy_matches_sklearn_balanced_accuracy():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 7, size=500)
    pred = np.where(rng.random(500) < 0.6, target, rng.integers(0, 7, size=500))
    assert per_class_accuracy(pred, target) == pytest.approx(balanced_accuracy_score(target, pred))
    assert sample_accuracy(pred, target) == pytest.approx(accuracy_score(target, pred))


def test_per_class_weighs_classes_equally():
    target = np.array([0] * 90 + [1] * 10)
    pred = np.zeros(100, dtype=int)
    assert sample_accuracy(pred, target) == pytest.approx(0.9)
    assert per_class_accuracy(pred, target) == pytest.approx(0.5)


def test_harmonic_mean():
    assert harmonic_mean(0.5, 0.5) == pytest.approx(0.5)
    assert harmonic_mean(1.0, 0.0) == 0.0
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert harmonic_mean(0.6, 0.3) == pytest.approx(0.4)
