"""Classification metrics shared by every evaluation (torch and onnxruntime alike).

scikit-learn computes them; it is imported where they are computed, so the report and `verify`, which need only
the record's keys, start without it (about 1 s per process).
"""

from __future__ import annotations

import numpy as np

# The flat metrics.json record (DESIGN.md contract). Every evaluated model writes all of these keys;
# values that do not apply are null (for example latency of a torch checkpoint).
METRIC_KEYS = (
    "dataset", "model", "stage", "method", "ratio", "recovery", "variant", "seed", "fold",
    "params", "nonzero_params", "macs", "file_bytes", "gzip_bytes",
    "accuracy", "balanced_accuracy", "macro_f1", "cohen_kappa", "n_test",
    "latency_ms_b1", "latency_ms_b64",
    "n_classes", "chance_accuracy", "chance_balanced_accuracy",
    "split_protocol", "split_caveat",
)
# fold: the k-fold fold whose test part was scored (null outside kfold and segment_kfold); split_protocol: the
# protocol of the split file the test set came from (catalog.PROTOCOLS); split_caveat: its caveat
# (e.g. subjects shared between train and test under a published protocol) or null.
# Measured wall-clock times: the only metrics.json keys that differ between two runs of the same config and
# seed on the same CPU (everything else is reproducible; tests/test_determinism.py checks it).
TIMING_KEYS = ("latency_ms_b1", "latency_iqr_ms_b1", "latency_ms_b64", "latency_iqr_ms_b64")


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 and Cohen's kappa of predicted class ids, with chance levels.

    y_true, y_pred: (n,) integer class ids in [0, n_classes). Chance accuracy is the majority-class
    share of `y_true` (what always guessing that class scores); chance balanced accuracy is 1/n_classes.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score, f1_score

    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"need two equal, non-empty 1-D label arrays, got {y_true.shape} and {y_pred.shape}")
    labels = np.arange(n_classes)
    counts = np.bincount(y_true, minlength=n_classes)
    kappa = cohen_kappa_score(y_true, y_pred, labels=labels)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels[counts > 0], average="macro", zero_division=0)),
        "cohen_kappa": 0.0 if np.isnan(kappa) else float(kappa),
        "n_test": int(len(y_true)),
        "n_classes": int(n_classes),
        "chance_accuracy": float(counts.max() / counts.sum()),
        "chance_balanced_accuracy": 1.0 / n_classes,
    }


def metrics_record(**fields) -> dict:
    """A complete metrics.json record: every key of METRIC_KEYS, missing ones as None; extra keys kept."""
    record = {key: None for key in METRIC_KEYS}
    record.update(fields)
    return record
