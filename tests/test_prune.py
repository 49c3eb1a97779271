"""Pruning: the method registry, unstructured masks that survive training, exact structured pruning."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from eegslim.models import arch_for, build_model, count_params
from eegslim.prune import PRUNING_METHODS, MaskKeeper, prune_model, recover
from eegslim.prune.structured import FAMILIES, expand_units
from eegslim.prune.unstructured import prunable_weights

CH = ["FP1", "FP2", "C3", "C4", "O1", "O2"]


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

def test_registry_lists_methods_and_rejects_unknown_ones():
    assert {"magnitude_global", "l1_structured"} <= set(PRUNING_METHODS)
    arch = eegnet_arch()
    with pytest.raises(ValueError, match="nonsense.*magnitude_global.*l1_structured"):
        prune_model(build_model(arch), arch, "nonsense", 0.5)
    with pytest.raises(ValueError, match="ratio"):
        prune_model(build_model(arch), arch, "magnitude_global", 1.0)


# ---- magnitude_global ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch_fn,excluded", [(eegnet_arch, ("classifier.",)),
                                              (labram_arch, ("head.", "patch_embed."))])
@pytest.mark.parametrize("ratio", [0.3, 0.8])
def test_magnitude_global_hits_sparsity_and_leaves_head_alone(arch_fn, excluded, ratio):
    arch = arch_fn()
    model = randomized(arch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = prune_model(model, arch, "magnitude_global", ratio)
    weights = prunable_weights(result.model)
    assert set(result.masks) == set(weights)
    assert not any(name.startswith(excluded) for name in weights)
    n = sum(w.numel() for w in weights.values())
    zeros = sum(int((w == 0).sum()) for w in weights.values())
    assert abs(zeros / n - ratio) < 0.01
    for name, mask in result.masks.items():
        assert torch.equal(weights[name] == 0, ~mask)
    after = result.model.state_dict()
    for key, value in before.items():
        if key.startswith(excluded) or key not in result.masks:
            assert torch.equal(after[key], value), key
    assert result.arch == arch


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


@pytest.mark.parametrize("recovery", ["finetune", "scratch"])
def test_masks_survive_fit(recovery):
    from eegslim.train import TrainConfig

    arch = eegnet_arch()
    X, y = _tiny_data(6, 256)
    result = prune_model(randomized(arch), arch, "magnitude_global", 0.6)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=1e-2, weight_decay=0.05, warmup_epochs=0, patience=5,
                      num_threads=1, seed=0)
    start = {k: v.clone() for k, v in result.model.state_dict().items()}
    model, history = recover(result, X[:32], y[:32], X[32:], y[32:], cfg, 3, recovery, seed=7)
    changed = False
    for name, mask in result.masks.items():
        w = model.get_parameter(name)
        assert torch.all(w[~mask] == 0), name
        changed |= not torch.equal(w, start[name])
    assert changed                                         # it did train
    assert history


# ---- l1_structured --------------------------------------------------------------------------------------------

def eegnet_masked_original(model, arch, keep):
    """The original EEGNet with the removed units' outgoing weights zeroed."""
    masked = copy.deepcopy(model)
    D, F1, F2 = arch["D"], arch["F1"], arch["F2"]
    L = model.classifier.in_features // F2
    with torch.no_grad():
        masked.conv_separable_point.weight[:, expand_units(removed(F1, keep["F1"]), D)] = 0
        masked.classifier.weight[:, expand_units(removed(F2, keep["F2"]), L)] = 0
    return masked


def labram_masked_original(model, arch, keep):
    masked = copy.deepcopy(model)
    hd = arch["head_dim"]
    with torch.no_grad():
        for block, h, heads, units in zip(masked.blocks, arch["num_heads"], keep["heads"], keep["mlp"]):
            block.attn.proj.weight[:, expand_units(removed(h, heads), hd)] = 0
            if units is not None:
                block.mlp.fc2.weight[:, removed(block.mlp.fc2.in_features, units)] = 0
    return masked


