"""Models as plain nn.Modules built from one dataclass config; `arch` dicts are those configs plus a name.

An arch dict (what arch.json holds) is `{"name": "eegnet" | "labram", **config fields}`, including pruned
widths, so every model, pruned or not, is rebuilt with `build_model(arch)` and `load_state_dict`.
"""

from __future__ import annotations

import dataclasses
import logging

from torch import nn

from eegslim.catalog import ALIASES  # pipeline model names that reuse an architecture ('labram_pt')

from .eegnet import EEGNet, EEGNetConfig, eegnet_config
from .labram import Labram, LabramConfig, channel_index, labram_config, load_pretrained

logger = logging.getLogger(__name__)

MODELS = {"eegnet": (EEGNetConfig, EEGNet), "labram": (LabramConfig, Labram)}

__all__ = ["ALIASES", "MODELS", "EEGNet", "EEGNetConfig", "Labram", "LabramConfig", "arch_for", "arch_name",
           "build_model", "count_params", "embedding_rows", "eegnet_config", "labram_config", "load_pretrained"]


def _registry(name: str):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return MODELS[name]


def arch_name(model: str) -> str:
    """The architecture behind a pipeline model name ('labram_pt' -> 'labram'); unknown names raise."""
    name = ALIASES.get(model, model)
    _registry(name)
    return name


def build_model(arch: dict) -> nn.Module:
    """Instantiate the model described by an arch dict (`name` plus the config dataclass fields)."""
    fields = dict(arch)
    config_cls, model_cls = _registry(fields.pop("name", None))
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"arch for {arch.get('name')!r}: unknown fields {unknown}")
    return model_cls(config_cls(**fields))


def arch_for(name: str, model_cfg: dict, n_chans: int, n_times: int, n_classes: int, sfreq: float,
             ch_names: list[str]) -> dict:
    """The arch dict of model `name` for data of shape (n_chans, n_times) at `sfreq` Hz with `n_classes`.

    `model_cfg` holds overrides of the config fields; for labram also `size` ('tiny' | 'base' | 'large').
    """
    _registry(name)
    overrides = dict(model_cfg)
    if name == "eegnet":
        cfg = eegnet_config(n_chans, n_times, n_classes, sfreq, **overrides)
    else:
        size = overrides.pop("size", "base")
        if round(sfreq) != 200:
            logger.warning("labram: data at %g Hz; LaBraM's patches are 1 s at 200 Hz", sfreq)
        overrides.setdefault("channel_rows", _channel_rows(list(ch_names)))
        cfg = labram_config(size, n_chans, n_times, n_classes, list(ch_names), **overrides)
    return {"name": name, **dataclasses.asdict(cfg)}


def _channel_rows(ch_names: list[str]) -> list[int] | None:
    """None when every name has a standard 10-20 embedding row; else rows by position (not pretrained-compatible)."""
    try:
        channel_index(ch_names)
        return None
    except ValueError as err:
        if len(ch_names) > 128:
            raise ValueError(f"labram: {err}; and {len(ch_names)} channels exceed the 128 positional rows") from err
        logger.warning("labram: %s; channel embeddings use positions 1..%d instead (a published checkpoint's "
                       "channel embeddings will not match)", err, len(ch_names))
        return list(range(len(ch_names) + 1))


def embedding_rows(ch_names: list[str]) -> list[int]:
    """pos_embed rows (CLS first) for `ch_names`: their 10-20 rows, else rows by position (see arch_for)."""
    return _channel_rows(list(ch_names)) or channel_index(list(ch_names))


def count_params(model: nn.Module) -> int:
    """Number of parameters (all nn.Parameters; BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters())
