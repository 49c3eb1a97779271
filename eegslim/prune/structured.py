"""Structured L1 pruning (LFP, Li et al. 2017): remove whole units and rebuild a really smaller model.

Each model family has two small pieces: `*_keep(state, arch, ratio)` ranks units by L1 norm and returns the
kept indices (sorted), and `*_slice(state, arch, keep)` returns the smaller state_dict and arch. The pruned
model computes exactly what the original computes with the removed units' outgoing weights zeroed.
torch-pruning is not used: it fails on EEGNet's grouped spatial conv with D > 1 and on attention with
per-head q/k LayerNorm (models.md §5.3).
"""

from __future__ import annotations

import torch
from torch import nn

from eegslim.models import build_model
from eegslim.prune.recovery import PruneResult

Tensor = torch.Tensor
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")


def n_keep(n: int, ratio: float) -> int:
    """Units kept of `n` at pruning ratio `ratio`: round(n · (1 − ratio)), at least 1."""
    return max(1, round(n * (1 - ratio)))


def top_units(scores: Tensor, ratio: float) -> Tensor:
    """Indices (sorted ascending) of the n_keep highest-scoring units of `scores` (n,)."""
    return torch.topk(scores, n_keep(len(scores), ratio)).indices.sort().values


def _l1_rows(w: Tensor) -> Tensor:
    """L1 norm of each slice along dim 0: (n, ...) → (n,)."""
    return w.abs().flatten(1).sum(1)


def expand_units(units: Tensor, width: int) -> Tensor:
    """Indices of the `width` consecutive entries of each unit: unit u → u·width … u·width + width − 1."""
    return (units[:, None] * width + torch.arange(width)).flatten()


def _index(state: dict[str, Tensor], key: str, dim: int, idx: Tensor) -> None:
    state[key] = state[key].index_select(dim, idx).clone()


# ---- EEGNet -------------------------------------------------------------------------------------------------

def eegnet_keep(state: dict[str, Tensor], arch: dict, ratio: float) -> dict[str, Tensor]:
    """Kept temporal-filter groups "F1" and pointwise filters "F2".

    Group f scores L1(conv_temporal[f]) + L1 of its D spatial filters conv_spatial[f·D : (f+1)·D];
    pointwise filter g scores L1(conv_separable_point[g]).
    """
    D = arch["D"]
    temporal = _l1_rows(state["conv_temporal.weight"])                      # (F1,)
    spatial = _l1_rows(state["conv_spatial.weight"]).view(-1, D).sum(1)      # (F1·D,) → (F1,)
    return {"F1": top_units(temporal + spatial, ratio),
            "F2": top_units(_l1_rows(state["conv_separable_point.weight"]), ratio)}


def eegnet_slice(state: dict[str, Tensor], arch: dict, keep: dict[str, Tensor]) -> tuple[dict, dict]:
    """State_dict and arch of EEGNet(F1' = len(keep["F1"]), F2' = len(keep["F2"])) holding the kept units."""
    f1, f2 = keep["F1"], keep["F2"]
    spatial = expand_units(f1, arch["D"])                                         # kept F1·D channels
    L = state["classifier.weight"].shape[1] // arch["F2"]
    state = dict(state)
    _index(state, "conv_temporal.weight", 0, f1)
    _index(state, "conv_spatial.weight", 0, spatial)
    _index(state, "conv_separable_depth.weight", 0, spatial)
    _index(state, "conv_separable_point.weight", 0, f2)
    _index(state, "conv_separable_point.weight", 1, spatial)
    _index(state, "classifier.weight", 1, expand_units(f2, L))                    # flatten order (F2, 1, L)
    for bn, idx in (("bnorm_temporal", f1), ("bnorm_1", spatial), ("bnorm_2", f2)):
        for name in BN_TENSORS:
            _index(state, f"{bn}.{name}", 0, idx)
    return state, {**arch, "F1": len(f1), "F2": len(f2)}


# ---- LaBraM-style transformer ------------------------------------------------------------------------------

def labram_keep(state: dict[str, Tensor], arch: dict, ratio: float) -> dict[str, list]:
    """Kept "heads" and "mlp" hidden units, one index tensor per block (mlp: None where the MLP is removed).

    Head j of block i scores L1 of its q, k and v rows of attn.qkv plus L1 of its attn.proj columns;
    MLP unit u scores L1(mlp.fc1 row u) + L1(mlp.fc2 column u).
    """
    hd = arch["head_dim"]
    heads, mlp = [], []
    for i, (h, hidden) in enumerate(zip(arch["num_heads"], arch["mlp_hidden"])):
        p = f"blocks.{i}."
        qkv = state[p + "attn.qkv.weight"].abs().view(3, h, hd, -1).sum((0, 2, 3))     # (h,)
        proj = state[p + "attn.proj.weight"].abs().view(-1, h, hd).sum((0, 2))           # (h,)
        heads.append(top_units(qkv + proj, ratio))
        if hidden:
            fc1 = _l1_rows(state[p + "mlp.fc1.weight"])
            fc2 = state[p + "mlp.fc2.weight"].abs().sum(0)
            mlp.append(top_units(fc1 + fc2, ratio))
        else:
            mlp.append(None)
    return {"heads": heads, "mlp": mlp}


def labram_slice(state: dict[str, Tensor], arch: dict, keep: dict[str, list]) -> tuple[dict, dict]:
    """State_dict and arch with per-block num_heads / mlp_hidden reduced to the kept heads and units.

    qkv rows are sliced within each of the q, k, v chunks; q_norm/k_norm act per head_dim and stay as they are.
    """
    hd = arch["head_dim"]
    state = dict(state)
    for i, (heads, units) in enumerate(zip(keep["heads"], keep["mlp"])):
        p = f"blocks.{i}."
        inner = arch["num_heads"][i] * hd
        rows = expand_units(heads, hd)                                                   # within one chunk
        _index(state, p + "attn.qkv.weight", 0, torch.cat([rows + c * inner for c in range(3)]))
        _index(state, p + "attn.proj.weight", 1, rows)
        for bias in ("attn.q_bias", "attn.v_bias"):
            if p + bias in state:
                _index(state, p + bias, 0, rows)
        if units is not None:
            _index(state, p + "mlp.fc1.weight", 0, units)
            _index(state, p + "mlp.fc1.bias", 0, units)
            _index(state, p + "mlp.fc2.weight", 1, units)
    new_arch = {**arch, "num_heads": [len(h) for h in keep["heads"]],
                "mlp_hidden": [0 if u is None else len(u) for u in keep["mlp"]]}
    return state, new_arch


# Model family (arch["name"]) → (keep, slice).
FAMILIES = {"eegnet": (eegnet_keep, eegnet_slice), "labram": (labram_keep, labram_slice)}


def l1_structured(model: nn.Module, arch: dict, ratio: float) -> PruneResult:
    """Remove the `ratio` share of units with the smallest L1 norm; return a new, smaller model and its arch.

    EEGNet: temporal-filter groups (F1) and pointwise filters (F2). Transformer: heads and MLP units per block.
    `model` is left unchanged.
    """
    if arch["name"] not in FAMILIES:
        raise ValueError(f"l1_structured: no structured pruner for model {arch['name']!r}; "
                         f"known: {', '.join(FAMILIES)}")
    keep_fn, slice_fn = FAMILIES[arch["name"]]
    state = {k: v.detach() for k, v in model.state_dict().items()}
    new_state, new_arch = slice_fn(state, arch, keep_fn(state, arch, ratio))
    pruned = build_model(new_arch)
    pruned.load_state_dict(new_state)
    return PruneResult(model=pruned, arch=new_arch)
