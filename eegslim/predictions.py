"""Test-set predictions kept beside every metrics.json: what every statistic of the report is computed from.

`predictions.npz` (numpy, no pickle) holds, per scored test window, sorted by window:
  window     (n,) int64    row of the window in windows.h5 (pairs two models scored on the same split)
  y_true     (n,) int64    true class id
  y_pred     (n,) int64    predicted class id (argmax of proba)
  proba      (n, N) float32 class probabilities (softmax of the logits; predict_proba for classical models)
  subject    (n,) str      subject id of the window
  recording  (n,) str      recording id of the window
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegslim.atomic import atomic_path

PREDICTIONS_FILE = "predictions.npz"
FIELDS = ("window", "y_true", "y_pred", "proba", "subject", "recording")


@dataclass(frozen=True)
class Predictions:
    window: np.ndarray     # (n,) int64
    y_true: np.ndarray     # (n,) int64
    y_pred: np.ndarray     # (n,) int64
    proba: np.ndarray      # (n, n_classes) float32
    subject: np.ndarray    # (n,) str
    recording: np.ndarray  # (n,) str

    @property
    def n_classes(self) -> int:
        return self.proba.shape[1]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, N) logits, computed stably in float64, returned as float32."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def make_predictions(window, y_true, proba, subject, recording) -> Predictions:
    """Predictions sorted by window row, y_pred = argmax(proba); shapes are checked."""
    window = np.asarray(window, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float32)
    n = len(window)
    if proba.ndim != 2 or proba.shape[0] != n:
        raise ValueError(f"predictions: proba has shape {proba.shape}, expected ({n}, n_classes)")
    arrays = {"y_true": np.asarray(y_true, dtype=np.int64), "subject": np.asarray(subject, dtype=str),
              "recording": np.asarray(recording, dtype=str)}
    for name, values in arrays.items():
        if values.shape != (n,):
            raise ValueError(f"predictions: {name} has shape {values.shape}, expected ({n},)")
    if len(np.unique(window)) != n:
        raise ValueError("predictions: a window row appears twice")
    order = np.argsort(window, kind="stable")
    return Predictions(window=window[order], y_true=arrays["y_true"][order], y_pred=proba.argmax(1)[order],
                       proba=proba[order], subject=arrays["subject"][order], recording=arrays["recording"][order])


def write_predictions(path: str | Path, predictions: Predictions) -> None:
    """Write `predictions` to `path` (an .npz) atomically."""
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **{name: getattr(predictions, name) for name in FIELDS})


def read_predictions(path: str | Path) -> Predictions:
    """Read a predictions.npz; errors name the file and what is wrong."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in FIELDS if name not in data.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {missing}")
            arrays = {name: data[name] for name in FIELDS}
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable predictions file ({type(err).__name__}: {err})") from err
    n = len(arrays["window"])
    if arrays["proba"].ndim != 2 or arrays["proba"].shape[0] != n or any(
            arrays[k].shape != (n,) for k in FIELDS if k != "proba"):
        raise ValueError(f"{path}: arrays of different lengths {({k: v.shape for k, v in arrays.items()})}")
    return Predictions(**arrays)


def predictions_path(metrics_json: str | Path) -> Path:
    """The predictions file beside a metrics.json."""
    return Path(metrics_json).with_name(PREDICTIONS_FILE)
