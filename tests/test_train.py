"""The training loop (both models learn, determinism, early stopping, hooks, lr schedule) and the train stage."""

import json
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from eegslim.metrics import METRIC_KEYS
from eegslim.models import arch_for, build_model
from eegslim.models.checkpoint import load_checkpoint
from eegslim.models.labram import drop_path
from eegslim.predictions import read_predictions
from eegslim.train import (Distillation, TrainConfig, _class_weights, evaluate, fit, lr_at, param_groups, predict,
                           resolve_device)

FREQS = (5.0, 11.0, 19.0)


def sine_windows(n, n_chans, n_times, sfreq, seed):
    """Class k = a sinusoid of FREQS[k] Hz (random phase and gain per channel) in unit white noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(FREQS), n)
    t = np.arange(n_times) / sfreq
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    X = np.sin(2 * np.pi * np.array(FREQS)[y][:, None, None] * t + phase) * rng.uniform(0.5, 1.5, (n, n_chans, 1))
    return (X + rng.normal(0, 1, (n, n_chans, n_times))).astype(np.float32), y


def _eegnet(seed=0):
    torch.manual_seed(seed)
    return build_model(arch_for("eegnet", {"F1": 4, "D": 2, "F2": 8}, 4, 256, 3, 128.0, ["C3", "CZ", "C4", "PZ"]))


def _labram(seed=0, **overrides):
    torch.manual_seed(seed)
    return build_model(arch_for("labram", {"size": "tiny", **overrides}, 3, 400, 3, 200.0, ["C3", "CZ", "C4"]))


@pytest.fixture(scope="module")
def eeg_data():
    X, y = sine_windows(500, 4, 256, 128.0, seed=0)
    return X[:300], y[:300], X[300:400], y[300:400], X[400:], y[400:]


@pytest.fixture(scope="module")
def labram_data():
    X, y = sine_windows(500, 3, 400, 200.0, seed=1)
    return X[:300], y[:300], X[300:400], y[300:400], X[400:], y[400:]


def test_eegnet_learns_sinusoids(eeg_data):
    X_tr, y_tr, X_va, y_va, X_te, y_te = eeg_data
    model = _eegnet()
    cfg = TrainConfig(epochs=15, batch_size=32, lr=3e-3, label_smoothing=0.1, class_weights=True, num_threads=2)
    history = fit(model, X_tr, y_tr, X_va, y_va, cfg, n_classes=3)
    assert history["best_val_balanced_accuracy"] >= 0.9
    assert evaluate(model, X_te, y_te, 3)["balanced_accuracy"] >= 0.9
    assert len(history["train_loss"]) == 15 and history["train_loss"][-1] < history["train_loss"][0]
    # max-norm held after training
    assert model.conv_spatial.weight.flatten(1).norm(dim=1).max() <= 1.0 + 1e-5
    assert model.classifier.weight.norm(dim=1).max() <= 0.25 + 1e-5


def test_labram_learns_sinusoids(labram_data):
    X_tr, y_tr, X_va, y_va, X_te, y_te = labram_data
    model = _labram()
    cfg = TrainConfig(epochs=10, batch_size=32, lr=2e-3, weight_decay=0.05, warmup_epochs=1, label_smoothing=0.1)
    history = fit(model, X_tr, y_tr, X_va, y_va, cfg, n_classes=3)
    assert history["best_val_balanced_accuracy"] >= 0.9
    assert evaluate(model, X_te, y_te, 3)["balanced_accuracy"] >= 0.9


def test_fit_is_deterministic(labram_data):
    """Bit-identical on CPU (CUDA has no deterministic kernels for every backward op)."""
    X_tr, y_tr, X_va, y_va, *_ = labram_data
    cfg = TrainConfig(epochs=2, batch_size=50, lr=1e-3, seed=7, layer_decay=0.65, weight_decay=0.05, device="cpu")
    states = []
    for _ in range(2):
        model = _labram(seed=3)                     # drop_path 0.1 and shuffling both use the seed
        fit(model, X_tr[:150], y_tr[:150], X_va, y_va, cfg, n_classes=3)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    other = _labram(seed=3)
    fit(other, X_tr[:150], y_tr[:150], X_va, y_va, TrainConfig(**{**cfg.__dict__, "seed": 8}), n_classes=3)
    assert not torch.equal(other.head.weight, states[0]["head.weight"])


def test_early_stopping_restores_best_epoch(eeg_data):
    X_tr, y_tr, X_va, y_va, *_ = eeg_data
    model = _eegnet()
    steps = []

    def wreck_after_epoch_12(m):                   # 300 windows / 30 = 10 steps per epoch
        steps.append(1)
        if len(steps) > 120:
            with torch.no_grad():
                for p in m.parameters():
                    p.zero_()

    cfg = TrainConfig(epochs=40, batch_size=30, lr=3e-3, patience=15, select="best_val")  # no stop before the wreck
    history = fit(model, X_tr, y_tr, X_va, y_va, cfg, n_classes=3, post_step=[wreck_after_epoch_12])
    assert history["stopped_early"] and len(history["epoch"]) == history["best_epoch"] + 15
    assert history["best_epoch"] <= 12 and max(history["val_balanced_accuracy"][12:]) < 0.5
    assert len(steps) == 10 * len(history["epoch"])
    restored = evaluate(model, X_va, y_va, 3)["balanced_accuracy"]
    assert restored == history["best_val_balanced_accuracy"] >= 0.8
    assert predict(model, X_va[:7]).shape == (7,)


def _wrecked_run(eeg_data, select, patience=None):
    """A 6-epoch run whose val score peaks early: every parameter is zeroed from step 31 (epoch 4) on.
    Returns (history, final state_dict, the state_dict at the end of every epoch)."""
    X_tr, y_tr, X_va, y_va, *_ = eeg_data
    model, steps, states = _eegnet(), [], {}

    def wreck_after_epoch_3(m):                     # 300 windows / 30 = 10 steps per epoch
        steps.append(1)
        if len(steps) > 30:
            with torch.no_grad():
                for p in m.parameters():
                    p.zero_()

    def keep(m, epoch):
        states[epoch] = {k: v.detach().clone() for k, v in m.state_dict().items()}

    cfg = TrainConfig(epochs=6, batch_size=30, lr=3e-3, patience=patience, select=select)
    history = fit(model, X_tr, y_tr, X_va, y_va, cfg, n_classes=3, post_step=[wreck_after_epoch_3],
                  epoch_end=[keep])
    return history, model.state_dict(), states


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_select_last_keeps_the_final_epochs_weights_and_ignores_patience(eeg_data, caplog):
    with caplog.at_level("INFO", logger="eegslim.train"):
        history, final, states = _wrecked_run(eeg_data, "last", patience=1)
    bacc = history["val_balanced_accuracy"]
    assert max(bacc[:3]) > bacc[-1] + 0.3                          # val peaked before the wreck
    assert history["epoch"] == [1, 2, 3, 4, 5, 6] and not history["stopped_early"]   # patience 1 ignored
    assert (history["select"], history["best_epoch"], history["best_val_balanced_accuracy"]) == ("last", 6, bacc[-1])
    assert _same(final, states[6]) and not _same(final, states[bacc.index(max(bacc)) + 1])
    assert caplog.text.count("patience 1 ignored") == 1 and "early stop:" not in caplog.text
    assert set(history) == {"epoch", "train_loss", "val_balanced_accuracy", "lr", "seconds", "select", "best_epoch",
                            "best_val_balanced_accuracy", "stopped_early"}


def test_select_best_val_restores_the_best_epoch_as_before(eeg_data):
    history, final, states = _wrecked_run(eeg_data, "best_val", patience=2)
    bacc = history["val_balanced_accuracy"]
    assert history["select"] == "best_val" and history["best_epoch"] == bacc.index(max(bacc)) + 1 <= 3
    assert history["stopped_early"] and len(bacc) == history["best_epoch"] + 2
    assert _same(final, states[history["best_epoch"]])
    assert TrainConfig().select == "last"  # the default, chosen on EEGMAT-24 (BENCHMARKS.md)


def test_select_refuses_an_unknown_value():
    with pytest.raises(ValueError, match="select must be one of best_val, last, got 'best'"):
        TrainConfig.from_dict({"select": "best"})
    with pytest.raises(ValueError, match="select must be one of best_val, last, got None"):
        TrainConfig(select=None)


def test_select_last_under_prune_recovery_keeps_the_final_epoch():
    """recover() passes the gradual schedule's `eligible` to fit; under select last the final epoch is kept."""
    from eegslim.prune import PruneContext, prune_model, recover

    X, y = sine_windows(64, 4, 256, 128.0, seed=3)
    arch = arch_for("eegnet", {"F1": 4, "D": 2, "F2": 8}, 4, 256, 3, 128.0, ["C3", "CZ", "C4", "PZ"])
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=4, batch_size=16, lr=1e-2, patience=1, num_threads=1, select="last")
    result = prune_model(build_model(arch), arch, "magnitude_global", 0.5, PruneContext(schedule="gradual", epochs=4))
    states, epoch_end = {}, result.dynamic.epoch_end

    def keep(model, epoch):
        epoch_end(model, epoch)
        states[epoch] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    result.dynamic.epoch_end = keep
    final, history = recover(result, X[:48], y[:48], X[48:], y[48:], cfg, 3, "finetune", seed=0)
    assert (history["select"], history["best_epoch"], len(history["epoch"])) == ("last", 4, 4)
    assert _same(final.model.state_dict(), states[4])