CASES = {
    "eegnet": (eegnet_arch, eegnet_masked_original, (6, 256)),
    "labram": (labram_arch, labram_masked_original, (6, 400)),
    "labram_qkv_bias_no_mlp": (lambda: labram_arch(qkv_bias=True, mlp_hidden=[400, 0]), labram_masked_original,
                               (6, 400)),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("ratio", [0.5, 0.9])
def test_l1_structured_equals_masked_original(case, ratio):
    arch_fn, masked_fn, shape = CASES[case]
    arch = arch_fn()
    model = randomized(arch)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = prune_model(model, arch, "l1_structured", ratio)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())   # original untouched
    assert result.masks == {}
    assert count_params(result.model) < count_params(model)

    keep_fn, _ = FAMILIES[arch["name"]]
    masked = masked_fn(model, arch, keep_fn(state, arch, ratio))
    assert max_diff(result.model.eval(), masked, shape) < 1e-5
    assert max_diff(result.model, model, shape) > 1e-4                           # pruning did change the function

    # arch round trip: JSON → build_model → load_state_dict reproduces the pruned model
    rebuilt = build_model(json.loads(json.dumps(result.arch)))
    rebuilt.load_state_dict(result.model.state_dict())
    assert max_diff(rebuilt.eval(), result.model, shape) == 0.0


def test_l1_structured_widths():
    arch = eegnet_arch()
    result = prune_model(randomized(arch), arch, "l1_structured", 0.5)
    assert (result.arch["F1"], result.arch["F2"], result.arch["D"]) == (4, 8, 2)
    assert prune_model(randomized(arch), arch, "l1_structured", 0.99).arch["F1"] == 1      # at least one unit
    arch = labram_arch(mlp_hidden=[400, 0])
    result = prune_model(randomized(arch), arch, "l1_structured", 0.5)
    assert result.arch["num_heads"] == [2, 2] and result.arch["mlp_hidden"] == [200, 0]
    assert result.model.blocks[0].attn.qkv.weight.shape == (3 * 2 * arch["head_dim"], arch["out_chans"] * 25)


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


@pytest.mark.parametrize("method,recovery", [("magnitude_global", "finetune"), ("l1_structured", "scratch"),
                                             ("l1_structured", "none")])
def test_prune_stage_writes_checkpoint_and_metrics(baseline, tmp_path, method, recovery):
    from eegslim.atomic import read_json
    from eegslim.metrics import METRIC_KEYS
    from eegslim.models.checkpoint import load_checkpoint
    from eegslim.stages import prune as stage

    windows_h5, split_json, base = baseline
    prune_cfg = {"epochs": 2, "lr": 1e-3, "batch_size": 16, "weight_decay": 0.01, "warmup_epochs": 0,
                 "patience": 5, "num_threads": 1}
    out = tmp_path / "pruned"
    record = stage.run("toy", "eegnet", base, windows_h5, split_json, out, method, 0.5, recovery, prune_cfg, seed=1)
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "arch.json", "metrics.json", "history.json"}
    saved = read_json(out / "metrics.json")
    assert set(METRIC_KEYS) <= set(saved) and saved == record
    assert (saved["stage"], saved["method"], saved["ratio"], saved["recovery"], saved["variant"]) == \
        ("prune", method, 0.5, recovery, "torch")
    for key in ("params", "nonzero_params", "macs", "file_bytes", "gzip_bytes", "n_test"):
        assert saved[key] > 0, key
    model, arch = load_checkpoint(out)
    base_params = count_params(load_checkpoint(base)[0])
    if method == "l1_structured":
        assert arch["F1"] == 4 and saved["params"] < base_params
    else:
        assert saved["params"] == base_params and saved["nonzero_params"] < 0.75 * base_params
    assert bool(read_json(out / "history.json")) == (recovery != "none")
