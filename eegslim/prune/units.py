"""Prunable unit groups of each model family, and exact removal of units from a state_dict.

A group is a set of interchangeable units (EEGNet: the F1 temporal filters with their D spatial filters, the F2
pointwise filters; transformer: the heads and the MLP hidden units of each block). For each group we list where
its units live in the state_dict, so every method shares one slicer: a pruned model computes exactly what the
original computes with the removed units' `out` (consumer) weights zeroed.

torch-pruning is not used for the removal: it fails on EEGNet's grouped spatial conv with D > 1 and on attention
with per-head q/k LayerNorm (models.md §5.3); tests cross-check our result against it where it works.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eegslim.models import build_model
from eegslim.models.eegnet import EEGNetConfig

Tensor = torch.Tensor
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")


def n_keep(n: int, ratio: float) -> int:
    """Units kept of `n` at pruning ratio `ratio`: round(n · (1 − ratio)), at least 1."""
    return max(1, round(n * (1 - ratio)))


def top_units(scores: Tensor, ratio: float) -> Tensor:
    """Indices (sorted ascending) of the n_keep highest-scoring units of `scores` (n,)."""
    return torch.topk(scores, n_keep(len(scores), ratio)).indices.sort().values


def expand_units(units: Tensor, width: int) -> Tensor:
    """Indices of the `width` consecutive entries of each unit: unit u → u·width … u·width + width − 1."""
    return (units[:, None] * width + torch.arange(width)).flatten()


@dataclass(frozen=True)
class Part:
    """Where a group's units sit in one state_dict tensor: along `dim`, unit u covers the entries
    offset + u·width … offset + u·width + width − 1 for every offset in `offsets` (q, k, v chunks)."""

    key: str
    dim: int
    width: int = 1
    offsets: tuple[int, ...] = (0,)

    def index(self, units: Tensor) -> Tensor:
        rows = expand_units(units, self.width)
        return torch.cat([rows + offset for offset in self.offsets])

    def per_unit(self, tensor: Tensor, n: int) -> Tensor:
        """The entries of each of the n units as rows: (n, entries per unit)."""
        t = tensor.movedim(self.dim, 0)
        chunks = [t[o:o + n * self.width].reshape(n, -1) for o in self.offsets]
        return torch.cat(chunks, 1)


@dataclass(frozen=True)
class Group:
    """One group of n units. filters: the units' own weights (L1 scores); zero: the units' weights and biases
    (soft filter pruning zeroes them and lets them regrow); norm: the affine parameters of the norm after them
    (zeroed with `zero`, the units' outputs are exactly 0); out: consumer weights whose zeroing removes the
    units exactly (Taylor importance, the masked original); slices: every tensor cut when units are removed;
    gamma: the units' BatchNorm scale (network slimming), None where there is none."""

    n: int
    filters: tuple[Part, ...]
    zero: tuple[Part, ...]
    out: tuple[Part, ...]
    slices: tuple[Part, ...]
    norm: tuple[Part, ...] = ()
    gamma: Part | None = None


def _bn(prefix: str, width: int = 1) -> tuple[Part, ...]:
    return tuple(Part(f"{prefix}.{name}", 0, width) for name in BN_TENSORS)


def _bn_affine(prefix: str, width: int = 1) -> tuple[Part, ...]:
    return Part(f"{prefix}.weight", 0, width), Part(f"{prefix}.bias", 0, width)


def eegnet_groups(arch: dict) -> dict[str, Group]:
    """F1: temporal filter f with its D spatial filters; F2: pointwise filter g (and its classifier columns)."""
    D, F1, F2 = arch["D"], arch["F1"], arch["F2"]
    L = EEGNetConfig(**{k: v for k, v in arch.items() if k != "name"}).final_length
    temporal, spatial = Part("conv_temporal.weight", 0), Part("conv_spatial.weight", 0, D)
    point_in, point_out = Part("conv_separable_point.weight", 1, D), Part("conv_separable_point.weight", 0)
    classifier = Part("classifier.weight", 1, L)                       # flatten order (F2, 1, L)
    return {
        "F1": Group(F1, filters=(temporal, spatial),
                    zero=(temporal, spatial), norm=(*_bn_affine("bnorm_temporal"), *_bn_affine("bnorm_1", D)),
                    out=(point_in,),
                    slices=(temporal, *_bn("bnorm_temporal"), spatial, *_bn("bnorm_1", D),
                            Part("conv_separable_depth.weight", 0, D), point_in),
                    gamma=Part("bnorm_1.weight", 0, D)),
        "F2": Group(F2, filters=(point_out,), zero=(point_out,), norm=_bn_affine("bnorm_2"), out=(classifier,),
                    slices=(point_out, *_bn("bnorm_2"), classifier), gamma=Part("bnorm_2.weight", 0)),
    }


def labram_groups(arch: dict) -> dict[str, Group]:
    """heads.i: the heads of block i (q, k, v rows, proj columns); mlp.i: its MLP hidden units (if any)."""
    hd, groups = arch["head_dim"], {}
    for i, (h, hidden) in enumerate(zip(arch["num_heads"], arch["mlp_hidden"])):
        p, inner = f"blocks.{i}.", h * hd
        qkv = Part(p + "attn.qkv.weight", 0, hd, (0, inner, 2 * inner))
        biases = tuple(Part(p + b, 0, hd) for b in ("attn.q_bias", "attn.v_bias")) if arch.get("qkv_bias") else ()
        proj = Part(p + "attn.proj.weight", 1, hd)
        groups[f"heads.{i}"] = Group(h, filters=(qkv, proj), zero=(qkv, *biases), out=(proj,),
                                     slices=(qkv, *biases, proj))
        if hidden:
            fc1, fc1_bias, fc2 = (Part(p + "mlp.fc1.weight", 0), Part(p + "mlp.fc1.bias", 0),
                                  Part(p + "mlp.fc2.weight", 1))
            groups[f"mlp.{i}"] = Group(hidden, filters=(fc1, fc2), zero=(fc1, fc1_bias), out=(fc2,),
                                       slices=(fc1, fc1_bias, fc2))
    return groups


def eegnet_widths(arch: dict, keep: dict[str, Tensor]) -> dict:
    return {**arch, "F1": len(keep["F1"]), "F2": len(keep["F2"])}


def labram_widths(arch: dict, keep: dict[str, Tensor]) -> dict:
    heads = [len(keep[f"heads.{i}"]) for i in range(arch["depth"])]
    mlp = [len(keep[f"mlp.{i}"]) if f"mlp.{i}" in keep else 0 for i in range(arch["depth"])]
    return {**arch, "num_heads": heads, "mlp_hidden": mlp}


# Model family (arch["name"]) → (groups, arch with the kept widths).
FAMILIES = {"eegnet": (eegnet_groups, eegnet_widths), "labram": (labram_groups, labram_widths)}


def unit_groups(arch: dict, method: str = "structured pruning") -> dict[str, Group]:
    """The prunable unit groups of `arch`'s model; a clear error for a model without a structured pruner."""
    if arch.get("name") not in FAMILIES:
        raise ValueError(f"{method}: no structured pruner for model {arch.get('name')!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[arch["name"]][0](arch)


def state_of(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach() for k, v in model.state_dict().items()}


def l1_scores(state: dict[str, Tensor], groups: dict[str, Group]) -> dict[str, Tensor]:
    """Per group, the L1 norm of each unit's filters, summed over the filter tensors: {group: (n,)}."""
    return {name: sum(p.per_unit(state[p.key], g.n).abs().sum(1) for p in g.filters) for name, g in groups.items()}


def l2_scores(state: dict[str, Tensor], groups: dict[str, Group]) -> dict[str, Tensor]:
    """Per group, the L2 norm of each unit's own weights (its `zero` parts that are weight matrices or kernels;
    a zeroed unit scores exactly 0): {group: (n,)}."""
    return {name: sum(p.per_unit(state[p.key], g.n).pow(2).sum(1) for p in g.zero if state[p.key].dim() > 1).sqrt()
            for name, g in groups.items()}


def layerwise_keep(scores: dict[str, Tensor], ratio: float) -> dict[str, Tensor]:
    """The same share `ratio` of units removed from every group, the lowest scores first."""
    return {name: top_units(s, ratio) for name, s in scores.items()}


def global_keep(scores: dict[str, Tensor], ratio: float) -> dict[str, Tensor]:
    """round(ratio · all units) lowest-scoring units removed across groups (one threshold); every group keeps
    at least its best unit. Scores must be comparable across groups."""
    names = list(scores)
    flat = torch.cat([scores[n] for n in names])
    owner = torch.cat([torch.full((len(scores[n]),), i) for i, n in enumerate(names)])
    kept = torch.ones(len(flat), dtype=torch.bool)
    kept[torch.argsort(flat, stable=True)[:round(ratio * len(flat))]] = False
    keep = {}
    for i, name in enumerate(names):
        mine = kept[owner == i].nonzero().flatten()
        keep[name] = mine if len(mine) else scores[name].argmax().reshape(1)
    return keep


def zero_units(model: nn.Module, groups: dict[str, Group], drop: dict[str, Tensor],
               parts: tuple[str, ...] = ("zero", "norm")) -> None:
    """Zero, in place, the named `parts` of the units `drop[group]`: ("zero", "norm") makes their outputs exactly
    0, ("out",) removes their effect exactly, ("zero",) leaves them able to regrow."""
    with torch.no_grad():
        for name, units in drop.items():
            for part in (p for attr in parts for p in getattr(groups[name], attr)):
                model.get_parameter(part.key).index_fill_(part.dim, part.index(units), 0.0)


def removed_units(n: int, keep: Tensor) -> Tensor:
    """The indices of 0 … n − 1 not in `keep`."""
    mask = torch.ones(n, dtype=torch.bool)
    mask[keep] = False
    return mask.nonzero().flatten()


def remove_units(model: nn.Module, arch: dict, keep: dict[str, Tensor]) -> tuple[nn.Module, dict]:
    """A new, smaller model holding only the kept units of each group (groups missing from `keep` stay whole),
    and its arch. `model` is left unchanged."""
    groups = unit_groups(arch)
    full = {name: torch.arange(g.n) for name, g in groups.items()}
    keep = {**full, **keep}
    state = dict(state_of(model))
    for name, group in groups.items():
        for part in group.slices:
            if part.key in state:
                state[part.key] = state[part.key].index_select(part.dim, part.index(keep[name])).clone()
    new_arch = FAMILIES[arch["name"]][1](arch, keep)
    pruned = build_model(new_arch)
    pruned.load_state_dict(state)
    return pruned, new_arch