def test_param_groups_layer_decay_and_no_weight_decay():
    model = _labram(depth=3, num_heads=[4, 4, 4], mlp_hidden=[400, 0, 400])
    groups = param_groups(model, weight_decay=0.05, layer_decay=0.5)
    by_param = {id(p): g for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    scale = {name: by_param[id(p)]["lr_scale"] for name, p in named.items()}
    decay = {name: by_param[id(p)]["weight_decay"] for name, p in named.items()}
    assert scale["cls_token"] == scale["pos_embed"] == scale["patch_embed.conv1.weight"] == 0.5 ** 4
    assert scale["blocks.0.attn.qkv.weight"] == 0.5 ** 3 and scale["blocks.2.mlp.fc1.weight"] == 0.5
    assert scale["time_embed"] == scale["head.weight"] == scale["fc_norm.weight"] == 1.0
    assert decay["blocks.1.attn.qkv.weight"] == decay["head.weight"] == 0.05
    assert all(decay[k] == 0.0 for k in ("pos_embed", "cls_token", "time_embed", "head.bias", "blocks.0.gamma_1",
                                          "blocks.0.norm1.weight"))
    assert sum(len(g["params"]) for g in groups) == len(named)
    with pytest.raises(ValueError, match="layer_decay"):
        param_groups(_eegnet(), 0.0, 0.65)


def test_lr_schedule_warmup_then_cosine():
    lrs = [lr_at(s, 100, 10, 1e-3, 1e-6) for s in range(101)]
    assert lrs[0] == 1e-6 and math.isclose(lrs[10], 1e-3) and math.isclose(lrs[100], 1e-6)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11])) and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert math.isclose(lrs[55], (1e-3 + 1e-6) / 2)


