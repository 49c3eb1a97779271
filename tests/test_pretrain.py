"""Masked EEG pretraining: targets, symmetric masks, pooling across datasets, the loss, checkpoints, the DAG."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from eegslim.atomic import read_json
from eegslim.models import build_model, labram_config
from eegslim.models.labram import Labram
from eegslim.models.masked import (MaskedEEGModel, encoder_config, fourier_spectrum, fourier_targets, load_encoder,
                                   symmetric_masks)
from eegslim.pretrain import PretrainConfig, patch_windows, pretrain
from eegslim.simulate.signals import band_noise, pink_noise
from eegslim.stages import pretrain as pretrain_stage
from eegslim.stages import split as split_stage
from eegslim.stages import train as train_stage
from eegslim.store import WindowWriter
from smk import REPO, snakemake


def eeg_windows(seed: int, n: int, ch_names: list[str], n_times: int, sfreq: float, y=None) -> np.ndarray:
    """EEG-like windows (n, C, T): a 1/f background plus an alpha rhythm whose power differs by channel."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, len(ch_names), n_times), np.float32)
    for i in range(n):
        for c in range(len(ch_names)):
            alpha = (0.5 + c / len(ch_names)) * (1.5 if y is not None and y[i] else 1.0)
            X[i, c] = 0.3 * (pink_noise(rng, n_times, sfreq) + alpha * band_noise(rng, n_times, sfreq, 8, 12))
    return X


def write_dataset(tmp_path, name: str, ch_names: list[str], sfreq: float, window_s: float, n_subjects: int = 6,
                  per_subject: int = 8):
    """A windows.h5 + subject-wise splits.json of EEG-like windows, two classes; returns (h5, split)."""
    h5, split = tmp_path / name / "windows.h5", tmp_path / name / "splits.json"
    n_times = round(window_s * sfreq)
    with WindowWriter(h5, ch_names, sfreq, ["a", "b"], name, {}) as writer:
        for s in range(n_subjects):
            y = np.arange(per_subject) % 2
            X = eeg_windows(100 * s + len(name), per_subject, ch_names, n_times, sfreq, y)
            writer.append(X, y, subject=f"s{s}", session="1", recording=f"s{s}.edf")
    split_stage.run(h5, split, val_fraction=0.2, test_fraction=0.34, seed=0)
    return h5, split


# ---- targets and masks ------------------------------------------------------------------------------------

