"""The transformer recipe's options (issue 12): input normalisation inside the model (so torch, ONNX and int8
see the same transform), attention pooling, layer decay only for pretrained weights, the augmentations, and the
masked-modelling targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegslim.augment import AugmentConfig, Augmenter
from eegslim.deploy.latency import OnnxModel
from eegslim.deploy.onnx_export import export_onnx
from eegslim.deploy.quantize import quantize_dynamic_int8
from eegslim.models import arch_for, build_model
from eegslim.models.labram import normalize_input
from eegslim.models.masked import MaskedEEGModel, encoder_config, load_encoder, spectral_targets
from eegslim.models.labram import Labram
from eegslim.train import TrainConfig, fit, init_settings, param_groups

CH = ["Fp1", "Fp2", "C3", "C4", "O1", "O2"]


def labram(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(arch_for("labram", {"size": "tiny", "init_scale": 1.0, **overrides}, 6, 400, 2, 200, CH)).eval()


def eeg_windows(n: int = 16, seed: int = 0) -> np.ndarray:
    """Windows (n, 6, 400) at 200 Hz in 0.1 mV: a 10 Hz rhythm of channel-dependent size plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(400) / 200
    gain = np.array([0.5, 0.6, 1.0, 1.2, 2.0, 2.5])[None, :, None]
    x = gain * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 2 * np.pi, (n, 6, 1))) + rng.normal(0, 0.3, (n, 6, 400))
    return (0.2 * x + rng.normal(0, 0.1, (n, 6, 1))).astype(np.float32)   # per-channel offsets too


@pytest.mark.parametrize("how", ["channel_z", "window_z"])
def test_input_norm_is_part_of_the_model_in_torch_onnx_and_int8(how, tmp_path):
    """Raw windows go in everywhere: the exported and the int8 model apply the same normalisation as torch, so
    rescaling a window (a different amplifier gain) changes none of their outputs."""
    model = labram(input_norm=how)
    X = eeg_windows()
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()
        assert np.allclose(model(torch.from_numpy(7.5 * X)).numpy(), expected, atol=1e-4)
    fp32 = export_onnx(model, 6, 400, tmp_path / "fp32" / "model.onnx")
    onnx_logits = OnnxModel(fp32).logits(X, 8)
    assert np.abs(onnx_logits - expected).max() < 1e-4
    assert np.abs(OnnxModel(fp32).logits(7.5 * X, 8) - expected).max() < 1e-3
    int8 = quantize_dynamic_int8(fp32, tmp_path / "int8" / "model.onnx")
    int8_logits = OnnxModel(int8).logits(X, 8)
    assert np.corrcoef(int8_logits.ravel(), expected.ravel())[0, 1] > 0.95
    assert np.abs(OnnxModel(int8).logits(7.5 * X, 8) - int8_logits).max() < 0.1 * np.abs(expected).max()


def test_input_norm_none_keeps_the_scale_and_the_norms_do_what_they_say():
    x = torch.from_numpy(eeg_windows(4))
    assert torch.equal(normalize_input(x, "none"), x)
    z = normalize_input(x, "channel_z")
    assert torch.allclose(z.mean(-1), torch.zeros(4, 6), atol=1e-5)
    assert torch.allclose(z.pow(2).mean(-1), torch.ones(4, 6), atol=1e-3)
    w = normalize_input(x, "window_z")
    assert torch.allclose(w.pow(2).mean((-2, -1)), torch.ones(4), atol=1e-3)
    rms = (x - x.mean(-1, keepdim=True)).pow(2).mean(-1).sqrt()
    assert torch.allclose(w.pow(2).mean(-1).sqrt() / (rms / rms.pow(2).mean(-1, keepdim=True).sqrt()),
                          torch.ones(4, 6), atol=1e-3)            # relative channel amplitudes kept
    with pytest.raises(ValueError, match="input_norm"):
        labram(input_norm="zscore")


def test_attention_pool_runs_and_loads_a_pretrained_encoder(tmp_path):
    from safetensors.torch import save_file

    from eegslim.atomic import write_json
    from eegslim.models.masked import encoder_arch, encoder_state

    model = labram(pool="attention")
    assert model(torch.from_numpy(eeg_windows(3))).shape == (3, 2)
    assert "attn_pool.score.weight" in model.state_dict()
    masked = MaskedEEGModel(Labram(encoder_config("tiny")))
    save_file(encoder_state(masked), str(tmp_path / "model.safetensors"))
    write_json(tmp_path / "arch.json", encoder_arch(masked.encoder.cfg, "tiny"))
    result = load_encoder(model, tmp_path)
    assert "attn_pool.score.weight" in result["missing"]           # fresh, like head and fc_norm
    with pytest.raises(ValueError, match="input_norm"):
        load_encoder(labram(input_norm="window_z"), tmp_path)       # pretrained on other inputs


def test_layer_decay_applies_to_pretrained_weights_only_unless_asked():
    block = {"lr": 1e-3, "layer_decay": 0.65}
    assert init_settings(block, pretrained=True)["layer_decay"] == 0.65
    assert init_settings(block, pretrained=False)["layer_decay"] is None
    asked = init_settings({**block, "layer_decay_from_scratch": True}, pretrained=False)
    assert asked["layer_decay"] == 0.65 and "layer_decay_from_scratch" not in asked
    model = labram()
    cfg = TrainConfig.from_dict(init_settings(block, pretrained=False))
    assert {g["lr_scale"] for g in param_groups(model, 0.05, cfg.layer_decay)} == {1.0}
    scales = {g["lr_scale"] for g in param_groups(model, 0.05, 0.65)}
    assert min(scales) == pytest.approx(0.65 ** 3) and max(scales) == 1.0


