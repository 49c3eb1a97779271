"""Rule `sensitivity`: per-layer pruning sensitivity of one model's baselines (every seed) on one dataset.

Writes `out_csv` (one row per seed, kind, layer and ratio) and `out_json` (the same rows with what was measured).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from eegslim.atomic import atomic_open, write_json
from eegslim.models import arch_name
from eegslim.models.checkpoint import load_checkpoint
from eegslim.prune.sensitivity import KINDS, layer_sensitivity
from eegslim.splits import load_split
from eegslim.store import load_windows

logger = logging.getLogger(__name__)
COLUMNS = ("dataset", "model", "seed", "kind", "layer", "ratio", "params", "balanced_accuracy", "accuracy",
           "reference_balanced_accuracy", "reference_accuracy", "delta_balanced_accuracy")


def run(dataset: str, model: str, baseline_dirs: list[str | Path], seeds: list[int], windows_h5: str | Path,
        split_json: str | Path, out_json: str | Path, out_csv: str | Path, settings: dict) -> pd.DataFrame:
    """Measure every baseline in `baseline_dirs` (one per seed in `seeds`) on the validation split.

    settings: `ratios` (pruning ratios), `kinds` (structured and/or unstructured), `max_windows` (a seeded
    subset of the validation windows when there are more). Returns the table written to `out_csv`.
    """
    ratios = [float(r) for r in settings["ratios"]]
    kinds = list(settings.get("kinds", KINDS))
    windows = load_windows(windows_h5)
    val = np.asarray(load_split(split_json)["val"])
    if len(val) == 0:
        raise ValueError(f"{split_json}: the validation split is empty; sensitivity needs validation windows")
    max_windows = int(settings.get("max_windows", len(val)))
    if len(val) > max_windows:
        val = np.sort(np.random.default_rng(0).choice(val, max_windows, replace=False))
    X, y, n_classes = windows.X[val], windows.y[val], len(windows.class_names)
    rows = []
    for seed, base in zip(seeds, baseline_dirs, strict=True):
        net, arch = load_checkpoint(base)
        if arch["name"] != arch_name(model):
            raise ValueError(f"{Path(base) / 'arch.json'}: model {arch['name']!r}, expected {arch_name(model)!r}")
        torch.manual_seed(seed)
        for row in layer_sensitivity(net, arch, X, y, n_classes, ratios, kinds):
            rows.append({"dataset": dataset, "model": model, "seed": int(seed), **row})
        logger.info("%s %s seed %d: %d measurements on %d validation windows", dataset, model, seed,
                    len(rows), len(val))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    with atomic_open(out_csv, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, index=False, lineterminator="\n")
    write_json(out_json, {"dataset": dataset, "model": model, "split": "val", "n_windows": int(len(val)),
                          "ratios": ratios, "kinds": kinds, "seeds": [int(s) for s in seeds], "rows": rows})
    return table
