"""Rule `sensitivity`: per-layer pruning sensitivity of one model's baselines (every run) on one dataset.

Writes `out_csv` (one row per run, kind, layer and ratio) and `out_json` (the same rows with what was measured).
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
from eegslim.runs import parse_run
from eegslim.splits import load_split
from eegslim.store import load_windows

logger = logging.getLogger(__name__)
COLUMNS = ("dataset", "model", "seed", "fold", "kind", "layer", "ratio", "params", "balanced_accuracy", "accuracy",
           "reference_balanced_accuracy", "reference_accuracy", "delta_balanced_accuracy")


def _validation_rows(split_json: str | Path, max_windows: int | None) -> np.ndarray:
    """The validation windows of a split file: all, or a seeded subset of `max_windows` when there are more."""
    val = np.asarray(load_split(split_json)["val"])
    if len(val) == 0:
        raise ValueError(f"{split_json}: the validation split is empty; sensitivity needs validation windows")
    if max_windows is not None and len(val) > max_windows:
        val = np.sort(np.random.default_rng(0).choice(val, max_windows, replace=False))
    return val


def run(dataset: str, model: str, baseline_dirs: list[str | Path], runs: list[str], windows_h5: str | Path,
        split_jsons: list[str | Path], out_json: str | Path, out_csv: str | Path, settings: dict) -> pd.DataFrame:
    """Measure every baseline in `baseline_dirs` (one per run name in `runs`, eegslim.runs) on the validation
    part of its split file (`split_jsons`, one per run).

    settings: `ratios` (pruning ratios), `kinds` (structured and/or unstructured), `max_windows` (a seeded
    subset of the validation windows when there are more). Returns the table written to `out_csv`.
    """
    ratios = [float(r) for r in settings["ratios"]]
    kinds = list(settings.get("kinds", KINDS))
    max_windows = None if settings.get("max_windows") is None else int(settings["max_windows"])
    windows = load_windows(windows_h5)
    n_classes = len(windows.class_names)
    rows, n_windows = [], {}
    for name, base, split_json in zip(runs, baseline_dirs, split_jsons, strict=True):
        fold, seed = parse_run(name)
        val = _validation_rows(split_json, max_windows)
        net, arch = load_checkpoint(base)
        if arch["name"] != arch_name(model):
            raise ValueError(f"{Path(base) / 'arch.json'}: model {arch['name']!r}, expected {arch_name(model)!r}")
        torch.manual_seed(seed)
        for row in layer_sensitivity(net, arch, windows.X[val], windows.y[val], n_classes, ratios, kinds):
            rows.append({"dataset": dataset, "model": model, "seed": seed, "fold": fold, **row})
        n_windows[name] = int(len(val))
        logger.info("%s %s %s: %d measurements on %d validation windows", dataset, model, name, len(rows), len(val))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    with atomic_open(out_csv, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, index=False, lineterminator="\n")
    write_json(out_json, {"dataset": dataset, "model": model, "split": "val", "n_windows": n_windows,
                          "ratios": ratios, "kinds": kinds, "runs": list(runs), "rows": rows})
    return table