def test_train_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="lrate"):
        TrainConfig.from_dict({"lrate": 0.1})


def test_stage_train_writes_model_dir(tmp_path):
    from eegslim.stages import split as split_stage
    from eegslim.stages import train as train_stage
    from eegslim.store import WindowWriter

    X, y = sine_windows(240, 4, 256, 128.0, seed=2)
    h5 = tmp_path / "windows.h5"
    with WindowWriter(h5, ["C3", "CZ", "C4", "PZ"], 128.0, ["a", "b", "c"], "demo", {}) as writer:
        for s in range(6):
            rows = slice(40 * s, 40 * (s + 1))
            writer.append(X[rows], y[rows], subject=f"sub-{s}", session="1", recording=f"sub-{s}_run-1")
    split_stage.run(h5, tmp_path / "splits.json", 0.2, 0.2, seed=0)
    out = tmp_path / "eegnet" / "baseline"
    record = train_stage.run("demo", "eegnet", h5, tmp_path / "splits.json", out,
                             model_cfg={"F1": 4, "D": 2, "F2": 8, "dropout": 0.25},
                             train_cfg={"epochs": 2, "batch_size": 32, "lr": 3e-3, "num_threads": 2}, seed=0)
    assert sorted(p.name for p in out.iterdir()) == ["arch.json", "history.json", "metrics.json", "model.safetensors",
                                                     "predictions.npz"]
    metrics = json.loads((out / "metrics.json").read_text())
    preds = read_predictions(out / "predictions.npz")
    test = sorted(json.loads((tmp_path / "splits.json").read_text())["test"])
    assert preds.window.tolist() == test and np.array_equal(preds.y_true, y[test])
    assert preds.recording.tolist() == [f"sub-{int(w) // 40}_run-1" for w in test]
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(preds.y_true, preds.y_pred))
    assert metrics == record and set(METRIC_KEYS) <= set(metrics)
    assert (metrics["dataset"], metrics["model"], metrics["stage"], metrics["variant"]) == ("demo", "eegnet",
                                                                                           "baseline", "torch")
    assert metrics["method"] is None and metrics["n_test"] == 40 and metrics["n_classes"] == 3
    assert (metrics["split_protocol"], metrics["split_caveat"]) == ("subject", None)
    assert metrics["file_bytes"] == (out / "model.safetensors").stat().st_size > metrics["gzip_bytes"] > 0
    model, arch = load_checkpoint(out)
    assert arch["name"] == "eegnet" and arch["kernel_length"] == 64 and metrics["params"] == sum(
        p.numel() for p in model.parameters()) == metrics["nonzero_params"]
    assert metrics["macs"] > metrics["params"]  # every weight is used at least once per input
    assert len(json.loads((out / "history.json").read_text())["val_balanced_accuracy"]) == 2


