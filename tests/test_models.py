"""EEGNet and LaBraM: parameter counts from specs/models.md, shapes, key names, checkpoints."""

import math

import pytest
import torch

from eegslim.models import arch_for, build_model, count_params
from eegslim.models.checkpoint import file_sizes, load_checkpoint, save_checkpoint
from eegslim.models.eegnet import EEGNet, EEGNetConfig, eegnet_config
from eegslim.models.labram import Labram, channel_index, labram_config, load_pretrained

# specs/models.md §1.2: (C, T, N, K) -> params of EEGNet-8,2 / 4,2 / 8,1 (braindecode 1.8.1)
EEGNET_TABLE = [
    ((62, 500, 80, 64), (21376, 10664, 10928)),
    ((128, 440, 40, 64), (11512, 5712, 5976)),
    ((61, 1000, 2, 64), (3074, 1474, 1738)),
    ((61, 1000, 2, 125), (3562, 1718, 2226)),
    ((61, 1000, 2, 128), (3586, 1730, 2250)),
    ((2, 3000, 5, 64), (8581, 4229, 4493)),
    ((2, 3000, 5, 50), (8469, 4173, 4381)),
    ((64, 128, 4, 64), (2388, 1132, 1396)),
]
TUAB = ["FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
        "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ", "T1", "T2"]


@pytest.mark.parametrize(("shape", "counts"), EEGNET_TABLE)
def test_eegnet_param_counts_match_braindecode(shape, counts):
    C, T, N, K = shape
    for (F1, D), expected in zip([(8, 2), (4, 2), (8, 1)], counts):
        model = EEGNet(EEGNetConfig(C, T, N, F1=F1, D=D, F2=F1 * D, kernel_length=K))
        assert count_params(model) == expected
        assert model(torch.randn(3, C, T)).shape == (3, N)


def test_eegnet_layer_names_and_shapes():
    model = EEGNet(EEGNetConfig(62, 500, 80))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["conv_temporal.weight"] == (8, 1, 1, 64)
    assert shapes["conv_spatial.weight"] == (16, 1, 62, 1)
    assert shapes["conv_separable_depth.weight"] == (16, 1, 1, 16)
    assert shapes["conv_separable_point.weight"] == (16, 16, 1, 1)
    assert shapes["classifier.weight"] == (80, 16 * 15)
    assert {"bnorm_temporal.running_var", "bnorm_1.weight", "bnorm_2.bias"} <= set(shapes)
    assert model.bnorm_1.momentum == 0.1 and model.bnorm_1.eps == 1e-3


def test_eegnet_config_scales_with_sfreq():
    assert (eegnet_config(2, 3000, 5, 100).kernel_length, eegnet_config(2, 3000, 5, 128).pool1) == (50, 4)
    cfg = eegnet_config(19, 1000, 2, 250)
    assert (cfg.kernel_length, cfg.pool1, cfg.pool2) == (125, 8, 16)
    assert eegnet_config(19, 100, 2, 16).pool1 == 1
    assert eegnet_config(19, 1000, 2, 250, F1=4, pool2=4).pool2 == 4
    short = eegnet_config(62, 400, 80, 1000)  # EEG-ImageNet's 0.4 s crop at 1000 Hz
    assert short.kernel_length == 200 and short.final_length >= 4 and EEGNet(short)(torch.randn(2, 62, 400)).shape == (2, 80)
    with pytest.raises(ValueError, match="too short"):
        EEGNet(EEGNetConfig(2, 20, 2))


def test_eegnet_apply_constraints_caps_norms():
    model = EEGNet(EEGNetConfig(8, 256, 3))
    with torch.no_grad():
        model.conv_spatial.weight.mul_(50)
        model.classifier.weight.mul_(50)
        model.classifier.weight[0].fill_(1e-4)
    small_row = model.classifier.weight[0].clone()
    model.apply_constraints()
    spatial = model.conv_spatial.weight.flatten(1).norm(dim=1)
    rows = model.classifier.weight.norm(dim=1)
    assert torch.all(spatial <= 1.0 + 1e-5) and torch.allclose(spatial, torch.ones_like(spatial), atol=1e-4)
    assert torch.all(rows <= 0.25 + 1e-5)
    assert torch.equal(model.classifier.weight[0], small_row)     # rows under the cap are untouched


