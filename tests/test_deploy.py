"""Deployment: ONNX export, int8 dynamic quantization, onnxruntime predictions, latency and size."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from eegslim.deploy import (OnnxModel, count_macs, cpu_flags, export_onnx, file_stats, latency_interleaved,
                            latency_ms, predict_onnx, quantize_dynamic_int8, size_stats)
from eegslim.models import arch_for, build_model, count_params

CH = ["FP1", "FP2", "C3", "C4", "O1", "O2"]
MODELS = {
    # (arch, input shape): EEGNet with 40 classes (11.7k params, most in the classifier), LaBraM tiny (258k)
    "eegnet": (arch_for("eegnet", {}, 22, 512, 40, 128, CH[:1] * 22), (22, 512)),
    "labram": (arch_for("labram", {"size": "tiny", "init_scale": 1.0}, 6, 400, 3, 200, CH), (6, 400)),
}


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request, tmp_path_factory):
    """(torch model, input shape, fp32 path, int8 dynamic path, test inputs X (200, C, T))."""
    arch, shape = MODELS[request.param]
    torch.manual_seed(0)
    model = build_model(arch).eval()
    out = tmp_path_factory.mktemp(request.param)
    fp32 = export_onnx(model, *shape, out / "fp32" / "model.onnx")
    int8 = quantize_dynamic_int8(fp32, out / "int8_dynamic" / "model.onnx")
    X = np.random.default_rng(0).standard_normal((200, *shape)).astype(np.float32)
    return model, shape, fp32, int8, X


def test_export_matches_torch_with_dynamic_batch(exported):
    model, shape, fp32, _, X = exported
    onnx.checker.check_model(str(fp32))
    assert onnx.load(str(fp32)).opset_import[0].version == 17
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()
    for batch_size in (1, 7, 64):                        # exported with batch 1; any batch runs
        assert np.abs(OnnxModel(fp32).logits(X, batch_size) - expected).max() < 1e-4
    assert np.array_equal(predict_onnx(fp32, X, batch_size=64), expected.argmax(1))


def test_int8_dynamic_is_smaller_and_agrees(exported):
    """Random weights, N(0,1) inputs: seen 0.95 (EEGNet, 40 classes) and 0.995 (LaBraM) agreement."""
    _, _, fp32, int8, X = exported
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"DynamicQuantizeLinear"} <= ops and ops & {"ConvInteger", "MatMulInteger"}
    assert file_stats(int8)["file_bytes"] < 0.5 * file_stats(fp32)["file_bytes"]
    agreement = float(np.mean(predict_onnx(int8, X, 64) == predict_onnx(fp32, X, 64)))
    assert agreement >= 0.8


def test_latency_positive(exported):
    _, shape, fp32, int8, _ = exported
    one = latency_ms(fp32, batch=1, n_chans=shape[0], n_times=shape[1], threads=1, repeats=3, warmup=1)
    assert one["median"] > 0 and one["iqr"] >= 0
    both = latency_interleaved({"fp32": fp32, "int8_dynamic": int8}, 4, *shape, repeats=3, warmup=1)
    assert set(both) == {"fp32", "int8_dynamic"} and all(v["median"] > 0 for v in both.values())


def test_size_stats_counts_params_zeros_and_macs():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6 * 100, 5))
    with torch.no_grad():
        model[1].weight[:, :10] = 0
    stats = size_stats(model, 6, 100)
    assert stats == {"params": 3005, "nonzero_params": 3005 - 50, "macs": 600 * 5}
    arch, shape = MODELS["labram"]
    labram = build_model(arch)
    assert size_stats(labram, *shape)["params"] == count_params(labram)
    # qkv goes through F.linear: counted (module hooks would miss it); pruning halves the MACs roughly
    e, tokens = labram.cfg.embed_dim, 1 + 6 * 2
    assert count_macs(labram, *shape) > tokens * 3 * 4 * 25 * e * labram.cfg.depth


def test_file_stats_and_cpu_flags(tmp_path):
    path = tmp_path / "zeros.bin"
    path.write_bytes(bytes(10_000))
    stats = file_stats(path)
    assert stats["file_bytes"] == 10_000 and 0 < stats["gzip_bytes"] < 200
    assert isinstance(cpu_flags(), list)


def test_quantize_stage_writes_variants(tmp_path):
    from eegslim.atomic import read_json, write_json
    from eegslim.metrics import METRIC_KEYS, metrics_record
    from eegslim.models.checkpoint import save_checkpoint
    from eegslim.splits import save_split, subject_split
    from eegslim.stages import quantize as stage
    from eegslim.store import WindowWriter

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6, 256)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    subjects = np.repeat([f"s{i}" for i in range(5)], 12)
    with WindowWriter(tmp_path / "windows.h5", CH, 128.0, ["a", "b", "c"], "toy", {}) as writer:
        for s in np.unique(subjects):
            writer.append(X[subjects == s], y[subjects == s], subject=s, session="1", recording=s)
    save_split(subject_split(subjects, y, 0.2, 0.2, seed=0), tmp_path / "splits.json")
    arch = arch_for("eegnet", {}, 6, 256, 3, 128, CH)
    model_dir = tmp_path / "pruned"
    save_checkpoint(build_model(arch), arch, model_dir)
    write_json(model_dir / "metrics.json", metrics_record(dataset="toy", model="eegnet", stage="prune",
                                                          method="l1_structured", ratio=0.5, recovery="none", seed=3))

    with pytest.raises(ValueError, match="int4.*fp32, int8_dynamic"):
        stage.run(model_dir, tmp_path / "windows.h5", tmp_path / "splits.json", tmp_path / "x", ["int4"], {})
    out = tmp_path / "onnx"
    records = stage.run(model_dir, tmp_path / "windows.h5", tmp_path / "splits.json", out,
                        ["fp32", "int8_dynamic"], {"latency_repeats": 3, "warmup": 1})
    assert sorted(p.name for p in out.iterdir()) == ["fp32", "int8_dynamic"]
    for variant in ("fp32", "int8_dynamic"):
        assert sorted(p.name for p in (out / variant).iterdir()) == ["metrics.json", "model.onnx"]
        saved = read_json(out / variant / "metrics.json")
        assert set(METRIC_KEYS) <= set(saved) and saved == records[variant]
        assert (saved["stage"], saved["source_stage"], saved["variant"], saved["method"], saved["seed"]) == \
            ("quantize", "prune", variant, "l1_structured", 3)
        assert saved["file_bytes"] == (out / variant / "model.onnx").stat().st_size
        for key in ("params", "macs", "gzip_bytes", "latency_ms_b1", "latency_iqr_ms_b1", "latency_ms_b64"):
            assert saved[key] > 0, key
        assert 0.0 <= saved["agreement_fp32"] <= 1.0 and saved["n_test"] == 12
    assert records["fp32"]["agreement_fp32"] == 1.0
