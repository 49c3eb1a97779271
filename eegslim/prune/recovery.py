"""What a pruned model carries into recovery, and the recovery arms (fine-tune, from scratch, distill, none)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import nn

from eegslim.catalog import RECOVERIES
from eegslim.models import build_model
from eegslim.train import Distillation, TrainConfig, fit

log = logging.getLogger(__name__)

RECOVERY_MODES = RECOVERIES  # finetune | scratch | distill | none (eegslim.catalog)
SCHEDULES = ("oneshot", "gradual")
# Added to the training seed before a scratch model is built: the baseline was built right after
# manual_seed(seed), so the same seed would rebuild its very initial weights (a lottery-ticket rewind, not
# the fresh initialisation the study's "from scratch" arm means).
SCRATCH_SEED_OFFSET = 100_003


class Dynamic(Protocol):
    """Pruning that goes on while recovery trains (gradual schedule, soft filter pruning).

    `start` prunes a model (inherited or fresh) for the first time; `masks` are the entries kept at zero
    after every optimizer step (updated in place; empty when pruned weights may regrow); `epoch_end` is called
    after each training epoch, before validation; only epochs for which `eligible` is true may be restored as
    the best one; `finish` returns the final pruned model.
    """

    masks: dict[str, torch.Tensor]

    def start(self, model: nn.Module) -> None: ...
    def epoch_end(self, model: nn.Module, epoch: int) -> None: ...
    def eligible(self, epoch: int) -> bool: ...
    def finish(self, model: nn.Module) -> PruneResult: ...


@dataclass
class PruneResult:
    """A pruned model, the arch it is rebuilt from, and what recovery must keep.

    masks: {parameter name: bool tensor of the parameter's shape, True = kept}; empty for structured pruning,
    where the smaller architecture itself is the result. kept: the kept units per group (structured and
    architectural methods), for logs and tests. dynamic: set when pruning continues during recovery; then
    `model` and `arch` are still the original architecture's.
    """

    model: nn.Module
    arch: dict
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    kept: dict[str, torch.Tensor] = field(default_factory=dict)
    dynamic: Dynamic | None = None


@dataclass
class PruneContext:
    """What some methods need besides the weights; defaults prune without data, one-shot, head excluded.

    X, y: training windows (n, C, T) float32 and labels (n,) for data-driven criteria (taylor, depth,
    mlp_removal); batches × batch_size of them are used. schedule: 'oneshot' | 'gradual' (unstructured
    methods: cubic schedule over `epochs` recovery epochs). include_head: also prune the classifier head
    (unstructured). bn_sparsity: λ of the γ-L1 sparsity training before bn_slimming, run by `train(model)`
    when λ > 0. seed: random methods and batch choice.
    """

    X: np.ndarray | None = None
    y: np.ndarray | None = None
    batches: int = 4
    batch_size: int = 32
    schedule: str = "oneshot"
    epochs: int = 0
    include_head: bool = False
    bn_sparsity: float = 0.0
    train: Callable[[nn.Module], dict] | None = None
    seed: int = 0

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"prune.schedule: unknown schedule {self.schedule!r}; known: {', '.join(SCHEDULES)}")

    def data_batches(self, method: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Up to `batches` seeded random batches (x (b, C, T), y (b,)) of the training windows."""
        if self.X is None or self.y is None or len(self.X) == 0:
            raise ValueError(f"{method}: needs training windows to rank units (PruneContext.X and .y)")
        order = np.random.default_rng(self.seed).permutation(len(self.X))
        out = []
        for start in range(0, min(len(order), self.batches * self.batch_size), self.batch_size):
            rows = np.sort(order[start:start + self.batch_size])
            out.append((torch.as_tensor(self.X[rows], dtype=torch.float32),
                        torch.as_tensor(self.y[rows], dtype=torch.int64)))
        return out


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero, in place, every masked-out entry of the named parameters."""
    with torch.no_grad():
        for name, mask in masks.items():
            param = model.get_parameter(name)
            param.mul_(mask.to(param.device))


class MaskKeeper:
    """A `fit(..., post_step=...)` callback: re-zero masked weights after every optimizer step.

    Re-applying after the step (rather than zeroing gradients) also undoes AdamW's weight decay and momentum
    on pruned entries, so zeros stay exactly zero. The masks dict is read at every call (gradual pruning
    updates it in place).
    """

    def __init__(self, masks: dict[str, torch.Tensor]):
        self.masks = masks

    def __call__(self, model: nn.Module) -> None:
        apply_masks(model, self.masks)


def recover(result: PruneResult, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
            train_cfg: TrainConfig, n_classes: int, recovery: str, seed: int = 0,
            distill: Distillation | None = None) -> tuple[PruneResult, dict]:
    """Recover accuracy after pruning; returns (the final PruneResult, training history; {} for `none`).

    finetune: train the inherited weights. scratch: rebuild the arch with fresh weights (seed `seed` +
    SCRATCH_SEED_OFFSET, never the baseline's initial weights), re-apply
    the masks (one-shot) or restart the dynamic pruning, train with the same epochs and schedule. distill: train
    the inherited weights on the labels and on the unpruned teacher's soft outputs (`distill`, required). All keep
    the masks after every step. none: no training (dynamic pruning jumps to its final state).
    """
    if recovery not in RECOVERY_MODES:
        raise ValueError(f"unknown recovery {recovery!r}; known: {', '.join(RECOVERY_MODES)}")
    if (recovery == "distill") != (distill is not None):
        raise ValueError(f"recovery {recovery!r}: a Distillation (the teacher) is needed for 'distill' and only there")
    dynamic = result.dynamic
    if recovery == "none":
        return (dynamic.finish(result.model) if dynamic else result), {}
    model = result.model
    if recovery == "scratch":
        torch.manual_seed(seed + SCRATCH_SEED_OFFSET)
        model = build_model(result.arch)
        if dynamic:
            dynamic.start(model)
        else:
            apply_masks(model, result.masks)
    masks = dynamic.masks if dynamic else result.masks
    log.info("recovery %s: training %d weights (%d masks%s)", recovery, sum(p.numel() for p in model.parameters()),
             len(masks), ", dynamic pruning" if dynamic else "")
    history = fit(model, X_train, y_train, X_val, y_val, train_cfg, n_classes, post_step=(MaskKeeper(masks),),
                  epoch_end=(dynamic.epoch_end,) if dynamic else (),
                  eligible=dynamic.eligible if dynamic else None, log=log, distill=distill)
    if dynamic:
        return dynamic.finish(model), history
    return PruneResult(model=model, arch=result.arch, masks=result.masks, kept=result.kept), history