def test_fourier_targets_of_a_known_sinusoid():
    sfreq, P, f, amp, phi = 200.0, 200, 10.0, 3.0, 0.7
    t = np.arange(P) / sfreq
    patch = torch.tensor(amp * np.sin(2 * np.pi * f * t + phi), dtype=torch.float32).view(1, 1, P)
    amplitude, phase = fourier_spectrum(patch)
    k = int(f * P / sfreq)                                     # bin 10
    assert amplitude.shape == (1, 1, P // 2 + 1)
    assert amplitude[0, 0].argmax().item() == k
    assert amplitude[0, 0, k].item() == pytest.approx(amp * P / 2, rel=1e-4)   # |X_k| of A sin = A P / 2
    assert phase[0, 0, k].item() == pytest.approx(phi - math.pi / 2, abs=1e-4)  # sin = cos shifted by -pi/2
    others = torch.cat((amplitude[0, 0, :k], amplitude[0, 0, k + 1:]))
    assert others.max().item() < 1e-3 * amp * P
    amp_z, phase_z = fourier_targets(patch.repeat(1, 3, 1) * torch.tensor([1.0, 2.0, 0.5]).view(1, 3, 1))
    for z in (amp_z, phase_z):                                  # z-scored per sample over patches and bins
        assert z.mean().item() == pytest.approx(0.0, abs=1e-5)
        assert z.std().item() == pytest.approx(1.0, abs=1e-3)
    assert amp_z[0, 1].argmax().item() == k and amp_z[0, 1, k] > amp_z[0, 0, k] > amp_z[0, 2, k]


@pytest.mark.parametrize(("n_tokens", "ratio"), [(244, 0.5), (7, 0.5), (30, 0.3)])
def test_symmetric_masks_cover_every_patch_exactly_once(n_tokens, ratio):
    mask, complement = symmetric_masks(16, n_tokens, ratio, torch.Generator().manual_seed(0))
    assert mask.dtype == torch.bool and mask.shape == (16, n_tokens)
    assert torch.all(mask ^ complement) and not torch.any(mask & complement)
    assert torch.all(mask.sum(1) == round(ratio * n_tokens))
    assert len({tuple(row.tolist()) for row in mask}) > 1          # each sample draws its own mask


# ---- pooling and the loop ---------------------------------------------------------------------------------

def test_patch_windows_resamples_chunks_and_pads():
    sleep = patch_windows("sleep", np.zeros((3, 2, 3000), np.float32), 100.0, ["Fpz-Cz", "Pz-Oz"], 200, 200.0, 16)
    assert sleep.X.shape == (6, 2, 15 * 200) and sleep.n_patches == 15      # 30 s at 200 Hz = 2 chunks of 15 s
    assert sleep.rows.tolist()[0] == 0 and len(sleep.rows) == 3
    short = patch_windows("img", np.ones((4, 3, 220), np.float32), 500.0, ["EEG001", "EEG002", "EEG003"], 200,
                          200.0, 16)
    assert short.X.shape == (4, 3, 200) and short.n_patches == 1             # 88 samples, zero-padded to a patch
    assert short.X[..., 95:].abs().max() == 0 and short.rows.tolist() == [0, 1, 2, 3]   # positional rows


def test_pretraining_loss_falls_on_eeg_like_windows():
    ch_a, ch_b = ["Fp1", "Fp2", "C3", "C4", "O1", "O2"], ["Cz", "Pz"]
    sets = [patch_windows("a", eeg_windows(1, 48, ch_a, 400, 200.0), 200.0, ch_a, 200, 200.0, 16),
            patch_windows("b", eeg_windows(2, 48, ch_b, 300, 100.0), 100.0, ch_b, 200, 200.0, 16)]
    torch.manual_seed(0)
    model = MaskedEEGModel(Labram(encoder_config("tiny", drop_path=0.0)))
    cfg = PretrainConfig(epochs=6, batch_size=16, lr=2e-3, warmup_epochs=1, device="cpu")
    history = pretrain(model, sets, sets[:1], cfg)
    assert history["windows"] == {"a": 48, "b": 48}
    assert all(math.isfinite(v) for v in history["train_loss"])
    assert history["train_loss"][-1] < 0.85 * history["train_loss"][0], history["train_loss"]
    assert history["val_loss"][-1] < history["val_loss"][0]


def _tiny_sets():
    ch = ["C3", "Cz", "C4"]
    return [patch_windows("a", eeg_windows(3, 12, ch, 400, 200.0), 200.0, ch, 200, 200.0, 16)]


def test_pretrain_is_deterministic_on_cpu_for_a_seed():
    """Same seed, same losses (drop path and masks included); deterministic kernels are on while it trains."""
    cfg = PretrainConfig(epochs=2, batch_size=4, lr=1e-3, drop_path=0.1, device="cpu", seed=5)
    runs, flags = [], []
    for seed in (5, 5, 6):
        torch.manual_seed(0)
        model = MaskedEEGModel(Labram(encoder_config("tiny", drop_path=0.1)))
        model.register_forward_pre_hook(lambda *_: flags.append(torch.are_deterministic_algorithms_enabled()))
        history = pretrain(model, _tiny_sets(), _tiny_sets(), PretrainConfig(**{**cfg.__dict__, "seed": seed}))
        runs.append(history["train_loss"] + history["val_loss"])
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert flags and all(flags) and not torch.are_deterministic_algorithms_enabled()


def test_pretrain_logs_progress_within_long_epochs(monkeypatch, caplog):
    """With the progress interval at 0, every batch but an epoch's last is logged; epochs are logged too."""
    import eegslim.train

    monkeypatch.setattr(eegslim.train, "PROGRESS_S", 0.0)
    model = MaskedEEGModel(Labram(encoder_config("tiny", drop_path=0.0)))
    with caplog.at_level("INFO", logger="eegslim.pretrain"):
        pretrain(model, _tiny_sets(), [], PretrainConfig(epochs=1, batch_size=4, device="cpu"))
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split("  train")[0] for m in messages if "batch" in m] == ["pretrain epoch 1/1  batch 1/3",
                                                                        "pretrain epoch 1/1  batch 2/3"]
    assert sum(m.startswith("pretrain epoch 1/1  train loss") for m in messages) == 1


# ---- checkpoints ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """The pretrain stage on two small datasets with different channel sets and rates."""
    root = tmp_path_factory.mktemp("pretrain")
    files = {}
    for name, chans, sfreq, window_s in (("rest", ["Fp1", "Fp2", "C3", "C4", "O1"], 200.0, 2),
                                         ("sleep", ["Fpz-Cz", "Pz-Oz"], 100.0, 4)):
        h5, split = write_dataset(root, name, chans, sfreq, window_s)
        files[name] = {"windows": h5, "split": split}
    out = root / "out"
    history = pretrain_stage.run(files, out, "tiny", {"patch_size": 200}, {"epochs": 2, "batch_size": 8})
    return {"root": root, "files": files, "out": out, "history": history}


