"""Per-layer sensitivity: prune one layer (or unit group) at a time at increasing ratios, evaluate, no retraining.

structured: the lowest-L1 share of one unit group (F1, F2; heads.i, mlp.i), removed exactly by zeroing the
units' consumer weights (the same function as the smaller model). unstructured: the smallest-|w| share of one
weight tensor (the classifier head included). Sensitive layers lose accuracy early (Rao & Zhong 2023).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from eegslim.prune.units import l1_scores, removed_units, state_of, top_units, unit_groups, zero_units
from eegslim.prune.unstructured import keep_lowest_out, prunable_weights
from eegslim.train import evaluate

KINDS = ("structured", "unstructured")


def layer_sensitivity(model: nn.Module, arch: dict, X: np.ndarray, y: np.ndarray, n_classes: int,
                      ratios: list[float], kinds: list[str] = KINDS) -> list[dict]:
    """One row per (kind, layer, ratio): balanced_accuracy, accuracy, their reference on the unpruned model,
    delta_balanced_accuracy, and `params` (entries of the layer or group). `model` is restored afterwards."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"sensitivity.kinds: unknown {unknown}; known: {', '.join(KINDS)}")
    model.eval()
    reference = evaluate(model, X, y, n_classes)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    rows = []

    def measure(kind: str, layer: str, ratio: float, params: int) -> None:
        scores = evaluate(model, X, y, n_classes)
        rows.append({"kind": kind, "layer": layer, "ratio": ratio, "params": params,
                     "balanced_accuracy": scores["balanced_accuracy"], "accuracy": scores["accuracy"],
                     "reference_balanced_accuracy": reference["balanced_accuracy"],
                     "reference_accuracy": reference["accuracy"],
                     "delta_balanced_accuracy": scores["balanced_accuracy"] - reference["balanced_accuracy"]})
        model.load_state_dict(saved)

    if "structured" in kinds:
        groups = unit_groups(arch, "sensitivity")
        scores = l1_scores(state_of(model), groups)
        for name, group in groups.items():
            params = sum(int(np.prod(saved[p.key].shape)) for p in group.slices)
            for ratio in ratios:
                zero_units(model, groups, {name: removed_units(group.n, top_units(scores[name], ratio))}, parts=("out",))
                measure("structured", name, ratio, params)
    if "unstructured" in kinds:
        for name, weight in prunable_weights(model, include_head=True).items():
            for ratio in ratios:
                with torch.no_grad():
                    weight.mul_(keep_lowest_out(weight.detach().abs(), ratio))
                measure("unstructured", name.removesuffix(".weight"), ratio, weight.numel())
    return rows
