"""Model size: parameters, non-zero parameters, MACs per input, file and gzip bytes."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from eegslim.models.checkpoint import file_sizes


def count_macs(model: nn.Module, n_chans: int, n_times: int) -> int:
    """Multiply-accumulates for one (1, n_chans, n_times) input, in eval mode.

    Counted with torch's FlopCounterMode (conv, mm/addmm/bmm, attention; MACs = FLOPs / 2). Unlike
    torch-pruning's module hooks it also sees functional calls such as LaBraM's `F.linear(x, qkv.weight)`.
    Element-wise ops (norms, activations, pooling) are not counted.
    """
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, n_chans, n_times))
    model.train(was_training)
    return int(counter.get_total_flops() // 2)


SIZE_FIELDS = ("params", "nonzero_params", "macs")  # the keys of size_stats


def size_stats(model: nn.Module, n_chans: int, n_times: int) -> dict[str, int]:
    """{"params": all parameters, "nonzero_params": parameters != 0, "macs": MACs per (1, C, T) input}."""
    params = list(model.parameters())
    return {
        "params": sum(p.numel() for p in params),
        "nonzero_params": int(sum(torch.count_nonzero(p).item() for p in params)),
        "macs": count_macs(model, n_chans, n_times),
    }


def file_stats(path: str | Path) -> dict[str, int]:
    """{"file_bytes": size on disk, "gzip_bytes": size after gzip level 9} of one file."""
    file_bytes, gzip_bytes = file_sizes(path)
    return {"file_bytes": file_bytes, "gzip_bytes": gzip_bytes}
