"""Pruning: the method registry, unstructured masks that survive training, gradual and soft schedules, exact
structured and architectural pruning, sensitivity, and the prune stage."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from eegslim.catalog import METHODS, applies, skipped_cells
from eegslim.models import arch_for, build_model, count_params
from eegslim.prune import PRUNING_METHODS, MaskKeeper, PruneContext, prune_model, recover
from eegslim.prune.sensitivity import layer_sensitivity
from eegslim.prune.units import expand_units, unit_groups
from eegslim.prune.unstructured import cubic_sparsity, prunable_weights
from eegslim.train import Distillation, TrainConfig, fit

CH = ["FP1", "FP2", "C3", "C4", "O1", "O2"]
REPO = Path(__file__).resolve().parents[1]


def eegnet_arch() -> dict:
    return arch_for("eegnet", {}, n_chans=6, n_times=256, n_classes=3, sfreq=128, ch_names=CH)


def labram_arch(**overrides) -> dict:
    # init_scale 1: logits of order 1, so the equivalence tolerance is meaningful
    return arch_for("labram", {"size": "tiny", "init_scale": 1.0, **overrides},
                    n_chans=6, n_times=400, n_classes=3, sfreq=200, ch_names=CH)


def randomized(arch: dict, seed: int = 0) -> torch.nn.Module:
    """A model of `arch` with random weights, biases and BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = build_model(arch)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:                      # biases, norms, layer scale: away from their init constants
                p.add_(0.2 * torch.randn_like(p))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn_like(b))
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    return model.eval()


