"""EEGNet's spatial-first paths compute the same function, gradients and BatchNorm statistics as its modules."""

import copy

import pytest
import torch
import torch.nn.functional as F

from eegslim.models import build_model, spatial_first
from eegslim.models.eegnet import EEGNet, eegnet_config


@pytest.mark.parametrize(("K", "pad"), [(8, 4), (7, 3), (1, 0)])
def test_patch_moments_match_the_unfolded_patches(K, pad):
    x = torch.randn(3, 4, 40, dtype=torch.float64) + 0.7
    patches = F.pad(x, (pad, pad)).unfold(-1, K, 1).reshape(-1, K)        # every (batch, channel, position)
    mean, G, n = spatial_first.patch_moments(x, K, pad)
    assert n == len(patches)
    torch.testing.assert_close(mean, patches.mean(0))
    torch.testing.assert_close(G, patches.T @ patches / n)


def _step(model, x, y, spatial_first_on, monkeypatch):
    """One forward + backward in training mode; the module path when `spatial_first_on` is False."""
    with monkeypatch.context() as m:
        if not spatial_first_on:
            m.setattr(spatial_first, "applies", lambda *args: False)
        torch.manual_seed(1)  # the same dropout masks
        logits = model(x)
        F.cross_entropy(logits, y).backward()
    return logits


@pytest.mark.parametrize(("n_times", "sfreq", "widths"), [
    (800, 200.0, {}),                          # EEGMAT-like: K = 100 (even), T' = T + 1
    (256, 128.0, {"F1": 5, "D": 3, "F2": 7}),  # a pruned shape, K = 64
    (125, 250.0, {"kernel_length": 31}),       # odd kernel, T' = T
])
def test_training_step_matches_the_module_path(n_times, sfreq, widths, monkeypatch):
    torch.manual_seed(0)
    fast = EEGNet(eegnet_config(6, n_times, 3, sfreq, **widths)).train()
    with torch.no_grad():  # BatchNorm away from identity, inputs with an offset: both enter the statistics
        fast.bnorm_temporal.weight.uniform_(0.5, 1.5)
        fast.bnorm_temporal.bias.uniform_(-0.5, 0.5)
    slow = copy.deepcopy(fast)
    x, y = torch.randn(16, 6, n_times) * 3 + 1.0, torch.randint(0, 3, (16,))
    torch.testing.assert_close(_step(fast, x, y, True, monkeypatch), _step(slow, x, y, False, monkeypatch),
                               rtol=1e-4, atol=1e-5)
    for (name, a), (_, b) in zip(fast.named_parameters(), slow.named_parameters()):
        scale = b.grad.abs().max().clamp(min=1e-3)  # γ, β of bnorm_temporal get ~0 gradients (bnorm_1 follows)
        assert (a.grad - b.grad).abs().max() / scale < 1e-3, name
    for (name, a), (_, b) in zip(fast.named_buffers(), slow.named_buffers()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize(("n_times", "sfreq", "widths"), [
    (800, 200.0, {}),
    (256, 128.0, {"F1": 5, "D": 3, "F2": 7}),
    (125, 250.0, {"kernel_length": 31}),
])
def test_inference_matches_the_module_path(n_times, sfreq, widths, monkeypatch):
    torch.manual_seed(0)
    model = EEGNet(eegnet_config(6, n_times, 3, sfreq, **widths))
    with torch.no_grad():  # trained-looking BatchNorm: affine away from identity, running statistics set
        bn = model.bnorm_temporal
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    model.eval()
    x = torch.randn(16, 6, n_times) * 3 + 1.0
    with torch.no_grad():
        modules = model(x)
    calls, original = [], spatial_first.temporal_bn_spatial_inference

    def counted(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(spatial_first, "temporal_bn_spatial_inference", counted)
    with torch.inference_mode():
        fast = model(x)
    assert calls, "inference mode did not take the spatial-first path"
    torch.testing.assert_close(fast, modules, rtol=1e-4, atol=1e-5)


def test_evaluation_and_frozen_batchnorm_use_the_modules():
    model = build_model({"name": "eegnet", **vars(eegnet_config(4, 128, 2, 128.0))})
    assert spatial_first.applies(model.conv_temporal, model.train().bnorm_temporal)
    assert not spatial_first.applies(model.conv_temporal, model.eval().bnorm_temporal)
    assert not spatial_first.inference_applies(model.conv_temporal, model.bnorm_temporal)  # no_grad: modules
    with torch.inference_mode():
        assert spatial_first.inference_applies(model.conv_temporal, model.bnorm_temporal)
        assert not spatial_first.inference_applies(model.conv_temporal, model.train().bnorm_temporal)
    model.train().bnorm_temporal.momentum = None  # cumulative averaging: left to BatchNorm
    assert not spatial_first.applies(model.conv_temporal, model.bnorm_temporal)
