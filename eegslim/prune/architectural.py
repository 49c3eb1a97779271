"""Architectural pruning of the transformer: remove whole encoder blocks (`depth`) or their MLPs (`mlp_removal`).

Blocks are pre-norm residual, x + γ₁·attn(norm₁ x) + γ₂·mlp(norm₂ ·), so removing a block (or its MLP branch)
is exactly setting its layer-scale γ's to zero. The criterion: the branch's residual contribution, the mean over
training batches of ‖branch output‖ / ‖branch input‖ (tokens × embedding, Frobenius); the smallest go first.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from eegslim.models import build_model
from eegslim.prune.recovery import PruneContext, PruneResult
from eegslim.prune.units import n_keep, state_of, top_units


def _need_transformer(arch: dict, method: str) -> None:
    if arch.get("name") != "labram":
        raise ValueError(f"{method}: removes transformer blocks; model {arch.get('name')!r} has none "
                         "(the grid skips this pair)")


@torch.no_grad()
def residual_contributions(model: nn.Module, ctx: PruneContext, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per block, the mean relative residual contribution of (the whole block, its MLP branch): two (depth,)
    tensors; the MLP entry is NaN for a block without MLP. Eval mode."""
    was_training = model.training
    model.eval()
    depth = len(model.blocks)
    block_rel, mlp_rel = torch.zeros(depth), torch.zeros(depth)
    batches = ctx.data_batches(method)

    def block_hook(i):
        def hook(module, args, out):
            block_rel[i] += ((out - args[0]).norm() / args[0].norm()).item()
        return hook

    def mlp_hook(i, block):
        def hook(module, args, out):  # on norm2: args[0] is the MLP branch's input, out its normalised form
            mlp_rel[i] += ((block.gamma_2 * block.mlp(out)).norm() / args[0].norm()).item()
        return hook

    handles = [b.register_forward_hook(block_hook(i)) for i, b in enumerate(model.blocks)]
    for i, block in enumerate(model.blocks):
        if block.mlp is None:
            mlp_rel[i] = float("nan")
        else:
            handles.append(block.norm2.register_forward_hook(mlp_hook(i, block)))
    try:
        for x, _ in batches:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return block_rel / len(batches), mlp_rel / len(batches)


def _renumber(state: dict[str, torch.Tensor], kept: list[int]) -> dict[str, torch.Tensor]:
    """state_dict with blocks `kept` (old indices, in order) renumbered 0 … len(kept) − 1, the others dropped."""
    new_index = {old: new for new, old in enumerate(kept)}
    out = {}
    for key, value in state.items():
        m = re.match(r"blocks\.(\d+)\.(.*)", key)
        if m is None:
            out[key] = value
        elif int(m.group(1)) in new_index:
            out[f"blocks.{new_index[int(m.group(1))]}.{m.group(2)}"] = value
    return out


def depth(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Remove depth − n_keep(depth, ratio) whole blocks, those with the smallest residual contribution on
    training batches; the result has fewer blocks and rebuilds from its arch. `model` is left unchanged."""
    _need_transformer(arch, "depth")
    block_rel, _ = residual_contributions(model, ctx, "depth")
    kept = top_units(block_rel, ratio).tolist()
    new_arch = {**arch, "depth": len(kept), "num_heads": [arch["num_heads"][i] for i in kept],
                "mlp_hidden": [arch["mlp_hidden"][i] for i in kept]}
    pruned = build_model(new_arch)
    pruned.load_state_dict(_renumber(state_of(model), kept))
    return PruneResult(model=pruned, arch=new_arch, kept={"blocks": torch.tensor(kept)})


def mlp_removal(model: nn.Module, arch: dict, ratio: float, ctx: PruneContext) -> PruneResult:
    """Drop the MLP branch of the blocks with the smallest MLP residual contribution: of the n blocks that have
    one, n − n_keep(n, ratio) lose it (mlp_hidden → 0). `model` is left unchanged."""
    _need_transformer(arch, "mlp_removal")
    _, mlp_rel = residual_contributions(model, ctx, "mlp_removal")
    with_mlp = [i for i, h in enumerate(arch["mlp_hidden"]) if h > 0]
    if not with_mlp:
        raise ValueError("mlp_removal: no block has an MLP left")
    kept = [with_mlp[j] for j in top_units(mlp_rel[with_mlp], ratio).tolist()]
    new_arch = {**arch, "mlp_hidden": [h if i in kept else 0 for i, h in enumerate(arch["mlp_hidden"])]}
    dropped = {i for i in with_mlp if i not in kept}

    def is_dropped(key: str) -> bool:
        m = re.match(r"blocks\.(\d+)\.(norm2|mlp|gamma_2)\b", key)
        return m is not None and int(m.group(1)) in dropped

    state = {k: v for k, v in state_of(model).items() if not is_dropped(k)}
    pruned = build_model(new_arch)
    pruned.load_state_dict(state)
    return PruneResult(model=pruned, arch=new_arch, kept={"mlp_blocks": torch.tensor(kept)})
