"""Pruning methods: one function per method in a registry, `prune_model` to dispatch.

A method is `fn(model, arch, ratio) -> PruneResult(model, arch, masks)`; it may modify `model` in place
(unstructured) or return a new, smaller model (structured). Add a method by adding it to PRUNING_METHODS.
"""

from __future__ import annotations

from torch import nn

from eegslim.prune.recovery import RECOVERY_MODES, MaskKeeper, PruneResult, apply_masks, recover
from eegslim.prune.structured import l1_structured
from eegslim.prune.unstructured import magnitude_global

PRUNING_METHODS = {
    "magnitude_global": magnitude_global,   # unstructured, global |w| threshold (UWMP)
    "l1_structured": l1_structured,         # filters / heads / MLP units by L1 norm (LFP)
}


def prune_model(model: nn.Module, arch: dict, method: str, ratio: float) -> PruneResult:
    """Prune `model` (built from `arch`) with `method` at `ratio` ∈ [0, 1) (share of weights or units removed)."""
    if method not in PRUNING_METHODS:
        raise ValueError(f"unknown pruning method {method!r}; known: {', '.join(PRUNING_METHODS)}")
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"pruning ratio must be in [0, 1), got {ratio}")
    return PRUNING_METHODS[method](model, arch, ratio)


__all__ = ["PRUNING_METHODS", "RECOVERY_MODES", "MaskKeeper", "PruneResult", "apply_masks", "prune_model",
           "recover"]
