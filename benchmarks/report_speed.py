"""Wall time of the report stage on a synthetic results tree of about 1000 variants, statistics included.

    PYTHONPATH=. .venv/bin/python benchmarks/report_speed.py [--methods 10] [--ratios 10] [--n-boot 2000]

One dataset and model: a baseline (torch + 4 ONNX variants) and methods × ratios × 2 recoveries pruned models, each
as torch + fp32, int8_dynamic, int8_static and fp16 (1000 variants at the defaults), every one with 6 folds × 3 seeds
= 18 runs over 24 subjects (bootstrap_speed.py's synthetic predictions), so 18,090 metrics.json and
predictions.npz files. Writing the tree is not timed; `eegslim.stages.report.run` (reading every file, every CI
and paired Δ, tables, figures and the page) is, and the seconds of its statistics step are read from its log.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from bootstrap_speed import fold_windows, model_runs

from eegslim.metrics import metrics_record
from eegslim.predictions import write_predictions
from eegslim.stages import report

VARIANTS = ("torch", "fp32", "int8_dynamic", "int8_static", "fp16")
SIZE = {"torch": 4.0, "fp32": 4.0, "int8_dynamic": 1.0, "int8_static": 1.0, "fp16": 2.0}  # bytes per weight


def write_config(root: Path, rng, folds, method, ratio, recovery, skill) -> list[str]:
    """Every variant and run of one configuration; returns the metrics.json paths."""
    files = []
    params = int(2000 * (1 - (ratio or 0)))
    for variant in VARIANTS:
        stage = "quantize" if variant != "torch" else "baseline" if method is None else "prune"
        for run, (fold, preds) in enumerate(model_runs(rng, folds, skill)):
            seed = run % 3
            path = root / "d" / "m" / f"{method}-{ratio}-{recovery}" / variant / f"fold{fold}-seed{seed}" / "metrics.json"
            path.parent.mkdir(parents=True)
            bacc = float(np.mean([np.mean(preds.y_pred[preds.y_true == c] == c) for c in (0, 1)]))
            latency = None if variant == "torch" else params / 2000 * (0.5 if "int8" in variant else 1.0)
            record = metrics_record(
                dataset="d", model="m", stage=stage, method=method, ratio=ratio, recovery=recovery, variant=variant,
                seed=seed, fold=fold, params=params, nonzero_params=params, macs=10 * params,
                file_bytes=int(params * SIZE[variant]) + 500, gzip_bytes=int(params * SIZE[variant] * 0.9) + 300,
                accuracy=float(np.mean(preds.y_pred == preds.y_true)), balanced_accuracy=bacc, macro_f1=bacc,
                cohen_kappa=2 * bacc - 1, n_test=len(preds.window), latency_ms_b1=latency, n_classes=2,
                chance_accuracy=0.5, chance_balanced_accuracy=0.5, split_protocol="kfold")
            path.write_text(json.dumps(record))
            write_predictions(path.with_name("predictions.npz"), preds)
            files.append(str(path))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", type=int, default=10)
    parser.add_argument("--ratios", type=int, default=10)
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    folds = fold_windows(rng)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        files = write_config(root, rng, folds, None, None, None, 1.5)
        for m in range(args.methods):
            for ratio in np.round(np.linspace(0.05, 0.95, args.ratios), 3):
                for recovery in ("finetune", "scratch"):
                    files += write_config(root, rng, folds, f"m{m}", float(ratio), recovery,
                                          float(rng.uniform(0.8, 1.6)))
        n_variants = len(files) // 18 - len(VARIANTS)
        print(f"wrote {len(files)} metrics.json + predictions.npz ({n_variants} variants) in "
              f"{time.perf_counter() - started:.1f} s")
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        started = time.perf_counter()
        report.run(files, {}, root / "report.html", root / "tables",
                   {"accuracy_budget": 0.01, "bootstrap": {"n_boot": args.n_boot}})
        print(f"report stage: {time.perf_counter() - started:.1f} s for {n_variants} variants "
              f"({len(files)} records, n_boot {args.n_boot})")


if __name__ == "__main__":
    main()