def test_labram_channel_index():
    assert channel_index(TUAB) == [0, 1, 3, 18, 22, 40, 44, 62, 66, 81, 83, 16, 24, 89, 91, 90, 92, 95, 96,
                                   20, 42, 64, 113, 114]
    assert channel_index(["fp1", "Cz", "ftt9H"]) == [0, 1, 42, 115]
    assert channel_index(["Fpz-Cz", "FP1-F7", "Pz-Oz", "FP1-F3"]) == [0, 2, 121, 64, 1]
    with pytest.raises(ValueError, match="'XYZ'"):
        channel_index(["Cz", "XYZ"])


def test_labram_base_backbone_count_and_sizes():
    model = Labram(labram_config("base", 23, 1000, 2, TUAB))
    assert model.cfg.embed_dim == 200
    assert count_params(model) - count_params(model.head) == 5_819_936
    qkv_bias = Labram(labram_config("base", 23, 1000, 2, TUAB, qkv_bias=True))
    assert count_params(qkv_bias) - count_params(qkv_bias.head) == 5_824_736
    tiny = labram_config("tiny", 19, 800, 3, TUAB[:19])
    assert (tiny.embed_dim, tiny.depth, tiny.num_heads, tiny.mlp_hidden) == (100, 2, [4, 4], [400, 400])
    large = labram_config("large", 19, 800, 3, TUAB[:19])
    assert (large.embed_dim, large.depth, large.head_dim) == (400, 16, 25)


def test_labram_large_backbone_count():
    """`large` = LaBraM-Large's width at 16 blocks: 30.9M backbone params (labram.py SIZES; models.md §2 lists
    only the 24-block Large, 46.3M)."""
    model = Labram(labram_config("large", 23, 1000, 2, TUAB))
    backbone = count_params(model) - count_params(model.head)
    assert backbone == 30_859_520 and math.isclose(backbone, 30.9e6, rel_tol=0.01)


def _fake_base_checkpoint(path):
    """A labram-base.pth-like pretraining checkpoint with exactly the key names and shapes of models.md §2.3."""
    E, hd = 200, 20
    state = {"student.cls_token": (1, 1, E), "student.mask_token": (1, 1, E), "student.pos_embed": (1, 129, E),
             "student.time_embed": (1, 16, E), "student.norm.weight": (E,), "student.norm.bias": (E,),
             "student.lm_head.weight": (8192, E), "student.lm_head.bias": (8192,),
             "lm_head.weight": (8192, E), "lm_head.bias": (8192,),
             "projection_head.0.weight": (E, E), "projection_head.0.bias": (E,)}
    for i, w in ((1, (8, 1, 1, 15)), (2, (8, 8, 1, 3)), (3, (8, 8, 1, 3))):
        state |= {f"student.patch_embed.conv{i}.weight": w, f"student.patch_embed.conv{i}.bias": (8,),
                  f"student.patch_embed.norm{i}.weight": (8,), f"student.patch_embed.norm{i}.bias": (8,)}
    for b in range(12):
        p = f"student.blocks.{b}."
        state |= {p + "gamma_1": (E,), p + "gamma_2": (E,), p + "norm1.weight": (E,), p + "norm1.bias": (E,),
                  p + "attn.qkv.weight": (3 * E, E), p + "attn.q_norm.weight": (hd,), p + "attn.q_norm.bias": (hd,),
                  p + "attn.k_norm.weight": (hd,), p + "attn.k_norm.bias": (hd,), p + "attn.proj.weight": (E, E),
                  p + "attn.proj.bias": (E,), p + "norm2.weight": (E,), p + "norm2.bias": (E,),
                  p + "mlp.fc1.weight": (4 * E, E), p + "mlp.fc1.bias": (4 * E,),
                  p + "mlp.fc2.weight": (E, 4 * E), p + "mlp.fc2.bias": (E,)}
    generator = torch.Generator().manual_seed(0)
    torch.save({"model": {k: torch.randn(s, generator=generator) * 0.02 for k, s in state.items()}}, path)
    return state


