"""Rule `classical`: fit the classical reference model `bandpower_lr` on one run's split, score it on the test part.

Writes `out_dir/{model.json, predictions.npz, metrics.json}` (metrics.json last). The test windows are the same rows
of windows.h5 every deep model of the run is scored on, so predictions pair window by window.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from pathlib import Path

import numpy as np

from eegslim import classical
from eegslim.atomic import write_json
from eegslim.metrics import classification_metrics, metrics_record
from eegslim.predictions import make_predictions, write_predictions
from eegslim.splits import load_split, split_fields
from eegslim.store import load_windows

logger = logging.getLogger(__name__)

MODEL = "bandpower_lr"
FIT_ON = {"train_val": ("train", "val"), "train": ("train",)}


def settings_with_defaults(settings: dict) -> dict:
    """`bandpower_lr` settings (bands, C, fit_on) with the defaults of what is missing; unknown keys raise."""
    out = {"bands": classical.DEFAULT_BANDS, "C": 1.0, "fit_on": "train_val", **settings}
    if unknown := sorted(set(out) - {"bands", "C", "fit_on"}):
        raise ValueError(f"bandpower_lr: unknown settings {unknown}")
    if out["fit_on"] not in FIT_ON:
        raise ValueError(f"bandpower_lr.fit_on: {out['fit_on']!r}, expected one of {', '.join(FIT_ON)}")
    return out


def run(dataset: str, windows_h5: str | Path, split_json: str | Path, out_dir: str | Path, settings: dict,
        seed: int, model: str = MODEL) -> dict:
    """Fit bandpower_lr on the split's train (+ val, fit_on train_val) windows, score the test windows; return the
    metrics record. settings: `bands` ({name: [lo, hi]} Hz), `C` (inverse L2 strength), `fit_on`."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    cfg = settings_with_defaults(settings)
    split = load_split(split_json)
    fit_rows = np.concatenate([np.asarray(split[part], dtype=np.int64) for part in FIT_ON[cfg["fit_on"]]])
    test_rows = np.asarray(split["test"], dtype=np.int64)
    train = load_windows(windows_h5, rows=fit_rows)
    n_classes = len(train.class_names)
    fitted = classical.fit(train.X, train.y, train.sfreq, n_classes, cfg["bands"], cfg["C"], seed)
    del train
    test = load_windows(windows_h5, rows=test_rows)
    proba = fitted.predict_proba(test.X)
    preds = make_predictions(test_rows, test.y, proba, test.subject, test.recording)
    scores = classification_metrics(preds.y_true, preds.y_pred, n_classes)

    out_dir.mkdir(parents=True, exist_ok=True)
    model_json = out_dir / "model.json"
    write_json(model_json, {**fitted.to_json(), "C": cfg["C"], "fit_on": cfg["fit_on"], "seed": seed,
                            "n_fit": int(len(fit_rows)), "ch_names": list(test.ch_names),
                            "class_names": list(test.class_names)})
    data = model_json.read_bytes()
    write_predictions(out_dir / "predictions.npz", preds)
    record = metrics_record(
        dataset=dataset, model=model, stage="baseline", variant="sklearn", seed=seed,
        params=fitted.n_params, nonzero_params=int(np.count_nonzero(fitted.coef) + np.count_nonzero(fitted.intercept)),
        file_bytes=len(data), gzip_bytes=len(gzip.compress(data, compresslevel=9, mtime=0)),
        **scores, **split_fields(split))
    write_json(out_dir / "metrics.json", record)
    logger.info("%s on %s: %d features, fit on %d windows (%s), test bacc %.4f, acc %.4f (%.1f s)", model, dataset,
                fitted.mean.size, len(fit_rows), cfg["fit_on"], scores["balanced_accuracy"], scores["accuracy"],
                time.perf_counter() - started)
    return record


def load_model(model_json: str | Path) -> classical.BandpowerModel:
    """The fitted model of a model.json written by `run`."""
    return classical.BandpowerModel.from_json(json.loads(Path(model_json).read_text()))
