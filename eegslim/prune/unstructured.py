"""Unstructured pruning: zero individual weights, keep the architecture (UWMP, Han et al. 2015).

magnitude_global ranks |w| across all prunable layers, magnitude_layerwise within each layer, random by a fixed
random score. One-shot, or gradual: the cubic schedule of Zhu & Gupta (2017) over the first half of the recovery
epochs, the mask only ever growing, the final sparsity held for the rest.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from eegslim.prune.recovery import PruneContext, PruneResult, apply_masks

# Never pruned: the patch embedding (a tiny conv stack on another scale). The classifier head is left out unless
# asked: LaBraM's head is initialised x0.001, so a global threshold would wipe it out (models.md §6).
EXCLUDED_PREFIXES = ("patch_embed",)
HEAD_PREFIXES = ("classifier", "head")


def prunable_weights(model: nn.Module, include_head: bool = False) -> dict[str, torch.Tensor]:
    """{parameter name: weight} of every Conv/Linear outside the excluded prefixes (and the head, unless asked)."""
    skip = EXCLUDED_PREFIXES + (() if include_head else HEAD_PREFIXES)
    return {
        f"{name}.weight": module.weight
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)) and name.split(".")[0] not in skip
    }


def cubic_sparsity(step: int, n_steps: int, ratio: float) -> float:
    """Zhu & Gupta's schedule with initial sparsity 0: ratio · (1 − (1 − step/n_steps)³), held at ratio after."""
    return ratio * (1.0 - (1.0 - min(step, n_steps) / n_steps) ** 3)


def keep_lowest_out(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Bool mask of `scores`' shape, False for the round(sparsity · n) lowest entries (ties by position)."""
    flat = scores.flatten()
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[torch.argsort(flat, stable=True)[:round(sparsity * flat.numel())]] = False
    return keep.view_as(scores)


class Unstructured:
    """Masks by a score (|w| or a fixed random number per weight), global or per layer, one-shot or gradual.

    Entries already masked score −inf, so the mask only grows and zeros stay pruned. Implements the
    `eegslim.prune.recovery.Dynamic` protocol for the gradual schedule.
    """

    def __init__(self, arch: dict, ratio: float, score: str, layerwise: bool, ctx: PruneContext):
        self.arch, self.ratio, self.score, self.layerwise, self.ctx = arch, ratio, score, layerwise, ctx
        self.ramp = max(1, math.ceil(ctx.epochs / 2))       # epochs over which sparsity rises
        self.masks: dict[str, torch.Tensor] = {}
        self.sparsity = 0.0

    def _scores(self, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.score == "magnitude":
            scores = {n: w.detach().abs().cpu() for n, w in weights.items()}
        else:  # the same random numbers at every step and for scratch: nested masks, the same final mask
            gen = torch.Generator().manual_seed(self.ctx.seed)
            scores = {n: torch.rand(w.shape, generator=gen) for n, w in weights.items()}
        return {n: s.masked_fill(~self.masks[n], -math.inf) if n in self.masks else s for n, s in scores.items()}

    def prune_to(self, model: nn.Module, sparsity: float) -> None:
        """Set the masks to `sparsity` (share of prunable weights zeroed) and apply them."""
        weights = prunable_weights(model, self.ctx.include_head)
        scores = self._scores(weights)
        if self.layerwise:
            masks = {n: keep_lowest_out(s, sparsity) for n, s in scores.items()}
        else:
            flat = keep_lowest_out(torch.cat([s.flatten() for s in scores.values()]), sparsity)
            masks, start = {}, 0
            for name, w in weights.items():
                masks[name] = flat[start:start + w.numel()].view_as(w)
                start += w.numel()
        self.masks.clear()
        self.masks.update(masks)       # in place: MaskKeeper holds this dict
        self.sparsity = sparsity
        apply_masks(model, self.masks)

    # -- the Dynamic protocol (gradual schedule) ---------------------------------------------------------------
    def start(self, model: nn.Module) -> None:
        self.masks.clear()
        self.prune_to(model, cubic_sparsity(1, self.ramp, self.ratio))

    def epoch_end(self, model: nn.Module, epoch: int) -> None:
        target = cubic_sparsity(epoch + 1, self.ramp, self.ratio)
        if target > self.sparsity:
            self.prune_to(model, target)

    def eligible(self, epoch: int) -> bool:
        return epoch + 1 >= self.ramp

    def finish(self, model: nn.Module) -> PruneResult:
        if self.sparsity < self.ratio:
            self.prune_to(model, self.ratio)
        return PruneResult(model=model, arch=dict(self.arch), masks=self.masks)


def _unstructured(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext, score: str,
                  layerwise: bool) -> PruneResult:
    pruner = Unstructured(arch, ratio, score, layerwise, ctx)
    if ctx.schedule == "gradual":
        pruner.start(model)
        return PruneResult(model=model, arch=dict(arch), masks=pruner.masks, dynamic=pruner)
    pruner.prune_to(model, ratio)
    return PruneResult(model=model, arch=dict(arch), masks=pruner.masks)


def magnitude_global(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Zero the `ratio` share of prunable weights with the smallest |w|, ranked globally across layers.

    Exactly round(ratio · n) weights are zeroed (ties broken by position). Returns the same model (modified in
    place) with masks {parameter name: bool tensor, True = kept}.
    """
    return _unstructured(model, arch, ratio, ctx, "magnitude", layerwise=False)


def magnitude_layerwise(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Zero the `ratio` share of each prunable layer's weights with the smallest |w|."""
    return _unstructured(model, arch, ratio, ctx, "magnitude", layerwise=True)


def random(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Zero a random `ratio` share of the prunable weights (seed `ctx.seed`), drawn globally."""
    return _unstructured(model, arch, ratio, ctx, "random", layerwise=False)
