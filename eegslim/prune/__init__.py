"""Pruning methods: one function per method in a registry, `prune_model` to dispatch.

A method is `fn(model, arch, ratio, ctx) -> PruneResult(model, arch, masks, kept, dynamic)`; it may modify
`model` in place (unstructured, soft) or return a new, smaller model (structured, architectural). Which model
families a method applies to is in the torch-free catalogue `eegslim.catalog.METHODS`. Add a method there and here.
"""

from __future__ import annotations

from torch import nn

from eegslim.catalog import ARCHITECTURES, METHODS, applies
from eegslim.prune.architectural import depth, mlp_removal
from eegslim.prune.recovery import (RECOVERY_MODES, SCHEDULES, MaskKeeper, PruneContext, PruneResult, apply_masks,
                                    recover)
from eegslim.prune.soft import soft_filter
from eegslim.prune.structured import bn_slimming, l1_filter, random_structured, taylor
from eegslim.prune.unstructured import magnitude_global, magnitude_layerwise, random

PRUNING_METHODS = {
    "magnitude_global": magnitude_global,         # unstructured, global |w| threshold (UWMP)
    "magnitude_layerwise": magnitude_layerwise,   # unstructured, the same share of every layer
    "random": random,                             # unstructured, random weights
    "l1_filter": l1_filter,                       # filters / heads / MLP units by L1 norm (LFP)
    "l1_structured": l1_filter,                   # older name of l1_filter
    "bn_slimming": bn_slimming,                   # global threshold on BatchNorm |γ| (NSFP), EEGNet
    "taylor": taylor,                             # first-order Taylor importance
    "random_structured": random_structured,       # random units
    "soft_filter": soft_filter,                   # SFP: zeroed during recovery, removed at its end
    "depth": depth,                               # whole transformer blocks
    "mlp_removal": mlp_removal,                   # the MLP branch of transformer blocks
}


def prune_model(model: nn.Module, arch: dict, method: str, ratio: float, ctx: PruneContext | None = None) -> PruneResult:
    """Prune `model` (built from `arch`) with `method` at `ratio` ∈ [0, 1) (share of weights, units or blocks
    removed). `ctx`: data and options some methods need (default: none, one-shot, head excluded)."""
    if method not in PRUNING_METHODS:
        raise ValueError(f"unknown pruning method {method!r}; known: {', '.join(PRUNING_METHODS)}")
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"pruning ratio must be in [0, 1), got {ratio}")
    name = arch.get("name")
    if name in ARCHITECTURES and not applies(method, name):
        raise ValueError(f"pruning method {method!r} does not apply to model {name!r} "
                         f"(it applies to {', '.join(METHODS[method].archs)})")
    return PRUNING_METHODS[method](model, arch, ratio, ctx or PruneContext())


__all__ = ["PRUNING_METHODS", "RECOVERY_MODES", "SCHEDULES", "MaskKeeper", "PruneContext", "PruneResult",
           "apply_masks", "prune_model", "recover"]