def test_progress_is_logged_per_epoch_and_within_long_epochs(eeg_data, monkeypatch, caplog):
    """Every epoch is logged; a long epoch also logs the batch it has reached (here: every batch, PROGRESS_S 0)."""
    import eegslim.train

    X_tr, y_tr, X_va, y_va, *_ = eeg_data
    monkeypatch.setattr(eegslim.train, "PROGRESS_S", 0.0)
    with caplog.at_level("INFO", logger="eegslim.train"):
        fit(_eegnet(), X_tr, y_tr, X_va, y_va, TrainConfig(epochs=2, batch_size=30, patience=None), n_classes=3)
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("epoch ") and "val bacc" in m for m in messages) == 2
    assert any(m.startswith("epoch 1/2  batch 9/10  train loss") for m in messages), messages[:5]


def test_class_weights_are_inverse_frequency():
    y = torch.tensor([0] * 6 + [1] * 3 + [2])
    assert torch.allclose(_class_weights(y, 4), torch.tensor([10 / 24, 10 / 12, 10 / 4, 0.0]))   # n / (K * count)


@pytest.mark.parametrize("class_weights", [True, False])
def test_class_weights_and_label_smoothing_reach_the_loss(eeg_data, monkeypatch, class_weights):
    X_tr, y_tr, X_va, y_va, *_ = eeg_data
    y_imbalanced = np.where(np.arange(len(y_tr)) < 200, 0, y_tr)          # class 0 dominates
    seen, cross_entropy = [], torch.nn.functional.cross_entropy

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return cross_entropy(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    cfg = TrainConfig(epochs=1, batch_size=100, label_smoothing=0.2, class_weights=class_weights)
    fit(_eegnet(), X_tr, y_imbalanced, X_va, y_va, cfg, n_classes=3)
    assert len(seen) == 3 and all(kw["label_smoothing"] == 0.2 for kw in seen)
    expected = _class_weights(torch.as_tensor(y_imbalanced), 3) if class_weights else None
    for kw in seen:
        assert kw["weight"] is None if expected is None else torch.equal(kw["weight"], expected)
    if class_weights:
        assert expected[0] < 1 < expected[1]


def test_distillation_loss_is_hintons():
    """(1 − α)·CE + α·T²·KL(p_teacher ‖ p_student) at temperature T, written out with the probabilities."""
    teacher = _eegnet(seed=1)
    x = torch.as_tensor(sine_windows(8, 4, 256, 128.0, seed=3)[0])
    logits = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    hard = torch.tensor(0.7)
    distill = Distillation(teacher, alpha=0.3, temperature=4.0)
    with torch.no_grad():
        p_t = torch.softmax(teacher(x) / 4.0, 1)
    p_s = torch.softmax(logits / 4.0, 1)
    kl = (p_t * (p_t.log() - p_s.log())).sum(1).mean()
    assert float(distill.loss(x, logits, hard)) == pytest.approx(0.7 * 0.7 + 0.3 * 16 * float(kl), rel=1e-5)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    with torch.no_grad():
        same = teacher(x)
    assert float(Distillation(teacher, alpha=1.0).loss(x, same, hard)) == pytest.approx(0.0, abs=1e-6)
    assert float(Distillation(teacher, alpha=0.0).loss(x, logits, hard)) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="alpha"):
        Distillation(teacher, alpha=1.5)