def test_labram_loads_base_checkpoint_key_names(tmp_path):
    state = _fake_base_checkpoint(tmp_path / "labram-base.pth")
    model = Labram(labram_config("base", 4, 400, 3, ["FP1", "FP2", "CZ", "O1"]))
    report = load_pretrained(model, tmp_path / "labram-base.pth")
    assert sorted(report["missing"]) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    assert set(report["unexpected"]) == {"mask_token", "norm.weight", "norm.bias", "lm_head.weight", "lm_head.bias"}
    ours = set(model.state_dict())
    assert {k.removeprefix("student.") for k in state if k.startswith("student.")} - ours == set(report["unexpected"])
    loaded = torch.load(tmp_path / "labram-base.pth", weights_only=True)["model"]
    assert torch.equal(model.blocks[11].mlp.fc2.weight, loaded["student.blocks.11.mlp.fc2.weight"])
    assert torch.isfinite(model(torch.randn(2, 4, 400))).all()


def test_labram_load_pretrained_refuses_incomplete(tmp_path):
    _fake_base_checkpoint(tmp_path / "full.pth")
    state = torch.load(tmp_path / "full.pth", weights_only=True)["model"]
    del state["student.blocks.3.attn.proj.weight"]
    torch.save({"model": state}, tmp_path / "partial.pth")
    model = Labram(labram_config("base", 2, 200, 2, ["C3", "C4"]))
    with pytest.raises(ValueError, match="blocks.3.attn.proj.weight"):
        load_pretrained(model, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="shapes"):
        load_pretrained(Labram(labram_config("tiny", 2, 200, 2, ["C3", "C4"])), tmp_path / "full.pth")


def test_labram_load_pretrained_refuses_pickled_args_unless_allowed(tmp_path):
    """A checkpoint with an argparse.Namespace (LaBraM saves its `args`) goes through the safe .pth loader."""
    import argparse

    from eegslim.io.pth import UnsafePickleError

    _fake_base_checkpoint(tmp_path / "full.pth")
    state = torch.load(tmp_path / "full.pth", weights_only=True)["model"]
    torch.save({"model": state, "args": argparse.Namespace(lr=5e-4)}, tmp_path / "args.pth")
    model = Labram(labram_config("base", 2, 200, 2, ["C3", "C4"]))
    with pytest.raises(UnsafePickleError, match=r"args\.pth: refused .*'argparse\.Namespace'.*labram\.allowed_globals"):
        load_pretrained(model, tmp_path / "args.pth")
    report = load_pretrained(model, tmp_path / "args.pth", allowed_globals=["argparse.Namespace"])
    assert torch.equal(model.blocks[0].attn.qkv.weight, state["student.blocks.0.attn.qkv.weight"])
    assert "head.weight" in report["missing"]


def test_labram_forward_shapes_and_patch_limits():
    model = Labram(labram_config("tiny", 3, 600, 5, ["C3", "CZ", "C4"])).eval()
    assert model(torch.randn(2, 3, 600)).shape == (2, 5)
    with pytest.raises(ValueError, match="max_patches"):
        labram_config("tiny", 3, 200 * 17, 5, ["C3", "CZ", "C4"])

    # a window that is not a whole number of patches is zero-padded: same output as padding by hand
    torch.manual_seed(0)
    short = Labram(labram_config("tiny", 3, 650, 5, ["C3", "CZ", "C4"])).eval()
    padded = Labram(labram_config("tiny", 3, 800, 5, ["C3", "CZ", "C4"])).eval()
    padded.load_state_dict(short.state_dict())
    x = torch.randn(2, 3, 650)
    torch.testing.assert_close(short(x), padded(torch.nn.functional.pad(x, (0, 150))))


def test_labram_unknown_channel_names_fall_back_to_positions():
    names = [f"EEG{i:03d}" for i in range(1, 6)]
    arch = arch_for("labram", {"size": "tiny"}, 5, 400, 3, 200.0, names)
    assert arch["channel_rows"] == [0, 1, 2, 3, 4, 5]
    assert build_model(arch)(torch.randn(1, 5, 400)).shape == (1, 3)
    assert arch_for("labram", {"size": "tiny"}, 2, 400, 3, 200.0, ["Cz", "Fpz-Cz"])["channel_rows"] is None


