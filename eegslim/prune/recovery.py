"""What a pruned model carries into recovery, and the recovery arms (fine-tune, from scratch, none)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from eegslim.models import build_model
from eegslim.train import TrainConfig, fit

log = logging.getLogger(__name__)

RECOVERY_MODES = ("finetune", "scratch", "none")


@dataclass
class PruneResult:
    """A pruned model, the arch it is rebuilt from, and the sparsity masks recovery must keep.

    masks: {parameter name: bool tensor of the parameter's shape, True = kept}; empty for structured pruning,
    where the smaller architecture itself is the result.
    """

    model: nn.Module
    arch: dict
    masks: dict[str, torch.Tensor] = field(default_factory=dict)


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero, in place, every masked-out entry of the named parameters."""
    with torch.no_grad():
        for name, mask in masks.items():
            param = model.get_parameter(name)
            param.mul_(mask.to(param.device))


class MaskKeeper:
    """A `fit(..., post_step=...)` callback: re-zero masked weights after every optimizer step.

    Re-applying after the step (rather than zeroing gradients) also undoes AdamW's weight decay and momentum
    on pruned entries, so zeros stay exactly zero.
    """

    def __init__(self, masks: dict[str, torch.Tensor]):
        self.masks = masks

    def __call__(self, model: nn.Module) -> None:
        apply_masks(model, self.masks)


def recover(result: PruneResult, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
            train_cfg: TrainConfig, n_classes: int, recovery: str, seed: int = 0) -> tuple[nn.Module, dict]:
    """Recover accuracy after pruning; returns (model, training history; {} for `none`).

    finetune: train the inherited weights. scratch: rebuild the pruned arch with fresh weights (seed `seed`),
    re-apply the masks, train with the same epochs and schedule. Both keep the masks after every step.
    """
    if recovery not in RECOVERY_MODES:
        raise ValueError(f"unknown recovery {recovery!r}; known: {', '.join(RECOVERY_MODES)}")
    if recovery == "none":
        return result.model, {}
    model = result.model
    if recovery == "scratch":
        torch.manual_seed(seed)
        model = build_model(result.arch)
        apply_masks(model, result.masks)
    log.info("recovery %s: training %d weights (%d masks)", recovery,
             sum(p.numel() for p in model.parameters()), len(result.masks))
    history = fit(model, X_train, y_train, X_val, y_val, train_cfg, n_classes,
                  post_step=(MaskKeeper(result.masks),), log=log)
    return model, history