def test_distillation_teaches_the_teachers_predictions(eeg_data):
    """On labels the teacher disagrees with, a student trained on the teacher's outputs alone (α = 1) follows the
    teacher; the same student trained on the labels alone (α = 0) does not."""
    X_tr, y_tr, X_va, y_va, X_te, _ = eeg_data
    teacher = _eegnet(seed=1)
    fit(teacher, X_tr, y_tr, X_va, y_va, TrainConfig(epochs=8, batch_size=50, lr=1e-2), n_classes=3)
    shuffled = np.random.default_rng(0).permutation(y_tr)                      # labels unrelated to the signal
    agreement = {}
    for alpha in (0.0, 1.0):
        student = _eegnet(seed=2)
        history = fit(student, X_tr, shuffled, X_va, y_va, TrainConfig(epochs=8, batch_size=50, lr=1e-2), 3,
                      distill=Distillation(teacher, alpha=alpha, temperature=2.0))
        agreement[alpha] = np.mean(predict(student, X_te) == predict(teacher, X_te))
        assert len(history["train_loss"]) == 8
    assert agreement[1.0] > 0.9 and agreement[1.0] > agreement[0.0] + 0.3, agreement


def test_drop_path_zeroes_whole_samples_in_training_only():
    x = torch.ones(2000, 5, 4)
    torch.manual_seed(0)
    out = drop_path(x, 0.3, training=True)
    per_sample = out.flatten(1)
    assert torch.all(per_sample == per_sample[:, :1])                   # a sample is kept or dropped whole
    assert per_sample[:, 0].unique().tolist() == pytest.approx([0.0, 1 / 0.7])     # kept ones rescaled
    assert (per_sample[:, 0] == 0).float().mean().item() == pytest.approx(0.3, abs=0.03)
    assert drop_path(x, 0.3, training=False) is x and drop_path(x, 0.0, training=True) is x


def test_drop_path_rates_rise_linearly_over_blocks_and_apply_in_training():
    model = _labram(depth=5, num_heads=4, mlp_hidden=400, drop_path=0.2)
    assert [b.drop for b in model.blocks] == pytest.approx(np.linspace(0, 0.2, 5).tolist())
    block = model.blocks[-1]
    x = torch.randn(1, 7, model.cfg.embed_dim).repeat(64, 1, 1)
    torch.manual_seed(0)
    block.train()
    assert not torch.allclose(block(x), block(x)[:1].expand_as(x))      # some samples lose a branch
    block.eval()
    assert torch.allclose(block(x), block(x)[:1].expand_as(x))


def test_resolve_device_auto_picks_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
