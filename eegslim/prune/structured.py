"""Structured pruning: rank units, remove the lowest, rebuild a really smaller model from its arch.

Methods differ only in the unit scores and in how the threshold is set (`eegslim.prune.units` does the rest):
l1_filter (LFP, Li et al. 2017) and taylor (Molchanov et al. 2019) and random_structured remove the same share
of every group; bn_slimming (NSFP, Liu et al. 2017) sets one threshold on BatchNorm |γ| over all groups.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from eegslim.models import build_model
from eegslim.prune.recovery import PruneContext, PruneResult
from eegslim.prune.units import (Group, global_keep, l1_scores, layerwise_keep, remove_units, state_of,
                                 unit_groups)

log = logging.getLogger(__name__)


def _pruned(model: nn.Module, arch: dict, keep: dict[str, torch.Tensor]) -> PruneResult:
    pruned, new_arch = remove_units(model, arch, keep)
    return PruneResult(model=pruned, arch=new_arch, kept=keep)


def l1_filter(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Remove the `ratio` share of units with the smallest L1 norm from every group (LFP).

    EEGNet: temporal-filter groups F1 (L1 of the temporal kernel + its D spatial filters) and pointwise filters
    F2. Transformer: heads (L1 of their q, k, v rows and proj columns) and MLP units (fc1 row + fc2 column).
    `model` is left unchanged.
    """
    groups = unit_groups(arch, "l1_filter")
    return _pruned(model, arch, layerwise_keep(l1_scores(state_of(model), groups), ratio))


def random_structured(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Remove a random `ratio` share of the units of every group (seed `ctx.seed`): the structured baseline."""
    groups = unit_groups(arch, "random_structured")
    gen = torch.Generator().manual_seed(ctx.seed)
    return _pruned(model, arch, layerwise_keep({n: torch.rand(g.n, generator=gen) for n, g in groups.items()}, ratio))


def _gamma_scores(state: dict[str, torch.Tensor], groups: dict[str, Group]) -> dict[str, torch.Tensor]:
    """Mean |γ| of each unit's BatchNorm channels (F1: its D spatial channels)."""
    return {name: g.gamma.per_unit(state[g.gamma.key], g.n).abs().mean(1) for name, g in groups.items()}


def _sparsity_train(model: nn.Module, groups: dict[str, Group], ctx: PruneContext) -> dict:
    """Train with an L1 penalty λ·Σ|γ| on the BatchNorm scales (Liu et al.'s updateBN: grad += λ·sign(γ))."""
    if ctx.train is None:
        raise ValueError("bn_slimming: prune.bn_sparsity > 0 needs training data (PruneContext.train)")
    gammas = [model.get_parameter(g.gamma.key) for g in groups.values()]
    hooks = [g.register_hook(lambda grad, g=g: grad + ctx.bn_sparsity * torch.sign(g.detach())) for g in gammas]
    try:
        return ctx.train(model)
    finally:
        for hook in hooks:
            hook.remove()


def bn_slimming(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Network slimming (NSFP): one global threshold on BatchNorm |γ| removes round(ratio · units) units.

    EEGNet only (the transformer has no BatchNorm). With ctx.bn_sparsity = λ > 0 the model is first trained with
    the γ-L1 penalty (`ctx.train`, on a copy: `model` is left unchanged either way).
    """
    groups = unit_groups(arch, "bn_slimming")
    if any(g.gamma is None for g in groups.values()):
        raise ValueError(f"bn_slimming: model {arch['name']!r} has no BatchNorm scale for every unit group")
    if ctx.bn_sparsity > 0:
        trained = build_model(arch)
        trained.load_state_dict(model.state_dict())
        history = _sparsity_train(trained, groups, ctx)
        log.info("bn_slimming: γ-L1 sparsity training (λ=%g), best val bacc %.4f", ctx.bn_sparsity,
                 history.get("best_val_balanced_accuracy", float("nan")))
        model = trained
    return _pruned(model, arch, global_keep(_gamma_scores(state_of(model), groups), ratio))


def taylor_scores(model: nn.Module, groups: dict[str, Group], ctx: PruneContext) -> dict[str, torch.Tensor]:
    """First-order Taylor importance of each unit: the mean over training batches of (Σ_out g·w)², where the sum
    runs over the unit's consumer weights (zeroing them removes the unit, so Σ g·w estimates the loss change).
    Computed in eval mode (BatchNorm running statistics, no dropout)."""
    was_training = model.training
    model.eval()
    params = {p.key: model.get_parameter(p.key) for g in groups.values() for p in g.out}
    totals = {name: torch.zeros(g.n) for name, g in groups.items()}
    batches = ctx.data_batches("taylor")
    for x, y in batches:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            for name, g in groups.items():
                s = sum(p.per_unit(params[p.key] * params[p.key].grad, g.n).sum(1) for p in g.out)
                totals[name] += s.pow(2)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {name: t / len(batches) for name, t in totals.items()}


def taylor(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Remove the `ratio` share of units with the smallest first-order Taylor importance from every group,
    measured on `ctx.batches` batches of training windows. `model`'s weights are left unchanged."""
    groups = unit_groups(arch, "taylor")
    return _pruned(model, arch, layerwise_keep(taylor_scores(model, groups, ctx), ratio))
