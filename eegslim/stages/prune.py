"""Rule `prune`: prune a baseline checkpoint with one method and ratio, recover, test, save.

Writes `out_dir/{model.safetensors, arch.json, history.json, predictions.npz, metrics.json}` (metrics.json last).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from eegslim.atomic import write_json
from eegslim.catalog import METHODS
from eegslim.deploy.size import file_stats, size_stats
from eegslim.metrics import classification_metrics, metrics_record
from eegslim.models import arch_name
from eegslim.models.checkpoint import load_checkpoint, save_checkpoint
from eegslim.predictions import PREDICTIONS_FILE, write_predictions
from eegslim.prune import PruneContext, prune_model, recover
from eegslim.splits import load_split, split_fields
from eegslim.store import load_windows
from eegslim.train import Distillation, TrainConfig, fit, predict_windows

logger = logging.getLogger(__name__)

# `prune` settings that configure the pruning (and the distill recovery's teacher) rather than the recovery training.
PRUNE_OPTIONS = ("schedule", "include_head", "criterion_batches", "bn_sparsity", "sparsity_epochs", "distill")


def _train(X_train, y_train, X_val, y_val, cfg: TrainConfig, epochs: int, n_classes: int, model) -> dict:
    """Train `model` with the recovery settings for `epochs` epochs (bn_slimming's sparsity training)."""
    return fit(model, X_train, y_train, X_val, y_val, dataclasses.replace(cfg, epochs=epochs), n_classes, log=logger)


def run(dataset: str, model: str, baseline_dir: str | Path, windows_h5: str | Path, split_json: str | Path,
        out_dir: str | Path, method: str, ratio: float, recovery: str, prune_cfg: dict, seed: int) -> dict:
    """Prune `baseline_dir`'s model with `method` at `ratio`, recover with `recovery`; return the metrics record.

    prune_cfg: the recovery training's `TrainConfig` fields but seed (epochs, lr, batch_size, ...), plus the
    pruning options PRUNE_OPTIONS (schedule, include_head, criterion_batches, bn_sparsity, sparsity_epochs) and
    `distill` ({alpha, temperature} of recovery distill, whose teacher is the unpruned baseline).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    options = {k: prune_cfg[k] for k in PRUNE_OPTIONS if k in prune_cfg}
    cfg = TrainConfig.from_dict({**{k: v for k, v in prune_cfg.items() if k not in PRUNE_OPTIONS}, "seed": seed})
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    net, arch = load_checkpoint(baseline_dir)
    if arch["name"] != arch_name(model):
        raise ValueError(f"{Path(baseline_dir) / 'arch.json'}: model {arch['name']!r}, expected "
                         f"{arch_name(model)!r} for {model!r}")
    windows = load_windows(windows_h5)
    split = load_split(split_json)
    n_classes = len(windows.class_names)
    _, n_chans, n_times = windows.X.shape
    train, val, test = (np.asarray(split[part]) for part in ("train", "val", "test"))

    before = size_stats(net, n_chans, n_times)
    torch.manual_seed(seed)
    train_fit = partial(_train, windows.X[train], windows.y[train], windows.X[val], windows.y[val], cfg,
                        options.get("sparsity_epochs", cfg.epochs), n_classes)
    ctx = PruneContext(X=windows.X[train], y=windows.y[train], batches=options.get("criterion_batches", 4),
                       batch_size=cfg.batch_size, schedule=options.get("schedule", "oneshot"),
                       epochs=cfg.epochs if recovery != "none" else 0,
                       include_head=options.get("include_head", False),
                       bn_sparsity=options.get("bn_sparsity", 0.0), train=train_fit, seed=seed)
    if ctx.schedule == "gradual" and METHODS[method].kind != "unstructured":
        logger.info("prune.schedule gradual applies to unstructured methods; %s is %s", method,
                    "soft (pruned after every epoch)" if METHODS[method].kind == "soft" else "one-shot")
    # the teacher of recovery distill: the unpruned baseline, copied before pruning (which may work in place)
    distill = Distillation(copy.deepcopy(net), **options.get("distill", {})) if recovery == "distill" else None
    result = prune_model(net, arch, method, ratio, ctx)
    after = size_stats(result.model, n_chans, n_times)
    logger.info("%s %s@%g: params %d -> %d, nonzero %d -> %d, MACs %d -> %d", model, method, ratio,
                before["params"], after["params"], before["nonzero_params"], after["nonzero_params"],
                before["macs"], after["macs"])
    final, history = recover(result, windows.X[train], windows.y[train], windows.X[val], windows.y[val], cfg,
                             n_classes, recovery, seed=seed, distill=distill)
    pruned = final.model.cpu()
    predictions = predict_windows(pruned, windows, test)
    scores = classification_metrics(predictions.y_true, predictions.y_pred, n_classes)
    weights = save_checkpoint(pruned, final.arch, out_dir)
    write_json(out_dir / "history.json", history)
    write_predictions(out_dir / PREDICTIONS_FILE, predictions)
    record = metrics_record(
        dataset=dataset, model=model, stage="prune", method=method, ratio=ratio, recovery=recovery,
        variant="torch", seed=seed, **size_stats(pruned, n_chans, n_times), **file_stats(weights), **scores,
        **split_fields(split))
    write_json(out_dir / "metrics.json", record)
    logger.info("%s %s@%g/%s on %s: test bacc %.4f, acc %.4f, nonzero %d (%.0f s)", model, method, ratio, recovery,
                dataset, scores["balanced_accuracy"], scores["accuracy"], record["nonzero_params"],
                time.perf_counter() - started)
    return record
