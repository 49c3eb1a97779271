"""Rules `train` and `finetune`: train a baseline model on one dataset's train/val windows, test it, save it.

Writes `out_dir/{model.safetensors, arch.json, history.json, predictions.npz, metrics.json}` (metrics.json last).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from eegslim.atomic import write_json
from eegslim.deploy.size import size_stats
from eegslim.metrics import classification_metrics, metrics_record
from eegslim.models import arch_for, arch_name, build_model, count_params, load_pretrained
from eegslim.models.checkpoint import file_sizes, save_checkpoint
from eegslim.models.masked import load_encoder
from eegslim.predictions import PREDICTIONS_FILE, write_predictions
from eegslim.splits import load_split, split_fields
from eegslim.store import load_windows
from eegslim.train import TrainConfig, fit, init_settings, predict_windows

logger = logging.getLogger(__name__)


def run(dataset: str, model: str, windows_h5: str | Path, split_json: str | Path, out_dir: str | Path,
        model_cfg: dict, train_cfg: dict, seed: int, pretrained: str | Path | None = None) -> dict:
    """Train `model` ('eegnet' | 'labram' | 'labram_pt') on `dataset`; return the metrics record (metrics.json).

    model_cfg: config-field overrides (eegnet: F1, D, F2, dropout, ...; labram: size plus overrides), and for
    the transformer `init` ('random' | 'pretrained') with `pretrained_path` (a LaBraM `.pth`, e.g.
    labram-base.pth) and `allowed_globals` (globals its pickle may hold beyond tensors, e.g.
    'argparse.Namespace'). With init 'pretrained' and no pretrained_path, `pretrained` is the `pretrain`
    rule's model.safetensors (its folder holds arch.json). train_cfg: `TrainConfig` fields but seed, plus
    `layer_decay_from_scratch` (see `init_settings`).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    arch_cfg = dict(model_cfg)
    init = arch_cfg.pop("init", "random")
    cfg = TrainConfig.from_dict({**init_settings(train_cfg, pretrained=init == "pretrained"), "seed": seed})
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    windows = load_windows(windows_h5)
    split = load_split(split_json)
    n_classes = len(windows.class_names)

    pretrained_path = arch_cfg.pop("pretrained_path", None)
    allowed_globals = arch_cfg.pop("allowed_globals", [])
    _, n_chans, n_times = windows.X.shape
    arch = arch_for(arch_name(model), arch_cfg, n_chans, n_times, n_classes, windows.sfreq, list(windows.ch_names))
    torch.manual_seed(seed)
    np.random.seed(seed)
    net = build_model(arch)
    if init == "pretrained":
        if pretrained_path:
            load_pretrained(net, pretrained_path, allowed_globals)
        elif pretrained:
            load_encoder(net, Path(pretrained).parent)
        else:
            raise ValueError(f"model config of {model!r}: init 'pretrained' needs pretrained_path or the "
                             "pretrain rule's checkpoint")
    elif init != "random":
        raise ValueError(f"model config of {model!r}: init must be 'random' or 'pretrained', got {init!r}")
    logger.info("%s on %s: %d params, %d classes, windows (%d, %d) at %g Hz", model, dataset, count_params(net),
                n_classes, n_chans, n_times, windows.sfreq)

    train, val, test = (np.asarray(split[part]) for part in ("train", "val", "test"))
    history = fit(net, windows.X[train], windows.y[train], windows.X[val], windows.y[val], cfg, n_classes)
    predictions = predict_windows(net, windows, test)
    scores = classification_metrics(predictions.y_true, predictions.y_pred, n_classes)
    net.cpu()
    weights = save_checkpoint(net, arch, out_dir)
    file_bytes, gzip_bytes = file_sizes(weights)
    write_json(out_dir / "history.json", history)
    write_predictions(out_dir / PREDICTIONS_FILE, predictions)
    record = metrics_record(
        dataset=dataset, model=model, stage="baseline", variant="torch", seed=seed,
        file_bytes=file_bytes, gzip_bytes=gzip_bytes, **size_stats(net, n_chans, n_times), **scores,
        **split_fields(split))
    write_json(out_dir / "metrics.json", record)
    logger.info("%s on %s: test bacc %.4f, acc %.4f (%.0f s)", model, dataset, scores["balanced_accuracy"],
                scores["accuracy"], time.perf_counter() - started)
    return record
