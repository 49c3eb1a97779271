"""Rule `prune`: prune a baseline checkpoint with one method and ratio, recover, test, save.

Writes `out_dir/{model.safetensors, arch.json, history.json, metrics.json}` (metrics.json last).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from eegslim.atomic import write_json
from eegslim.deploy import file_stats, size_stats
from eegslim.metrics import metrics_record
from eegslim.models import arch_name
from eegslim.models.checkpoint import load_checkpoint, save_checkpoint
from eegslim.prune import prune_model, recover
from eegslim.splits import load_split, split_fields
from eegslim.store import load_windows
from eegslim.train import TrainConfig, evaluate

logger = logging.getLogger(__name__)


def run(dataset: str, model: str, baseline_dir: str | Path, windows_h5: str | Path, split_json: str | Path,
        out_dir: str | Path, method: str, ratio: float, recovery: str, prune_cfg: dict, seed: int) -> dict:
    """Prune `baseline_dir`'s model with `method` at `ratio`, recover with `recovery`; return the metrics record.

    prune_cfg: the recovery training's `TrainConfig` fields but seed (epochs, lr, batch_size, ...).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    cfg = TrainConfig.from_dict({**prune_cfg, "seed": seed})
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
    result = prune_model(net, arch, method, ratio)
    after = size_stats(result.model, n_chans, n_times)
    logger.info("%s %s@%g: params %d -> %d, nonzero %d -> %d, MACs %d -> %d", model, method, ratio,
                before["params"], after["params"], before["nonzero_params"], after["nonzero_params"],
                before["macs"], after["macs"])
    pruned, history = recover(result, windows.X[train], windows.y[train], windows.X[val], windows.y[val], cfg,
                              n_classes, recovery, seed=seed)
    pruned.cpu()
    scores = evaluate(pruned, windows.X[test], windows.y[test], n_classes)
    weights = save_checkpoint(pruned, result.arch, out_dir)
    write_json(out_dir / "history.json", history)
    record = metrics_record(
        dataset=dataset, model=model, stage="prune", method=method, ratio=ratio, recovery=recovery,
        variant="torch", seed=seed, **size_stats(pruned, n_chans, n_times), **file_stats(weights), **scores,
        **split_fields(split))
    write_json(out_dir / "metrics.json", record)
    logger.info("%s %s@%g/%s on %s: test bacc %.4f, acc %.4f, nonzero %d (%.0f s)", model, method, ratio, recovery,
                dataset, scores["balanced_accuracy"], scores["accuracy"], record["nonzero_params"],
                time.perf_counter() - started)
    return record