def test_each_augmentation_is_deterministic_under_a_seed_and_does_what_it_says():
    x = torch.from_numpy(eeg_windows(8))
    y = torch.arange(8) % 2
    for cfg in (AugmentConfig(time_shift=0.25), AugmentConfig(amplitude=0.2), AugmentConfig(channel_dropout=0.3),
                AugmentConfig(mixup=0.4)):
        a, b, c = (Augmenter(cfg, seed)(x, y) for seed in (3, 3, 4))
        assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2]) and a[3] == b[3]
        assert not torch.equal(a[0], c[0])
    shifted = Augmenter(AugmentConfig(time_shift=0.25), 0)(x, y)[0]
    for i in range(8):   # a circular shift of at most 100 samples, the same for every channel of a window
        shifts = [k for k in range(-100, 101) if torch.equal(torch.roll(x[i], k, -1), shifted[i])]
        assert len(shifts) >= 1
    scaled = Augmenter(AugmentConfig(amplitude=0.2), 0)(x, y)[0]
    factor = scaled.flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
    assert ((factor >= 0.8 - 1e-6) & (factor <= 1.2 + 1e-6)).all() and factor.std() > 0
    dropped = Augmenter(AugmentConfig(channel_dropout=0.3), 0)(x, y)[0]
    zero = dropped.abs().sum(-1) == 0
    assert zero.any() and torch.equal(dropped[~zero], x[~zero])
    mixed, y_a, y_b, lam = Augmenter(AugmentConfig(mixup=0.4), 0)(x, y)
    partner = torch.randperm(8, generator=torch.Generator().manual_seed(0))    # the augmenter's only torch draw
    assert lam == pytest.approx(np.random.default_rng(0).beta(0.4, 0.4))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[partner]) and torch.equal(y_a, y)
    assert torch.equal(y_b, y[partner])
    with pytest.raises(ValueError, match="unknown keys"):
        AugmentConfig.from_dict({"shift": 0.1})


def test_augmentation_touches_training_batches_only(monkeypatch):
    """fit augments every training batch (batch_size windows) and never the validation or test windows."""
    seen = []
    original = Augmenter.__call__

    def spy(self, x, y):
        seen.append(len(x))
        return original(self, x, y)

    monkeypatch.setattr(Augmenter, "__call__", spy)
    X, y = eeg_windows(40), np.arange(40) % 2
    model = labram()
    cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-3, device="cpu",
                      augment={"time_shift": 0.25, "amplitude": 0.2, "channel_dropout": 0.1, "mixup": 0.4})
    fit(model, X[:32], y[:32], X[32:], y[32:], cfg, 2)
    assert seen == [8] * 8                                          # 4 steps x 2 epochs
    with torch.no_grad():
        first, second = model(torch.from_numpy(X[32:])), model(torch.from_numpy(X[32:]))
    assert torch.equal(first, second)


@pytest.mark.parametrize("target", ["amplitude_phase", "amplitude", "amplitude_cossin"])
def test_masked_targets_shapes_and_one_training_step(target):
    x = torch.from_numpy(eeg_windows(4))
    patches = x.reshape(4, 12, 200)
    first, second = spectral_targets(patches, target)
    assert first.shape == (4, 12, 101)
    assert (second is None) == (target == "amplitude")
    if second is not None:
        assert second.shape == (4, 12, 101 if target == "amplitude_phase" else 202)
    model = MaskedEEGModel(Labram(encoder_config("tiny", drop_path=0.0)), target)
    rows = torch.tensor([0, *range(1, 7)])
    mask = torch.zeros(4, 12, dtype=torch.bool)
    mask[:, ::2] = True
    loss = model.loss(x, rows, mask)
    loss.backward()
    assert torch.isfinite(loss) and model.amp_head.weight.grad is not None


def test_cossin_target_is_the_spectrum_and_ignores_phase_where_there_is_no_power():
    """Real and imaginary parts: a pure 10 Hz sinusoid has (near) zero target at every other bin whatever its
    phase, unlike the phase target, whose value there is noise."""
    t = torch.arange(200) / 200
    patches = torch.stack([torch.sin(2 * np.pi * 10 * t + p) for p in (0.0, 1.0, 2.0)]).view(1, 3, 200)
    _, cossin = spectral_targets(patches, "amplitude_cossin")
    off = torch.ones(101, dtype=torch.bool)
    off[10] = False
    raw = torch.cat([cossin[..., :101][..., off], cossin[..., 101:][..., off]], -1)
    assert raw.std() < 0.05 * cossin.abs().max()
    with pytest.raises(ValueError, match="target"):
        MaskedEEGModel(Labram(encoder_config("tiny")), "phase")


def test_schema_enums_are_the_code_lists():
    """The config schema offers exactly the input norms, poolings and pretraining targets the code knows."""
    import yaml

    from eegslim.models.labram import INPUT_NORMS, POOLS
    from eegslim.models.masked import TARGETS
    from smk import REPO

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["properties"]
    assert schema["labram"]["properties"]["input_norm"]["enum"] == list(INPUT_NORMS)
    assert schema["labram"]["properties"]["pool"]["enum"] == list(POOLS)
    assert schema["pretrain"]["properties"]["target"]["enum"] == list(TARGETS)
    augment = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["$defs"]["training"]
    assert set(augment["properties"]["augment"]["properties"]) == set(AugmentConfig.__dataclass_fields__)
