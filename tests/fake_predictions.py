"""Synthetic predictions.npz files for report tests: a given balanced accuracy, errors nested across models.

Every window has a fixed difficulty (the same for every model of a seed); a model with balanced accuracy b gets
the b × per_class easiest windows of each class right and calls the rest the next class. Two models of one seed
therefore differ only on the windows between their two cut-offs, as a compressed model mostly differs from its
baseline, and a model with the baseline's accuracy has exactly its predictions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eegslim.predictions import make_predictions, write_predictions


def fake_predictions(balanced_accuracy: float, seed: int = 0, n_classes: int = 2, per_class: int = 400,
                     n_subjects: int = 8):
    """Predictions of n_classes × per_class windows over `n_subjects` subjects with exactly `balanced_accuracy`
    (rounded to a multiple of 1/per_class)."""
    n = n_classes * per_class
    y = np.repeat(np.arange(n_classes), per_class)
    subject = np.array([f"s{i % n_subjects}" for i in range(n)])
    rank = np.empty(n, dtype=np.int64)
    rng = np.random.default_rng(1000 + seed)
    for c in range(n_classes):
        rows = np.flatnonzero(y == c)
        rank[rows] = rng.permutation(per_class)
    correct = rank < round(balanced_accuracy * per_class)
    y_pred = np.where(correct, y, (y + 1) % n_classes)
    proba = np.full((n, n_classes), 0.1 / max(1, n_classes - 1))
    proba[np.arange(n), y_pred] = 0.9
    return make_predictions(np.arange(n), y, proba, subject, subject)


def write_fake_predictions(metrics_json: str | Path, balanced_accuracy: float, seed: int = 0, **kwargs) -> int:
    """Write predictions.npz beside `metrics_json`; returns the number of test windows."""
    preds = fake_predictions(balanced_accuracy, seed, **kwargs)
    write_predictions(Path(metrics_json).with_name("predictions.npz"), preds)
    return len(preds.window)
