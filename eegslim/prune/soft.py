"""Soft filter pruning (SFP, He et al. 2018): zero the smallest-L2 units after every epoch while training goes on.

Zeroed units keep receiving gradients and may grow back; after every epoch the `ratio` share with the smallest
L2 norm of each group is zeroed again (weights and biases; BatchNorm stays, so gradients reach them). At the end
the selected units' norm affine parameters are zeroed too, which makes their outputs exactly 0, and they are
removed: the smaller model computes exactly what that zeroed model computes.
"""

from __future__ import annotations

from torch import nn

from eegslim.prune.recovery import PruneContext, PruneResult
from eegslim.prune.units import l2_scores, layerwise_keep, remove_units, removed_units, state_of, unit_groups, zero_units


class SoftFilter:
    """The `eegslim.prune.recovery.Dynamic` protocol for SFP; no masks are kept between epochs."""

    def __init__(self, arch: dict, ratio: float):
        self.arch, self.ratio = arch, ratio
        self.groups = unit_groups(arch, "soft_filter")
        self.masks: dict = {}

    def keep(self, model: nn.Module) -> dict:
        return layerwise_keep(l2_scores(state_of(model), self.groups), self.ratio)

    def zero(self, model: nn.Module, parts: tuple[str, ...] = ("zero",)) -> dict:
        """Zero `parts` of the smallest-L2 `ratio` share of every group's units; return the kept units."""
        keep = self.keep(model)
        zero_units(model, self.groups, {n: removed_units(g.n, keep[n]) for n, g in self.groups.items()}, parts)
        return keep

    def start(self, model: nn.Module) -> None:
        self.zero(model)

    def epoch_end(self, model: nn.Module, epoch: int) -> None:
        self.zero(model)

    def eligible(self, epoch: int) -> bool:
        return True

    def finish(self, model: nn.Module) -> PruneResult:
        """Zero once more, then remove the zeroed units for real: a smaller model computing the same function."""
        keep = self.zero(model, ("zero", "norm"))
        pruned, arch = remove_units(model, self.arch, keep)
        return PruneResult(model=pruned, arch=arch, kept=keep)


def soft_filter(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """SFP: zero the `ratio` share of smallest-L2 units of every group now and after every recovery epoch; the
    recovery's end removes them. Returns the full-size model (zeroed in place) with the dynamic pruner."""
    pruner = SoftFilter(arch, ratio)
    pruner.start(model)
    return PruneResult(model=model, arch=dict(arch), dynamic=pruner)