def test_pretrain_stage_reads_only_train_parts_and_writes_checkpoint(pretrained):
    out, files = pretrained["out"], pretrained["files"]
    history = read_json(out / "history.json")
    for name, f in files.items():
        split = read_json(f["split"])
        assert history["windows"][name] == len(split["train"])
        assert history["val_windows"][name] == len(split["val"])
    assert len(history["train_loss"]) == 2 and history["datasets"] == ["rest", "sleep"]
    arch = read_json(out / "arch.json")
    assert arch["name"] == "labram" and arch["size"] == "tiny" and arch["pretrained_on"] == ["rest", "sleep"]


def test_pretrained_checkpoint_loads_into_finetune_without_missing_or_unexpected_keys(pretrained):
    net = Labram(labram_config("tiny", 19, 800, 2, ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4",
                                                     "T5", "T6", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz"]))
    report = load_encoder(net, pretrained["out"])
    assert report["unexpected"] == []
    assert sorted(report["missing"]) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    from safetensors.torch import load_file
    saved = load_file(str(pretrained["out"] / "model.safetensors"))
    for key in ("patch_embed.conv1.weight", "pos_embed", "blocks.1.attn.qkv.weight", "blocks.0.gamma_2"):
        assert torch.equal(net.state_dict()[key], saved[key])
    with pytest.raises(ValueError, match="encoder differs"):
        load_encoder(Labram(labram_config("base", 2, 200, 2, ["C3", "C4"])), pretrained["out"])


def test_finetune_stage_starts_from_the_pretrained_encoder(pretrained, tmp_path):
    files = pretrained["files"]["rest"]
    model_cfg = {"size": "tiny", "init": "pretrained", "pretrained_path": None, "patch_size": 200}
    train_cfg = {"epochs": 1, "batch_size": 8, "lr": 1e-3}
    record = train_stage.run("rest", "labram_pt", files["windows"], files["split"], tmp_path, model_cfg, train_cfg,
                             seed=0, pretrained=pretrained["out"] / "model.safetensors")
    assert record["model"] == "labram_pt" and read_json(tmp_path / "arch.json")["name"] == "labram"
    build_model(read_json(tmp_path / "arch.json"))                      # rebuilds as a plain labram
    with pytest.raises(ValueError, match="pretrained_path or the pretrain rule"):
        train_stage.run("rest", "labram_pt", files["windows"], files["split"], tmp_path / "x", model_cfg,
                        train_cfg, seed=0)


def test_finetune_stage_passes_allowed_globals_to_the_checkpoint_loader(pretrained, tmp_path):
    """labram.allowed_globals reaches load_pretrained: a checkpoint with pickled args loads only with it."""
    import argparse

    from eegslim.io.pth import UnsafePickleError

    files = pretrained["files"]["rest"]
    state = Labram(labram_config("tiny", 5, 400, 2, ["Fp1", "Fp2", "C3", "C4", "O1"])).state_dict()
    ckpt = tmp_path / "labram-tiny.pth"
    torch.save({"model": {f"student.{k}": v for k, v in state.items()}, "args": argparse.Namespace(lr=1)}, ckpt)
    model_cfg = {"size": "tiny", "init": "pretrained", "pretrained_path": str(ckpt), "patch_size": 200}
    train_cfg = {"epochs": 1, "batch_size": 8}
    with pytest.raises(UnsafePickleError, match="argparse.Namespace"):
        train_stage.run("rest", "labram_pt", files["windows"], files["split"], tmp_path / "a", model_cfg, train_cfg,
                        seed=0)
    record = train_stage.run("rest", "labram_pt", files["windows"], files["split"], tmp_path / "b",
                             {**model_cfg, "allowed_globals": ["argparse.Namespace"]}, train_cfg, seed=0)
    assert record["model"] == "labram_pt" and "allowed_globals" not in read_json(tmp_path / "b/arch.json")


# ---- a common channel set (pretrain.channels) -------------------------------------------------------------

def test_pooled_channels_keeps_common_or_listed_names_and_names_the_lacking_dataset():
    lists = {"rest": ["Fp1", "Fp2", "C3", "Cz"], "mmi": ["Cz", "C3", "O1"]}
    assert pretrain_stage.pooled_channels(None, lists) is None
    assert pretrain_stage.pooled_channels("common", lists) == ["C3", "Cz"]
    assert pretrain_stage.pooled_channels(["CZ", "EEG C3-REF"], lists) == ["Cz", "C3"]
    with pytest.raises(ValueError, match=r"dataset 'mmi' lacks \['Fp1'\]"):
        pretrain_stage.pooled_channels(["Cz", "Fp1"], lists)
    with pytest.raises(ValueError, match="pretrain.channels 'common'.*share no channel"):
        pretrain_stage.pooled_channels("common", {**lists, "sleep": ["Fpz-Cz"]})


@pytest.mark.parametrize(("channels", "expected"), [(None, {"rest": 5, "mmi": 4}), ("common", {"rest": 3, "mmi": 3}),
                                                    (["O1"], {"rest": 1, "mmi": 1})])
def test_pretrain_stage_restricts_pooled_windows_before_patching(tmp_path, monkeypatch, channels, expected):
    files = {}
    for name, chans in (("rest", ["O1", "C3", "Pz", "Cz", "Oz"]), ("mmi", ["Cz", "Fp1", "C3", "O1"])):
        h5, split = write_dataset(tmp_path, name, chans, 200.0, 1, n_subjects=3, per_subject=2)
        files[name] = {"windows": h5, "split": split}
    seen = {}
    monkeypatch.setattr(pretrain_stage, "pretrain_and_save", lambda train, val, *a, **k: seen.update(
        {s.name: s for s in train}))
    pretrain_stage.run(files, tmp_path / "out", "tiny", {"patch_size": 200}, {"epochs": 1}, channels=channels)
    assert {name: s.X.shape[1] for name, s in seen.items()} == expected
    if channels == "common":                       # same channels in the same order: the same embedding rows
        assert torch.equal(seen["rest"].rows, seen["mmi"].rows)


def test_pooled_pretraining_leaves_out_datasets_without_10_20_names(tmp_path, monkeypatch, caplog):
    """Channels named `EEG 000`... are embedded by position and would share rows with real electrodes: left out of
    a pool (with a warning naming them), kept when pretrained alone, an error when no pooled dataset has names."""
    files = {}
    for name, chans in (("rest", ["O1", "Cz"]), ("tutorial", ["EEG 000", "EEG 001"]), ("array", ["E1", "E2"])):
        h5, split = write_dataset(tmp_path, name, chans, 200.0, 1, n_subjects=3, per_subject=2)
        files[name] = {"windows": h5, "split": split}
    seen = {}
    monkeypatch.setattr(pretrain_stage, "pretrain_and_save", lambda train, val, *a, **k: seen.update(
        {s.name: s for s in train}))
    with caplog.at_level("WARNING", logger="eegslim.stages.pretrain"):
        pretrain_stage.run(files, tmp_path / "out", "tiny", {"patch_size": 200}, {"epochs": 1})
    assert set(seen) == {"rest"}
    assert "leaving out ['array', 'tutorial']" in caplog.text
    seen.clear()
    pretrain_stage.run({"tutorial": files["tutorial"]}, tmp_path / "out", "tiny", {"patch_size": 200}, {"epochs": 1})
    assert set(seen) == {"tutorial"}
    with pytest.raises(ValueError, match=r"no pooled dataset has 10-20 channel names \(\['array', 'tutorial'\]\)"):
        pretrain_stage.run({k: files[k] for k in ("tutorial", "array")}, tmp_path / "out", "tiny",
                           {"patch_size": 200}, {"epochs": 1})


def test_pretrain_stage_refuses_a_listed_channel_one_dataset_lacks(tmp_path):
    files = {}
    for name, chans in (("rest", ["O1", "Cz"]), ("mmi", ["Cz", "C3"])):
        h5, split = write_dataset(tmp_path, name, chans, 200.0, 1, n_subjects=3, per_subject=2)
        files[name] = {"windows": h5, "split": split}
    with pytest.raises(ValueError, match=r"dataset 'mmi' lacks \['O1'\]"):
        pretrain_stage.run(files, tmp_path / "out", "tiny", {"patch_size": 200}, {"epochs": 1}, channels=["Cz", "O1"])


@pytest.mark.parametrize(("value", "valid"), [(None, True), ("common", True), (["Cz", "C3"], True), ("all", False),
                                              ([], False), (["Cz", "Cz"], False)])
def test_schema_accepts_only_null_common_or_a_channel_list(value, valid):
    import yaml

    from eegslim.config import config_errors

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["pretrain"]["channels"] = value
    errors = config_errors(cfg, REPO / "workflow/schemas/config.schema.yaml")
    assert (errors == []) is valid, errors
    assert valid or any("pretrain.channels" in e for e in errors)


# ---- the DAG ----------------------------------------------------------------------------------------------

def rule_edges(output: str) -> set[tuple[str, str]]:
    """(upstream rule, downstream rule) pairs of `snakemake --rulegraph mermaid-js`."""
    names = dict(re.findall(r"(id\d+)\[(\w+)\]", output))
    return {(names[a], names[b]) for a, b in re.findall(r"(id\d+) --> (id\d+)", output)}


@pytest.mark.parametrize(("overlay", "expected"), [
    ("models: [eegnet, labram]\n", False),
    ("models: [eegnet, labram, labram_pt]\n", True),
    ("models: [labram]\nlabram: {init: pretrained}\n", True),
    ("models: [labram_pt]\nlabram: {pretrained_path: CKPT}\n", False),
])
def test_dag_has_pretrain_before_finetune_only_when_pretrained(tmp_path, overlay, expected):
    ckpt = tmp_path / "labram-base.pth"
    ckpt.write_bytes(b"")
    path = tmp_path / "overlay.yaml"
    path.write_text(overlay.replace("CKPT", str(ckpt)) + "prune: {models: null}\n")  # prune every model
    proc = snakemake(tmp_path, "--rulegraph", "mermaid-js", "results/report.html", configs=(path,))
    edges = rule_edges(proc.stdout)
    assert (("pretrain", "finetune") in edges) is expected, edges
    assert (("pretrain", "report") in edges) is expected
    assert ("finetune", "prune") in edges


def planned_inputs(output: str, rule: str) -> dict[str, list[str]]:
    """Output path -> input paths of every `rule` job in a dry run's printout (keyed by the first output)."""
    jobs = re.findall(rf"^rule {rule}:\n((?:    .*\n)+)", output, flags=re.M)
    fields = [dict(re.findall(r"^    (\w+): (.*)$", job, flags=re.M)) for job in jobs]
    return {f["output"].split(", ")[0]: f["input"].split(", ") for f in fields}


def test_a_k_folded_pool_member_is_pretrained_once_per_fold_without_its_test_subjects(tmp_path):
    path = tmp_path / "overlay.yaml"
    path.write_text("models: [eegnet, labram_pt]\nprune: {models: [eegnet]}\nsensitivity: {ratios: []}\n"
                    "datasets: {demo_rest: {split: {protocol: kfold, n_folds: 3}}}\n")
    out = snakemake(tmp_path, "-n", "results/report.html", configs=(path,)).stdout
    pretrain, finetune = planned_inputs(out, "pretrain"), planned_inputs(out, "finetune")
    checkpoint = "results/pretrain/tiny/{}/model.safetensors"
    assert sorted(pretrain) == sorted(checkpoint.format(s) for s in ["all", *(f"demo_rest-fold{k}" for k in range(3))])
    for k in range(3):   # fold k's encoder reads fold k's split file (its train and val parts), no other fold's
        inputs = pretrain[checkpoint.format(f"demo_rest-fold{k}")]
        assert "results/demo_rest/splits/fold{}.json".format(k) in inputs and "results/demo_sleep/splits.json" in inputs
        assert not any(f"fold{j}.json" in i for i in inputs for j in range(3) if j != k)
        assert checkpoint.format(f"demo_rest-fold{k}") in finetune[f"results/demo_rest/labram_pt/baseline/fold{k}-seed0/"
                                                                  "model.safetensors"]
    assert checkpoint.format("all") in finetune["results/demo_sleep/labram_pt/baseline/seed0/model.safetensors"]
    assert "results/demo_rest/splits/fold0.json" in pretrain[checkpoint.format("all")]  # no demo_rest subject tested


def test_unknown_pretrain_dataset_names_the_key(tmp_path):
    path = tmp_path / "overlay.yaml"
    path.write_text("pretrain: {datasets: [demo_rest, nope]}\n")
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(path,), check=False)
    assert proc.returncode != 0 and "pretrain.datasets[1]" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("where", "label"), [("tiny/all", "tiny"), ("tiny/eegmat-fold2", "tiny eegmat-fold2"),
                                              ("tiny", "tiny")])
def test_report_labels_each_pretraining_history_by_size_and_scope(tmp_path, where, label):
    from eegslim.atomic import write_json
    from eegslim.stages.report import pretrain_history

    path = tmp_path / "pretrain" / where / "history.json"
    path.parent.mkdir(parents=True)
    write_json(path, {"size": "tiny", "train_loss": [1.0, 0.5]})
    assert pretrain_history(path)["label"] == label
