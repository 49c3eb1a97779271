"""Unstructured pruning: zero individual weights, keep the architecture (UWMP, Han et al. 2015)."""

from __future__ import annotations

import torch
from torch import nn

from eegslim.prune.recovery import PruneResult, apply_masks

# Modules left dense: the classifier head and the patch embedding. Their weights are on another scale
# (LaBraM's head is initialised x0.001), so a global threshold would wipe them out (models.md §6).
EXCLUDED_PREFIXES = ("classifier", "head", "patch_embed")


def prunable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """{parameter name: weight} of every Conv/Linear outside EXCLUDED_PREFIXES."""
    return {
        f"{name}.weight": module.weight
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear))
        and name.split(".")[0] not in EXCLUDED_PREFIXES
    }


def magnitude_global(model: nn.Module, arch: dict, ratio: float) -> PruneResult:
    """Zero the `ratio` share of prunable weights with the smallest |w|, ranked globally across layers.

    Exactly round(ratio · n) weights are zeroed (ties broken by position). Returns the same model (modified in
    place) with masks {parameter name: bool tensor, True = kept}.
    """
    weights = prunable_weights(model)
    flat = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    n_prune = round(ratio * flat.numel())
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[torch.argsort(flat, stable=True)[:n_prune]] = False
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start:start + w.numel()].view_as(w)
        start += w.numel()
    apply_masks(model, masks)
    return PruneResult(model=model, arch=dict(arch), masks=masks)
