"""Rule `quantize`: export a checkpoint to ONNX, make its int8 and fp16 variants, test and time each with onnxruntime.

Writes `out_root/{variant}/model.onnx`, `predictions.npz` and `metrics.json` for each requested variant.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime

from eegslim.atomic import read_json, write_json
from eegslim.deploy.latency import OnnxModel, cpu_flags, latency_interleaved
from eegslim.deploy.onnx_export import export_onnx
from eegslim.deploy.quantize import CALIBRATED, MIN_CALIBRATION, QUANTIZERS
from eegslim.deploy.size import SIZE_FIELDS, file_stats
from eegslim.metrics import classification_metrics, metrics_record
from eegslim.models.checkpoint import load_checkpoint
from eegslim.predictions import PREDICTIONS_FILE, Predictions, make_predictions, softmax, write_predictions
from eegslim.splits import load_split, split_fields
from eegslim.store import load_windows

logger = logging.getLogger(__name__)

VARIANTS = ("fp32", *QUANTIZERS)
IDENTITY = ("dataset", "model", "method", "ratio", "recovery", "seed")


def calibration_rows(train: list[int], n: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices of `n` training windows drawn without replacement (all of them when there are fewer)."""
    train = np.asarray(train, dtype=np.int64)
    if len(train) == 0:
        raise ValueError("quantize: the split has no training windows to calibrate int8_static on")
    if len(train) > n:
        train = np.random.default_rng(seed).choice(train, n, replace=False)
    return np.sort(train)


def _predictions(logits: np.ndarray, rows: np.ndarray, windows) -> Predictions:
    """Predictions of one variant from its logits (n, N) on the sorted test rows `rows` of `windows`."""
    return make_predictions(rows, windows.y, softmax(logits), windows.subject, windows.recording)


def run(model_dir: str | Path, windows_h5: str | Path, split_json: str | Path, out_root: str | Path,
        variants: list[str], quantize_cfg: dict) -> dict[str, dict]:
    """ONNX variants of `model_dir`'s model; returns {variant: metrics record}.

    quantize_cfg: threads (1; intra-op threads for latency), eval_threads (= threads; for the test-set
    predictions), batch_size (256), latency_repeats (30), warmup (5), latency_b64 (True), calibration_windows
    (500; training windows for int8_static, all of them when there are fewer).
    Latency repeats are interleaved across the variants. `agreement_fp32` is the share of test predictions
    equal to the fp32 ONNX model's; `source_stage` is the stage of `model_dir` (baseline | prune).
    """
    model_dir, out_root = Path(model_dir), Path(out_root)
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        raise ValueError(f"quantize: unknown or no variants {unknown or variants}; known: {', '.join(VARIANTS)}")
    threads = int(quantize_cfg.get("threads", 1))
    eval_threads = int(quantize_cfg.get("eval_threads", threads))
    batch_size = int(quantize_cfg.get("batch_size", 256))
    timing = dict(threads=threads, repeats=int(quantize_cfg.get("latency_repeats", 30)),
                  warmup=int(quantize_cfg.get("warmup", 5)))

    source = read_json(model_dir / "metrics.json")
    net, _ = load_checkpoint(model_dir)
    split = load_split(split_json)
    test_rows = np.sort(np.asarray(split["test"], dtype=np.int64))
    windows = load_windows(windows_h5, test_rows)
    X, y = windows.X, windows.y
    n_classes = len(windows.class_names)
    _, n_chans, n_times = X.shape
    torch_stats = {key: source[key] for key in SIZE_FIELDS}  # the checkpoint's own, counted when it was written
    calibration = None
    if CALIBRATED & set(variants):
        rows = calibration_rows(split["train"], int(quantize_cfg.get("calibration_windows", MIN_CALIBRATION)))
        calibration = load_windows(windows_h5, rows).X

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(net, n_chans, n_times,
                           out_root / "fp32" / "model.onnx" if "fp32" in variants else Path(tmp) / "fp32.onnx")
        paths = {v: fp32 if v == "fp32" else QUANTIZERS[v](fp32, out_root / v / "model.onnx",
                                                           **({"calibration": calibration} if v in CALIBRATED else {}))
                 for v in variants}
        reference = OnnxModel(fp32, eval_threads).logits(X, batch_size)
    preds = {v: _predictions(reference if v == "fp32" else OnnxModel(p, eval_threads).logits(X, batch_size),
                             test_rows, windows) for v, p in paths.items()}
    reference = reference.argmax(1)
    logger.info("predicted %d test windows with %s; measuring latency (%d repeats per variant, interleaved)",
                len(y), ", ".join(paths), timing["repeats"])
    b1 = latency_interleaved(paths, 1, n_chans, n_times, **timing)
    b64 = latency_interleaved(paths, 64, n_chans, n_times, **timing) if quantize_cfg.get("latency_b64", True) else {}

    records, flags = {}, cpu_flags()
    for v, path in paths.items():
        record = metrics_record(
            **{key: source.get(key) for key in IDENTITY}, stage="quantize", source_stage=source.get("stage"),
            variant=v, **torch_stats, **file_stats(path), **classification_metrics(y, preds[v].y_pred, n_classes),
            latency_ms_b1=b1[v]["median"], latency_iqr_ms_b1=b1[v]["iqr"],
            latency_ms_b64=b64[v]["median"] if b64 else None, latency_iqr_ms_b64=b64[v]["iqr"] if b64 else None,
            agreement_fp32=float(np.mean(preds[v].y_pred == reference)), threads=threads, cpu_flags=flags,
            onnxruntime=onnxruntime.__version__, **split_fields(split),
            calibration_windows=len(calibration) if v in CALIBRATED else None)
        write_predictions(out_root / v / PREDICTIONS_FILE, preds[v])
        write_json(out_root / v / "metrics.json", record)
        records[v] = record
        logger.info("%s %s: bacc %.4f, agreement %.4f, %d bytes (gzip %d), b1 %.3f ms", model_dir, v,
                    record["balanced_accuracy"], record["agreement_fp32"], record["file_bytes"],
                    record["gzip_bytes"], record["latency_ms_b1"])
    return records