def test_labram_tokens_follow_original_layout():
    """Patch embedding flattens as 'B C NA T -> B NA (T C)' and embeddings are added channel-major."""
    torch.manual_seed(0)
    model = Labram(labram_config("tiny", 2, 400, 2, ["C3", "C4"], drop_path=0.0)).eval()
    x = torch.randn(1, 2, 400)
    patches = x.reshape(1, 4, 200)
    emb = model.patch_embed(patches)
    pe = model.patch_embed
    conv = torch.nn.functional.gelu(pe.norm1(pe.conv1(patches.unsqueeze(1))))
    conv = torch.nn.functional.gelu(pe.norm3(pe.conv3(torch.nn.functional.gelu(pe.norm2(pe.conv2(conv))))))
    assert torch.allclose(emb[0, 3].reshape(25, 4), conv[0, :, 3].T)       # (T, C) order inside a token
    # tokens entering block 0: CLS + pos row 0, then channel-major patches + pos row of the channel + time row
    seen = []
    model.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model(x)
    tokens, rows = seen[0][0], channel_index(["C3", "C4"])
    assert torch.allclose(tokens[0], model.cls_token[0, 0] + model.pos_embed[0, 0])
    for c, a in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        expected = emb[0, 2 * c + a] + model.pos_embed[0, rows[1 + c]] + model.time_embed[0, a]
        assert torch.allclose(tokens[1 + 2 * c + a], expected, atol=1e-6)


def test_labram_pruned_widths_build_and_run():
    cfg = labram_config("tiny", 3, 400, 4, ["C3", "CZ", "C4"], num_heads=[2, 4], mlp_hidden=[0, 50])
    model = Labram(cfg)
    block0, block1 = model.blocks
    assert block0.mlp is None and not hasattr(block0, "gamma_2") and "blocks.0.norm2.weight" not in model.state_dict()
    assert block0.attn.qkv.weight.shape == (3 * 2 * 25, 100) and block0.attn.proj.weight.shape == (100, 50)
    assert block1.mlp.fc1.weight.shape == (50, 100)
    out = model(torch.randn(2, 3, 400))
    assert out.shape == (2, 4)
    out.sum().backward()


@pytest.mark.parametrize("name", ["eegnet", "labram"])
def test_checkpoint_round_trip(tmp_path, name):
    chs = ["FP1", "FP2", "C3", "C4"]
    model_cfg = {"F1": 4, "D": 2, "F2": 8} if name == "eegnet" else {"size": "tiny", "num_heads": [2, 3]}
    arch = arch_for(name, model_cfg, 4, 400, 3, 200.0, chs)
    model = build_model(arch).eval()
    save_checkpoint(model, arch, tmp_path)
    loaded, arch2 = load_checkpoint(tmp_path)
    assert arch2 == arch
    x = torch.randn(5, 4, 400)
    assert torch.equal(model(x), loaded(x))
    size, gz = file_sizes(tmp_path / "model.safetensors")
    assert size == (tmp_path / "model.safetensors").stat().st_size and 0 < gz < size * 1.1
    assert not list(tmp_path.glob(".*tmp*"))


def test_build_model_rejects_unknown():
    with pytest.raises(ValueError, match="unknown model"):
        build_model({"name": "resnet"})
    with pytest.raises(ValueError, match="bogus"):
        build_model({"name": "eegnet", "n_chans": 2, "n_times": 256, "n_classes": 2, "bogus": 1})


def test_labram_init_follows_original():
    model = Labram(labram_config("tiny", 2, 200, 2, ["C3", "C4"]))
    assert math.isclose(model.head.weight.std().item(), 0.02 * 1e-3, rel_tol=0.3)
    assert torch.allclose(model.blocks[1].gamma_1, torch.full((100,), 0.1))
    ratio = (model.blocks[1].attn.proj.weight.std() / model.blocks[0].attn.proj.weight.std()).item()
    assert math.isclose(ratio, math.sqrt(2 / 4), rel_tol=0.1)
