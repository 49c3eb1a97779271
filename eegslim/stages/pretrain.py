"""Rule `pretrain`: masked EEG modelling of one transformer size on the train parts of several datasets.

Only each dataset's splits.json `train` windows are pretrained on (its `val` windows give a held-out loss;
its `test` windows are never read), so fine-tuning evaluation sees no pretraining leakage. `channels` may
restrict every dataset to one channel set before patching (config `pretrain.channels`). A dataset whose channels
have no 10-20 names (embedded by position, they would share embedding rows with other datasets' real electrodes)
is left out of a pool of several, with a warning; pretrained alone, it is kept.
Writes `out_dir/{model.safetensors, arch.json, history.json}` (history.json last).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from eegslim.atomic import atomic_path, write_json
from eegslim.io.channels import common_channels, normalize_name
from eegslim.models import count_params
from eegslim.models.labram import Labram, channel_index
from eegslim.models.masked import MaskedEEGModel, encoder_arch, encoder_config, encoder_state
from eegslim.pretrain import PatchSet, PretrainConfig, patch_windows, pretrain, subsample
from eegslim.splits import load_split
from eegslim.store import load_windows

logger = logging.getLogger(__name__)


def pooled_channels(choice: str | list[str] | None, channel_lists: dict[str, list[str]]) -> list[str] | None:
    """The channels every pooled dataset is restricted to, or None to keep each dataset's own.

    choice: None | 'common' (the channels all datasets share) | channel names (any spelling, e.g. 'FP1').
    channel_lists: dataset name → its windows.h5 `ch_names`. Raises ValueError when the common set is
    empty, or naming the dataset that lacks a listed channel.
    """
    if choice is None:
        return None
    if choice == "common":
        try:
            return common_channels(channel_lists)
        except ValueError as err:
            raise ValueError(f"pretrain.channels 'common': {err}") from err
    if isinstance(choice, str) or not choice:
        raise ValueError(f"pretrain.channels: expected null, 'common' or a list of channel names, got {choice!r}")
    names = [normalize_name(n) for n in choice]
    for ds, chans in sorted(channel_lists.items()):
        if missing := [n for n in names if n not in chans]:
            raise ValueError(f"pretrain.channels: dataset {ds!r} lacks {missing} (has {chans})")
    return names


def positional_datasets(channel_lists: dict[str, list[str]]) -> list[str]:
    """The datasets whose channels are not all 10-20 names (the transformer embeds them by position)."""
    out = []
    for ds, chans in sorted(channel_lists.items()):
        try:
            channel_index(chans)
        except ValueError:
            out.append(ds)
    return out


def load_part(dataset: str, windows_h5, split_json, part: str, cfg: PretrainConfig, patch_size: int,
              max_patches: int, channels: list[str] | None = None) -> PatchSet | None:
    """One split part ('train' | 'val') of a dataset as patches, only `channels` if given; None when empty."""
    rows = subsample(load_split(split_json)[part], cfg.max_windows, cfg.seed)
    if len(rows) == 0:
        return None
    windows = load_windows(windows_h5, rows)
    if channels is not None:
        windows = windows.pick_channels(channels)
    return patch_windows(dataset, windows.X, windows.sfreq, list(windows.ch_names), patch_size, cfg.sfreq,
                         max_patches)


def run(datasets: dict[str, dict[str, str]], out_dir: str | Path, size: str, model_cfg: dict, pretrain_cfg: dict,
        seed: int = 0, channels: str | list[str] | None = None) -> dict:
    """Pretrain a `size` encoder on `datasets` ({name: {"windows": windows.h5, "split": splits.json}}).

    model_cfg: LabramConfig overrides (patch_size, input_norm); pretrain_cfg: `PretrainConfig` fields but seed and datasets;
    channels: `pooled_channels` choice (None: each dataset keeps its own channels). Returns the history.
    """
    cfg = PretrainConfig.from_dict({**pretrain_cfg, "seed": seed})
    patch_size = model_cfg.get("patch_size", 200)
    max_patches = encoder_config(size, **model_cfg).max_patches
    lists = {ds: list(load_windows(files["windows"], [], signals=False).ch_names)   # each windows.h5's header only
             for ds, files in sorted(datasets.items())}
    keep = pooled_channels(channels, lists)
    if keep is not None:
        logger.info("pooled datasets restricted to %d channels: %s", len(keep), keep)
    elif len(datasets) > 1 and (positional := positional_datasets(lists)):
        if len(positional) == len(datasets):
            raise ValueError(f"pretrain: no pooled dataset has 10-20 channel names ({positional}): pretrain one "
                             "at a time or name their channels")
        logger.warning("pretrain: leaving out %s: channels without 10-20 names (%s) would share embedding rows "
                       "with the other datasets' electrodes", positional, {ds: lists[ds][:3] for ds in positional})
        datasets = {ds: files for ds, files in datasets.items() if ds not in positional}
    parts = {part: [s for ds, files in sorted(datasets.items())
                    if (s := load_part(ds, files["windows"], files["split"], part, cfg, patch_size,
                                       max_patches, keep)) is not None]
             for part in ("train", "val")}
    return pretrain_and_save(parts["train"], parts["val"], out_dir, size, model_cfg, pretrain_cfg, seed)


def pretrain_and_save(train_sets: list[PatchSet], val_sets: list[PatchSet], out_dir: str | Path, size: str,
                      model_cfg: dict, pretrain_cfg: dict, seed: int = 0) -> dict:
    """Pretrain a fresh `size` encoder on patch sets; write model.safetensors, arch.json, history.json."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    cfg = PretrainConfig.from_dict({**pretrain_cfg, "seed": seed})
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = MaskedEEGModel(Labram(encoder_config(size, drop_path=cfg.drop_path, **model_cfg)), cfg.target)
    names = sorted({s.name for s in train_sets})
    for s in train_sets:
        logger.info("%s: %d train windows of %d channels x %d patches", s.name, len(s.X), s.X.shape[1], s.n_patches)
    logger.info("pretraining %s (%d encoder params) on %s", size, count_params(model.encoder), names)
    history = pretrain(model, train_sets, val_sets, cfg)
    model.cpu()
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(encoder_state(model), str(tmp), metadata={"name": "labram", "size": size})
    write_json(out_dir / "arch.json", {**encoder_arch(model.encoder.cfg, size), "pretrained_on": names})
    history.update(size=size, datasets=names, settings=pretrain_cfg, seconds_total=time.perf_counter() - started)
    write_json(out_dir / "history.json", history)
    logger.info("pretrained %s: loss %.4f -> %.4f in %.0f s", size, history["train_loss"][0],
                history["train_loss"][-1], history["seconds_total"])
    return history