def max_diff(a: torch.nn.Module, b: torch.nn.Module, shape: tuple[int, ...]) -> float:
    x = torch.randn(5, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return float((a(x) - b(x)).abs().max())


def removed(n: int, kept: torch.Tensor) -> torch.Tensor:
    mask = torch.ones(n, dtype=torch.bool)
    mask[kept] = False
    return mask.nonzero().flatten()


# ---- registry -------------------------------------------------------------------------------------------------

def test_registry_catalogue_and_schema_agree():
    assert set(PRUNING_METHODS) == set(METHODS)
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert set(schema["properties"]["prune"]["properties"]["methods"]["items"]["enum"]) == set(METHODS)
    assert skipped_cells(["l1_filter", "depth", "bn_slimming"], ["eegnet", "labram"]) == \
        [("depth", "eegnet"), ("bn_slimming", "labram")]


def test_registry_rejects_unknown_methods_and_ratios():
    arch = eegnet_arch()
    with pytest.raises(ValueError, match="nonsense.*magnitude_global.*l1_filter"):
        prune_model(build_model(arch), arch, "nonsense", 0.5)
    with pytest.raises(ValueError, match="ratio"):
        prune_model(build_model(arch), arch, "magnitude_global", 1.0)
    with pytest.raises(ValueError, match="nonsense"):
        applies("nonsense", "eegnet")
    with pytest.raises(ValueError, match="prune.schedule"):
        PruneContext(schedule="sometimes")


# ---- unstructured -------------------------------------------------------------------------------------------

def zeros_of(weights) -> tuple[int, int]:
    return sum(int((w == 0).sum()) for w in weights.values()), sum(w.numel() for w in weights.values())


@pytest.mark.parametrize("arch_fn,excluded", [(eegnet_arch, ("classifier.",)),
                                              (labram_arch, ("head.", "patch_embed."))])
@pytest.mark.parametrize("method", ["magnitude_global", "magnitude_layerwise", "random"])
@pytest.mark.parametrize("ratio", [0.3, 0.8])
def test_unstructured_hits_sparsity_and_leaves_head_alone(arch_fn, excluded, method, ratio):
    arch = arch_fn()
    model = randomized(arch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = prune_model(model, arch, method, ratio)
    weights = prunable_weights(result.model)
    assert set(result.masks) == set(weights)
    assert not any(name.startswith(excluded) for name in weights)
    zeros, n = zeros_of(weights)
    assert abs(zeros / n - ratio) < 0.01
    for name, mask in result.masks.items():
        assert torch.equal(weights[name] == 0, ~mask)
        if method == "magnitude_layerwise":                    # every layer at the ratio on its own
            assert abs((~mask).float().mean().item() - ratio) < 0.5 / mask.numel() + 1e-6
    after = result.model.state_dict()
    for key, value in before.items():
        if key.startswith(excluded) or key not in result.masks:
            assert torch.equal(after[key], value), key
    assert result.arch == arch


def test_magnitude_ranks_by_size_random_does_not():
    arch = eegnet_arch()
    model = randomized(arch)
    w = prunable_weights(model)
    magnitude = prune_model(copy.deepcopy(model), arch, "magnitude_global", 0.5).masks
    kept_min = min(w[n].abs()[m].min() for n, m in magnitude.items())
    pruned_max = max(w[n].abs()[~m].max() for n, m in magnitude.items() if (~m).any())
    assert kept_min >= pruned_max
    rnd = prune_model(copy.deepcopy(model), arch, "random", 0.5).masks
    assert any(w[n].abs()[~m].max() > kept_min for n, m in rnd.items() if (~m).any())


@pytest.mark.parametrize("arch_fn,head", [(eegnet_arch, "classifier.weight"), (labram_arch, "head.weight")])
def test_include_head_prunes_the_head(arch_fn, head):
    arch = arch_fn()
    result = prune_model(randomized(arch), arch, "magnitude_layerwise", 0.5, PruneContext(include_head=True))
    assert head in result.masks
    assert (result.model.get_parameter(head) == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    assert not any(name.startswith("patch_embed") for name in result.masks)


def test_cubic_schedule_values():
    assert cubic_sparsity(0, 4, 0.8) == 0.0
    assert cubic_sparsity(2, 4, 0.8) == pytest.approx(0.8 * (1 - 0.5 ** 3))
    assert cubic_sparsity(4, 4, 0.8) == pytest.approx(0.8)
    assert cubic_sparsity(9, 4, 0.8) == pytest.approx(0.8)                       # held after the ramp
    values = [cubic_sparsity(k, 10, 0.5) for k in range(11)]
    steps = np.diff(values)
    assert np.all(steps > 0) and np.all(np.diff(steps) < 0)                       # rises fast, then slows


def test_mask_keeper_keeps_zeros_under_adamw():
    """Plain nn.Module, AdamW with weight decay: re-applied masks keep every pruned weight exactly 0."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    result = prune_model(model, {"name": "mlp"}, "magnitude_global", 0.5)
    keeper = MaskKeeper(result.masks)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(20):
        opt.zero_grad()
        model(torch.randn(32, 8)).pow(2).mean().backward()
        opt.step()
        keeper(model)
    for name, mask in result.masks.items():
        w = model.get_parameter(name)
        assert torch.all(w[~mask] == 0) and torch.all(w[mask] != 0)


def _tiny_data(n_chans: int, n_times: int, n: int = 48, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.standard_normal((n, n_chans, n_times)).astype(np.float32) + y[:, None, None].astype(np.float32)
    return X, y


RECOVERY_CFG = TrainConfig(epochs=4, batch_size=16, lr=1e-2, weight_decay=0.05, warmup_epochs=0, patience=5,
                           num_threads=1, seed=0)


@pytest.mark.parametrize("recovery", ["finetune", "scratch"])
@pytest.mark.parametrize("method,schedule", [("magnitude_global", "oneshot"), ("random", "oneshot"),
                                             ("magnitude_layerwise", "gradual")])
def test_masks_survive_recovery(recovery, method, schedule):
    arch = eegnet_arch()
    X, y = _tiny_data(6, 256)
    ctx = PruneContext(schedule=schedule, epochs=RECOVERY_CFG.epochs)
    result = prune_model(randomized(arch), arch, method, 0.6, ctx)
    start = {k: v.clone() for k, v in result.model.state_dict().items()}
    final, history = recover(result, X[:32], y[:32], X[32:], y[32:], RECOVERY_CFG, 3, recovery, seed=7)
    zeros, n = zeros_of(prunable_weights(final.model))
    assert abs(zeros / n - 0.6) < 0.01                                             # the final sparsity, kept
    changed = False
    for name, mask in final.masks.items():
        w = final.model.get_parameter(name)
        assert torch.all(w[~mask] == 0), name
        changed |= not torch.equal(w, start[name])
    assert changed                                                                  # it did train
    assert history["epoch"]
    if schedule == "gradual":                                                       # best epoch at full sparsity
        assert history["best_epoch"] >= result.dynamic.ramp - 1


def test_gradual_sparsity_rises_over_the_epochs():
    arch = eegnet_arch()
    X, y = _tiny_data(6, 256)
    cfg = TrainConfig(epochs=6, batch_size=16, lr=1e-2, num_threads=1)
    result = prune_model(randomized(arch), arch, "magnitude_global", 0.8, PruneContext(schedule="gradual", epochs=6))
    pruner = result.dynamic
    assert pruner.ramp == 3 and pruner.sparsity == pytest.approx(cubic_sparsity(1, 3, 0.8))
    seen, masks_seen = [], []

    def spy(model, epoch):
        zeros, n = zeros_of(prunable_weights(model))
        seen.append(zeros / n)
        masks_seen.append({k: v.clone() for k, v in pruner.masks.items()})

    fit(result.model, X[:32], y[:32], X[32:], y[32:], cfg, 3, post_step=(MaskKeeper(pruner.masks),),
        epoch_end=(pruner.epoch_end, spy), eligible=pruner.eligible)
    expected = [cubic_sparsity(min(e + 1, 3), 3, 0.8) for e in range(1, 7)]
    assert seen == pytest.approx(expected, abs=0.01)
    for earlier, later in zip(masks_seen, masks_seen[1:]):                          # pruned weights stay pruned
        assert all(torch.all(later[k] <= earlier[k]) for k in earlier)


def test_recovery_none_and_scratch_of_dynamic_methods():
    arch = eegnet_arch()
    X, y = _tiny_data(6, 256)
    ctx = PruneContext(schedule="gradual", epochs=4)
    final, history = recover(prune_model(randomized(arch), arch, "magnitude_global", 0.5, ctx), X[:32], y[:32],
                             X[32:], y[32:], RECOVERY_CFG, 3, "none")
    assert history == {} and zeros_of(prunable_weights(final.model))[0] / zeros_of(
        prunable_weights(final.model))[1] == pytest.approx(0.5, abs=0.01)
    model = randomized(arch)
    inherited = model.conv_temporal.weight.detach().clone()
    final, _ = recover(prune_model(model, arch, "soft_filter", 0.5), X[:32], y[:32], X[32:], y[32:],
                       RECOVERY_CFG, 3, "scratch", seed=3)
    assert final.arch["F1"] == 4 and final.arch["F2"] == 8
    kept = final.kept["F1"]
    assert not torch.allclose(final.model.conv_temporal.weight, inherited[kept])   # re-initialised, not inherited


def test_distill_recovery_trains_the_inherited_weights_under_the_masks_with_the_teacher(monkeypatch):
    arch = eegnet_arch()
    X, y = _tiny_data(6, 256)
    teacher = randomized(arch)
    result = prune_model(randomized(arch), arch, "magnitude_global", 0.6)
    start = {k: v.clone() for k, v in result.model.state_dict().items()}
    seen = []
    real_loss = Distillation.loss
    monkeypatch.setattr(Distillation, "loss", lambda self, *a: seen.append(self.teacher) or real_loss(self, *a))
    final, history = recover(result, X[:32], y[:32], X[32:], y[32:], RECOVERY_CFG, 3, "distill",
                             distill=Distillation(teacher))
    assert seen and all(t is teacher for t in seen)                                 # the teacher's loss was used
    assert final.model is result.model and history["epoch"]                         # inherited weights, trained
    assert not torch.equal(final.model.conv_temporal.weight, start["conv_temporal.weight"])
    for name, mask in final.masks.items():
        assert torch.all(final.model.get_parameter(name)[~mask] == 0), name
    with pytest.raises(ValueError, match="teacher"):
        recover(result, X[:32], y[:32], X[32:], y[32:], RECOVERY_CFG, 3, "distill")
    with pytest.raises(ValueError, match="teacher"):
        recover(result, X[:32], y[:32], X[32:], y[32:], RECOVERY_CFG, 3, "finetune", distill=Distillation(teacher))


def test_scratch_is_not_the_baselines_initialisation(monkeypatch):
    """The baseline is built right after manual_seed(seed): scratch with that seed must not rewind to it."""
    arch = eegnet_arch()
    X, y = _tiny_data(6, 256)
    torch.manual_seed(7)
    initial = build_model(arch).conv_temporal.weight.detach().clone()
    monkeypatch.setattr("eegslim.prune.recovery.fit", lambda *args, **kwargs: {})   # the weights recovery starts from
    result = prune_model(randomized(arch), arch, "magnitude_global", 0.5)
    final, _ = recover(result, X[:32], y[:32], X[32:], y[32:], RECOVERY_CFG, 3, "scratch", seed=7)
    weight, mask = final.model.conv_temporal.weight, final.masks["conv_temporal.weight"]
    assert mask.any() and not mask.all()
    assert torch.all(weight[~mask] == 0)
    assert not torch.equal(weight[mask], initial[mask])


# ---- structured methods: exactly the masked original ----------------------------------------------------------

def eegnet_masked_original(model, arch, kept):
    """The original EEGNet with the removed units' outgoing weights zeroed (written out by hand, not via units.py)."""
    masked = copy.deepcopy(model)
    D, F1, F2 = arch["D"], arch["F1"], arch["F2"]
    L = model.classifier.in_features // F2
    with torch.no_grad():
        masked.conv_separable_point.weight[:, expand_units(removed(F1, kept["F1"]), D)] = 0
        masked.classifier.weight[:, expand_units(removed(F2, kept["F2"]), L)] = 0
    return masked


def labram_masked_original(model, arch, kept):
    masked = copy.deepcopy(model)
    hd = arch["head_dim"]
    with torch.no_grad():
        for i, (block, h) in enumerate(zip(masked.blocks, arch["num_heads"])):
            block.attn.proj.weight[:, expand_units(removed(h, kept[f"heads.{i}"]), hd)] = 0
            if block.mlp is not None:
                block.mlp.fc2.weight[:, removed(block.mlp.fc2.in_features, kept[f"mlp.{i}"])] = 0
    return masked


CASES = {
    "eegnet": (eegnet_arch, eegnet_masked_original, (6, 256)),
    "labram": (labram_arch, labram_masked_original, (6, 400)),
    "labram_qkv_bias_no_mlp": (lambda: labram_arch(qkv_bias=True, mlp_hidden=[400, 0]), labram_masked_original,
                               (6, 400)),
}
STRUCTURED = ["l1_filter", "bn_slimming", "taylor", "random_structured"]


def data_ctx(shape, **kwargs) -> PruneContext:
    X, y = _tiny_data(*shape, n=64)
    return PruneContext(X=X, y=y, batch_size=16, **kwargs)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("method", STRUCTURED)
@pytest.mark.parametrize("ratio", [0.5, 0.9])
def test_structured_equals_masked_original(case, method, ratio):
    arch_fn, masked_fn, shape = CASES[case]
    arch = arch_fn()
    if not applies(method, arch["name"]):
        pytest.skip(f"{method} does not apply to {arch['name']}")
    model = randomized(arch)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = prune_model(model, arch, method, ratio, data_ctx(shape))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())   # original untouched
    assert result.masks == {} and result.dynamic is None
    assert count_params(result.model) < count_params(model)

    masked = masked_fn(model, arch, result.kept)
    assert max_diff(result.model.eval(), masked, shape) < 1e-5
    assert max_diff(result.model, model, shape) > 1e-4                           # pruning did change the function

    # arch round trip: JSON → build_model → load_state_dict reproduces the pruned model
    rebuilt = build_model(json.loads(json.dumps(result.arch)))
    rebuilt.load_state_dict(result.model.state_dict())
    assert max_diff(rebuilt.eval(), result.model, shape) == 0.0


def test_l1_filter_widths_and_old_name():
    arch = eegnet_arch()
    result = prune_model(randomized(arch), arch, "l1_filter", 0.5)
    assert (result.arch["F1"], result.arch["F2"], result.arch["D"]) == (4, 8, 2)
    old = prune_model(randomized(arch), arch, "l1_structured", 0.5)
    assert old.arch == result.arch and all(torch.equal(old.kept[k], result.kept[k]) for k in result.kept)
    assert prune_model(randomized(arch), arch, "l1_filter", 0.99).arch["F1"] == 1      # at least one unit
    arch = labram_arch(mlp_hidden=[400, 0])
    result = prune_model(randomized(arch), arch, "l1_filter", 0.5)
    assert result.arch["num_heads"] == [2, 2] and result.arch["mlp_hidden"] == [200, 0]
    assert result.model.blocks[0].attn.qkv.weight.shape == (3 * 2 * arch["head_dim"], arch["out_chans"] * 25)


def test_methods_rank_units_by_their_own_criterion():
    """Each method removes the units its criterion ranks lowest: planted weak units go first."""
    arch = eegnet_arch()
    model = randomized(arch)
    with torch.no_grad():
        model.conv_temporal.weight[[1, 6]] *= 1e-3          # weak F1 groups by L1
        model.conv_spatial.weight[2:4] *= 1e-3
        model.conv_spatial.weight[12:14] *= 1e-3
        model.bnorm_1.weight[[0, 1, 10, 11]] = 1e-3          # weak F1 groups by BatchNorm γ: 0 and 5
    assert removed(8, prune_model(model, arch, "l1_filter", 0.25).kept["F1"]).tolist() == [1, 6]
    # global γ threshold: the 2 weakest of 8 + 16 units at 2/24
    assert removed(8, prune_model(model, arch, "bn_slimming", 2 / 24).kept["F1"]).tolist() == [0, 5]
    with torch.no_grad():
        model.classifier.weight[:, : 2 * (model.classifier.in_features // 16)] = 0    # F2 units 0, 1 unused
    taylor = prune_model(model, arch, "taylor", 2 / 16, data_ctx((6, 256)))
    assert removed(16, taylor.kept["F2"]).tolist() == [0, 1]


def test_random_structured_depends_on_seed():
    arch = eegnet_arch()
    kept = [prune_model(randomized(arch), arch, "random_structured", 0.5, PruneContext(seed=s)).kept["F2"]
            for s in (0, 0, 1, 2)]
    assert torch.equal(kept[0], kept[1])
    assert not all(torch.equal(kept[0], k) for k in kept[2:])


def test_bn_slimming_sparsity_training_shrinks_gamma():
    arch = eegnet_arch()
    model = randomized(arch)
    X, y = _tiny_data(6, 256, n=64)
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1e-2, num_threads=1)
    seen = {}

    def train(m):
        seen["before"] = m.bnorm_2.weight.detach().abs().sum().item()
        history = fit(m, X[:48], y[:48], X[48:], y[48:], cfg, 3)
        seen["after"] = m.bnorm_2.weight.detach().abs().sum().item()
        return history

    result = prune_model(model, arch, "bn_slimming", 0.5, PruneContext(bn_sparsity=0.05, train=train))
    plain = randomized(arch)
    fit(plain, X[:48], y[:48], X[48:], y[48:], cfg, 3)
    assert seen["after"] < plain.bnorm_2.weight.detach().abs().sum().item()      # the L1 term pulled γ down
    assert result.arch["F2"] < arch["F2"]
    with pytest.raises(ValueError, match="training data"):
        prune_model(randomized(arch), arch, "bn_slimming", 0.5, PruneContext(bn_sparsity=0.1))


def test_taylor_needs_training_windows():
    arch = eegnet_arch()
    with pytest.raises(ValueError, match="taylor: needs training windows"):
        prune_model(randomized(arch), arch, "taylor", 0.5)


def test_torch_pruning_agrees_where_it_handles_eegnet():
    """torch-pruning handles EEGNet with D = 1 (a true depthwise spatial conv, models.md §5.3): its pruned model
    has our arch's shapes, so its state_dict loads into the model rebuilt from our arch.json."""
    tp = pytest.importorskip("torch_pruning")
    arch = arch_for("eegnet", {"D": 1, "F2": 8}, n_chans=6, n_times=256, n_classes=3, sfreq=128, ch_names=CH)
    model = randomized(arch)
    ours = prune_model(model, arch, "l1_filter", 0.5)
    importance = tp.importance.MagnitudeImportance(p=1, normalizer=None, group_reduction="first")
    tp.pruner.BasePruner(model, torch.randn(1, 6, 256), importance=importance, pruning_ratio=0.5,
                         ignored_layers=[model.classifier]).step()
    assert count_params(model) == count_params(ours.model)
    build_model(ours.arch).load_state_dict(model.state_dict())


# ---- soft filter pruning --------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
def test_soft_filter_zeroes_outputs_and_removes_exactly(case):
    arch_fn, masked_fn, shape = CASES[case]
    arch = arch_fn()
    model = randomized(arch)
    original = copy.deepcopy(model)
    result = prune_model(model, arch, "soft_filter", 0.5)
    assert result.model is model and result.arch == arch and result.dynamic is not None
    final = result.dynamic.finish(model)
    assert count_params(final.model) < count_params(model)
    assert max_diff(final.model.eval(), model.eval(), shape) < 1e-5              # zeroed units output exactly 0
    assert max_diff(final.model, masked_fn(original, arch, final.kept), shape) < 1e-5
    build_model(json.loads(json.dumps(final.arch))).load_state_dict(final.model.state_dict())


def test_soft_filter_lets_units_regrow_and_zeroes_them_after_every_epoch():
    arch = eegnet_arch()
    X, y = _tiny_data(6, 256)
    result = prune_model(randomized(arch), arch, "soft_filter", 0.5)
    zeroed_at_start = (result.model.conv_separable_point.weight.flatten(1).abs().sum(1) == 0).sum().item()
    assert zeroed_at_start == 8
    grew = []

    class Spy:  # after each optimizer step: do zeroed filters get non-zero again?
        def __call__(self, m):
            grew.append(int((m.conv_separable_point.weight.flatten(1).abs().sum(1) == 0).sum()))

    pruner = result.dynamic
    fit(result.model, X[:32], y[:32], X[32:], y[32:], TrainConfig(epochs=2, batch_size=16, lr=1e-2, num_threads=1),
        3, post_step=(Spy(),), epoch_end=(pruner.epoch_end,), eligible=pruner.eligible)
    assert min(grew) < 8                                                          # they regrow while training
    final = pruner.finish(result.model)
    assert final.arch["F2"] == 8 and final.arch["F1"] == 4


# ---- architectural methods (transformer) ----------------------------------------------------------------------

def gamma_zeroed(model, blocks=(), mlps=()):
    masked = copy.deepcopy(model)
    with torch.no_grad():
        for i in blocks:
            masked.blocks[i].gamma_1.zero_()
            if masked.blocks[i].mlp is not None:
                masked.blocks[i].gamma_2.zero_()
        for i in mlps:
            masked.blocks[i].gamma_2.zero_()
    return masked


@pytest.mark.parametrize("ratio,n_blocks", [(0.25, 3), (0.5, 2), (0.9, 1)])
def test_depth_removes_blocks_with_the_smallest_contribution(ratio, n_blocks):
    arch = labram_arch(depth=4, num_heads=[4, 2, 4, 1], mlp_hidden=[400, 0, 100, 400])
    model = randomized(arch)
    with torch.no_grad():
        model.blocks[2].gamma_1.mul_(1e-3)
        model.blocks[2].gamma_2.mul_(1e-3)                     # block 2 barely changes its input
    result = prune_model(model, arch, "depth", ratio, data_ctx((6, 400)))
    kept = result.kept["blocks"].tolist()
    assert result.arch["depth"] == len(kept) == n_blocks and 2 not in kept
    assert result.arch["num_heads"] == [arch["num_heads"][i] for i in kept]
    assert result.arch["mlp_hidden"] == [arch["mlp_hidden"][i] for i in kept]
    assert count_params(result.model) < count_params(model)
    dropped = [i for i in range(4) if i not in kept]
    assert max_diff(result.model.eval(), gamma_zeroed(model, blocks=dropped), (6, 400)) < 1e-5
    rebuilt = build_model(json.loads(json.dumps(result.arch)))
    rebuilt.load_state_dict(result.model.state_dict())
    assert max_diff(rebuilt.eval(), result.model, (6, 400)) == 0.0


def test_mlp_removal_drops_the_weakest_mlps():
    arch = labram_arch(depth=4, num_heads=[4] * 4, mlp_hidden=[400, 400, 0, 400])
    model = randomized(arch)
    with torch.no_grad():
        model.blocks[3].gamma_2.mul_(1e-3)
    result = prune_model(model, arch, "mlp_removal", 0.5, data_ctx((6, 400)))
    hidden = result.arch["mlp_hidden"]
    assert hidden == [400, 400, 0, 0]                        # round(3 · 0.5) = 2 of the 3 MLPs kept
    assert result.arch["depth"] == 4 and count_params(result.model) < count_params(model)
    dropped = [i for i in (0, 1, 3) if hidden[i] == 0]
    assert max_diff(result.model.eval(), gamma_zeroed(model, mlps=dropped), (6, 400)) < 1e-5
    build_model(json.loads(json.dumps(result.arch))).load_state_dict(result.model.state_dict())


@pytest.mark.parametrize("method", ["depth", "mlp_removal", "bn_slimming"])
def test_methods_refuse_models_they_do_not_apply_to(method):
    arch = labram_arch() if method == "bn_slimming" else eegnet_arch()
    with pytest.raises(ValueError, match=f"{method}.*does not apply to model '{arch['name']}'"):
        prune_model(randomized(arch), arch, method, 0.5, data_ctx(arch_shape(arch)))


def arch_shape(arch):
    return (arch["n_chans"], arch["n_times"])


# ---- sensitivity ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch_fn", [eegnet_arch, labram_arch])
def test_sensitivity_rows(arch_fn):
    arch = arch_fn()
    model = randomized(arch)
    X, y = _tiny_data(*arch_shape(arch), n=40)
    fit(model, X, y, X, y, TrainConfig(epochs=4, batch_size=8, lr=3e-3, num_threads=1), 3)   # above chance
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ratios = [0.25, 0.5, 0.9]
    rows = layer_sensitivity(model, arch, X, y, 3, ratios)
    groups = list(unit_groups(arch))
    weights = [n.removesuffix(".weight") for n in prunable_weights(model, include_head=True)]
    assert len(rows) == (len(groups) + len(weights)) * len(ratios)
    assert [r["layer"] for r in rows[::len(ratios)]] == groups + weights
    assert {r["kind"] for r in rows} == {"structured", "unstructured"}
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())   # restored
    for r in rows:
        assert r["delta_balanced_accuracy"] == pytest.approx(r["balanced_accuracy"] - r["reference_balanced_accuracy"])
        assert 0 <= r["balanced_accuracy"] <= 1 and r["params"] > 0
    assert any(r["delta_balanced_accuracy"] != 0 for r in rows)                     # pruning does something
    head = "classifier" if arch["name"] == "eegnet" else "head"
    assert head in weights


# ---- stage ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """(windows.h5, splits.json, baseline dir) of a small random EEGNet on 6 subjects × 16 windows of 6 × 256."""
    from eegslim.atomic import write_json
    from eegslim.metrics import metrics_record
    from eegslim.models.checkpoint import save_checkpoint
    from eegslim.splits import save_split, subject_split
    from eegslim.store import WindowWriter

    root = tmp_path_factory.mktemp("stage")
    X, y = _tiny_data(6, 256, n=96)
    subjects = np.repeat([f"s{i}" for i in range(6)], 16)
    with WindowWriter(root / "windows.h5", CH, 128.0, ["a", "b", "c"], "toy", {}) as writer:
        for s in np.unique(subjects):
            rows = subjects == s
            writer.append(X[rows], y[rows], subject=s, session="1", recording=f"{s}-1")
    save_split(subject_split(subjects, y, 0.2, 0.2, seed=0), root / "splits.json")
    base = root / "baseline"
    save_checkpoint(randomized(eegnet_arch()), eegnet_arch(), base)
    write_json(base / "metrics.json", metrics_record(dataset="toy", model="eegnet", stage="baseline", seed=0))
    return root / "windows.h5", root / "splits.json", base


@pytest.mark.parametrize("method,recovery,options", [
    ("magnitude_global", "finetune", {"schedule": "gradual"}),
    ("l1_filter", "scratch", {}),
    ("l1_filter", "distill", {"distill": {"alpha": 0.7, "temperature": 3.0}}),
    ("l1_structured", "none", {}),
    ("soft_filter", "finetune", {}),
    ("taylor", "none", {"criterion_batches": 2}),
    ("bn_slimming", "finetune", {"bn_sparsity": 1e-3, "sparsity_epochs": 1}),
])
def test_prune_stage_writes_checkpoint_and_metrics(baseline, tmp_path, method, recovery, options):
    from eegslim.atomic import read_json
    from eegslim.metrics import METRIC_KEYS
    from eegslim.models.checkpoint import load_checkpoint
    from eegslim.predictions import read_predictions
    from eegslim.stages import prune as stage

    windows_h5, split_json, base = baseline
    prune_cfg = {"epochs": 2, "lr": 1e-3, "batch_size": 16, "weight_decay": 0.01, "warmup_epochs": 0,
                 "patience": 5, "num_threads": 1, **options}
    out = tmp_path / "pruned"
    record = stage.run("toy", "eegnet", base, windows_h5, split_json, out, method, 0.5, recovery, prune_cfg, seed=1)
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "arch.json", "metrics.json", "history.json",
                                               "predictions.npz"}
    saved = read_json(out / "metrics.json")
    assert set(METRIC_KEYS) <= set(saved) and saved == record
    preds = read_predictions(out / "predictions.npz")
    assert preds.window.tolist() == sorted(read_json(split_json)["test"]) and len(preds.window) == saved["n_test"]
    assert saved["accuracy"] == pytest.approx(np.mean(preds.y_pred == preds.y_true))
    assert (saved["stage"], saved["method"], saved["ratio"], saved["recovery"], saved["variant"]) == \
        ("prune", method, 0.5, recovery, "torch")
    for key in ("params", "nonzero_params", "macs", "file_bytes", "gzip_bytes", "n_test"):
        assert saved[key] > 0, key
    model, arch = load_checkpoint(out)
    base_params = count_params(load_checkpoint(base)[0])
    if METHODS[method].kind != "unstructured":
        assert arch["F1"] == 4 and saved["params"] == count_params(model) < base_params
    else:
        assert saved["params"] == base_params and saved["nonzero_params"] < 0.75 * base_params
    assert bool(read_json(out / "history.json")) == (recovery != "none")


def test_sensitivity_stage_writes_tables(baseline, tmp_path):
    import pandas as pd

    from eegslim.atomic import read_json
    from eegslim.stages import sensitivity as stage

    windows_h5, split_json, base = baseline
    table = stage.run("toy", "eegnet", [base, base], ["seed0", "fold2-seed1"], windows_h5, [split_json] * 2,
                      tmp_path / "s.json", tmp_path / "s.csv",
                      {"ratios": [0.5, 0.75], "kinds": ["structured"], "max_windows": 10})
    saved = pd.read_csv(tmp_path / "s.csv")
    assert len(saved) == len(table) == 2 * 2 * 2                  # runs × groups (F1, F2) × ratios
    assert list(saved["layer"].unique()) == ["F1", "F2"] and set(saved["seed"]) == {0, 1}
    assert saved["fold"].isna().sum() == 4 and set(saved["fold"].dropna()) == {2}
    meta = read_json(tmp_path / "s.json")
    assert meta["n_windows"] == {"seed0": 10, "fold2-seed1": 10} and meta["split"] == "val" and len(meta["rows"]) == 8
    with pytest.raises(ValueError, match="sensitivity.kinds"):
        stage.run("toy", "eegnet", [base], ["seed0"], windows_h5, [split_json], tmp_path / "t.json",
                  tmp_path / "t.csv", {"ratios": [0.5], "kinds": ["sideways"]})
    with pytest.raises(ValueError, match="run 'seed'"):
        stage.run("toy", "eegnet", [base], ["seed"], windows_h5, [split_json], tmp_path / "t.json",
                  tmp_path / "t.csv", {"ratios": [0.5]})


def test_pretrained_transformer_name_prunes_as_the_transformer(baseline, tmp_path):
    from eegslim.catalog import applies
    from eegslim.stages import sensitivity as stage

    assert applies("depth", "labram_pt") and applies("l1_filter", "labram_pt") and not applies("bn_slimming", "labram_pt")
    windows_h5, split_json, base = baseline  # an EEGNet baseline: wrong architecture for labram_pt
    with pytest.raises(ValueError, match="model 'eegnet', expected 'labram'"):
        stage.run("toy", "labram_pt", [base], ["seed0"], windows_h5, [split_json], tmp_path / "s.json",
                  tmp_path / "s.csv", {"ratios": [0.5], "kinds": ["structured"]})
