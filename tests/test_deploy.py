"""Deployment: ONNX export, int8 dynamic and static quantization, fp16, onnxruntime predictions, latency and size."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from eegslim.deploy.latency import OnnxModel, cpu_flags, latency_interleaved, latency_ms, predict_onnx
from eegslim.deploy.onnx_export import export_onnx
from eegslim.deploy.quantize import classifier_nodes, convert_fp16, quantize_dynamic_int8, quantize_static_int8
from eegslim.deploy.size import count_macs, file_stats, size_stats
from eegslim.models import arch_for, build_model, count_params
from eegslim.predictions import read_predictions

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
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops   # MatMul weights in int8 (both classifiers are MatMul)
    assert "Conv" in ops and "ConvInteger" not in ops              # convolutions stay fp32 (DYNAMIC_OPS)
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
    net = build_model(arch)
    save_checkpoint(net, arch, model_dir)
    sizes = size_stats(net, 6, 256)
    write_json(model_dir / "metrics.json", metrics_record(dataset="toy", model="eegnet", stage="prune",
                                                          method="l1_structured", ratio=0.5, recovery="none", seed=3,
                                                          **sizes))

    with pytest.raises(ValueError, match="int4.*fp32, int8_dynamic"):
        stage.run(model_dir, tmp_path / "windows.h5", tmp_path / "splits.json", tmp_path / "x", ["int4"], {})
    out = tmp_path / "onnx"
    records = stage.run(model_dir, tmp_path / "windows.h5", tmp_path / "splits.json", out,
                        ["fp32", "int8_dynamic"], {"latency_repeats": 3, "warmup": 1})
    assert sorted(p.name for p in out.iterdir()) == ["fp32", "int8_dynamic"]
    split = read_json(tmp_path / "splits.json")
    for variant in ("fp32", "int8_dynamic"):
        assert sorted(p.name for p in (out / variant).iterdir()) == ["metrics.json", "model.onnx", "predictions.npz"]
        saved = read_json(out / variant / "metrics.json")
        preds = read_predictions(out / variant / "predictions.npz")
        assert preds.window.tolist() == sorted(split["test"]) and np.array_equal(preds.y_true, y[preds.window])
        assert set(preds.subject) == set(split["subjects"]["test"]) and preds.proba.shape == (12, 3)
        np.testing.assert_allclose(preds.proba.sum(1), 1.0, rtol=1e-5)
        assert saved["accuracy"] == pytest.approx(np.mean(preds.y_pred == preds.y_true))
        assert np.array_equal(preds.y_pred, predict_onnx(out / variant / "model.onnx", X[preds.window]))
        assert set(METRIC_KEYS) <= set(saved) and saved == records[variant]
        assert (saved["stage"], saved["source_stage"], saved["variant"], saved["method"], saved["seed"]) == \
            ("quantize", "prune", variant, "l1_structured", 3)
        assert saved["file_bytes"] == (out / variant / "model.onnx").stat().st_size
        assert {key: saved[key] for key in sizes} == sizes  # the checkpoint's, read from its metrics.json
        for key in ("gzip_bytes", "latency_ms_b1", "latency_iqr_ms_b1", "latency_ms_b64"):
            assert saved[key] > 0, key
        assert 0.0 <= saved["agreement_fp32"] <= 1.0 and saved["n_test"] == 12
    assert records["fp32"]["agreement_fp32"] == 1.0


def qdq_facts(path):
    """(op types, {node name: node}, names of tensors produced by DequantizeLinear, float initializer names)."""
    graph = onnx.load(str(path)).graph
    nodes = {n.name: n for n in graph.node}
    dq_out = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    floats = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    return {n.op_type for n in graph.node}, nodes, dq_out, floats


def test_static_qdq_is_per_channel_with_the_classifier_in_fp32(exported, tmp_path):
    model, shape, fp32, _, X = exported
    head = classifier_nodes(onnx.load(str(fp32)))
    assert head == ["/classifier/Gemm" if hasattr(model, "classifier") else "/head/Gemm"]
    static = quantize_static_int8(fp32, tmp_path / "int8_static" / "model.onnx", X[:150])
    ops, nodes, dq_out, floats = qdq_facts(static)
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    gemm = nodes[head[0]]
    assert gemm.op_type == "Gemm" and gemm.input[1] in floats and gemm.input[1] not in dq_out  # fp32 weights
    others = [n for n in nodes.values() if n.op_type in ("Conv", "MatMul") and n.name not in head]
    assert others and all(n.input[1] in dq_out for n in others if n.op_type == "Conv")  # int8 weights, dequantized
    graph = onnx.load(str(static)).graph
    weight_scales = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer if i.name.endswith("_scale")}
    assert any(v.size > 1 for v in weight_scales.values())  # per-channel scales
    logits, ref = OnnxModel(static).logits(X[150:]), OnnxModel(fp32).logits(X[150:])
    assert np.abs(logits - ref).max() < 0.15 * np.abs(ref).max()  # unclipped logits (§7.3: 31 % with the head in int8)


def test_classifier_nodes_needs_a_linear_output(tmp_path):
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"], name="r")], "relu_only", [x], [y])
    with pytest.raises(ValueError, match="relu_only: no Gemm/MatMul/Conv node produces the output 'y'"):
        classifier_nodes(onnx.helper.make_model(graph))
    with pytest.raises(ValueError, match="calibration windows"):
        quantize_static_int8(tmp_path / "any.onnx", tmp_path / "out.onnx", np.zeros((0, 2, 8), np.float32))


def test_fp16_halves_the_file_and_agrees(exported, tmp_path):
    _, _, fp32, _, X = exported
    fp16 = convert_fp16(fp32, tmp_path / "fp16" / "model.onnx")
    graph = onnx.load(str(fp16)).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fp32 in and out
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in graph.initializer)
    assert file_stats(fp16)["file_bytes"] < 0.6 * file_stats(fp32)["file_bytes"]
    assert np.mean(predict_onnx(fp16, X, 64) == predict_onnx(fp32, X, 64)) >= 0.95


EEGMAT_CH = ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5", "T6", "P3", "P4", "O1", "O2",
             "Fz", "Cz", "Pz"]  # fmt: skip


def eegmat_windows(shared_data, path, subjects=4, seconds=60, window_s=2):
    """windows.h5 of real EEGMAT EEG (rest vs arithmetic), 19 ch × 1000 samples (500 Hz), 0.5–45 Hz, in 0.1 mV."""
    from eegslim.io import read_raw
    from eegslim.store import WindowWriter

    n = 500 * window_s
    with WindowWriter(path, EEGMAT_CH, 500.0, ["rest", "arithmetic"], "eegmat", {}) as writer:
        for s in range(subjects):
            for label in (0, 1):
                raw = read_raw(shared_data / "eegmat" / f"Subject{s:02d}_{label + 1}.edf")
                raw.pick(EEGMAT_CH).crop(0, seconds, include_tmax=False)
                raw.filter(0.5, 45.0, verbose="error")
                x = (raw.get_data() * 1e4).astype(np.float32)
                X = x[:, : x.shape[1] // n * n].reshape(len(EEGMAT_CH), -1, n).transpose(1, 0, 2)
                writer.append(X, np.full(len(X), label), subject=f"{s:02d}", session="1", recording=f"{s}_{label}")


@pytest.mark.parametrize("kind", ["eegnet", "labram"])
def test_quantize_stage_on_real_eegmat_windows(shared_data, tmp_path, kind):
    """Every variant on real-shaped, real EEG: static QDQ calibrated on all training windows (fewer than 500
    here), agreement_fp32 recomputed from the written models on the test split."""
    from eegslim.atomic import write_json
    from eegslim.metrics import metrics_record
    from eegslim.models.checkpoint import save_checkpoint
    from eegslim.splits import save_split, subject_split
    from eegslim.stages import quantize as stage
    from eegslim.store import load_windows

    eegmat_windows(shared_data, tmp_path / "windows.h5")
    windows = load_windows(tmp_path / "windows.h5")
    split = subject_split(windows.subject, windows.y, 0.25, 0.25, seed=0)
    save_split(split, tmp_path / "splits.json")
    arch = arch_for(kind, {"size": "tiny", "init_scale": 1.0} if kind == "labram" else {}, 19, 1000, 2, 500,
                    EEGMAT_CH)
    torch.manual_seed(0)
    save_checkpoint(build_model(arch), arch, tmp_path / "baseline")
    write_json(tmp_path / "baseline" / "metrics.json",
               metrics_record(dataset="eegmat", model=kind, stage="baseline", seed=0))
    variants = ["fp32", "int8_dynamic", "int8_static", "fp16"]
    records = stage.run(tmp_path / "baseline", tmp_path / "windows.h5", tmp_path / "splits.json", tmp_path / "onnx",
                        variants, {"latency_repeats": 3, "warmup": 1, "latency_b64": False})
    test = np.sort(split["test"])
    X = windows.X[test]
    reference = predict_onnx(tmp_path / "onnx" / "fp32" / "model.onnx", X)
    assert records["int8_static"]["calibration_windows"] == len(split["train"]) < 500
    for variant in variants:
        mine = predict_onnx(tmp_path / "onnx" / variant / "model.onnx", X)
        assert records[variant]["agreement_fp32"] == pytest.approx(np.mean(mine == reference))
        assert records[variant]["n_test"] == len(test) and records[variant]["latency_iqr_ms_b1"] >= 0
    assert records["int8_static"]["agreement_fp32"] >= 0.8 and records["fp16"]["agreement_fp32"] >= 0.95
    sizes = {v: records[v]["file_bytes"] for v in variants}
    assert sizes["fp16"] < sizes["fp32"]
    # int8_dynamic quantizes the transformer's MatMuls (most of its weights); EEGNet keeps its convolutions in
    # fp32, and its one int8 classifier saves fewer bytes than the quantization nodes add
    assert (sizes["int8_dynamic"] < 0.5 * sizes["fp32"]) if kind == "labram" else \
        (sizes["int8_dynamic"] < 1.2 * sizes["fp32"])


def test_calibration_rows_take_500_training_windows_or_all():
    from eegslim.stages.quantize import calibration_rows

    train = np.arange(10, 2010)
    rows = calibration_rows(train, 500)
    assert len(rows) == 500 == len(set(rows)) and set(rows) <= set(train) and np.all(np.diff(rows) > 0)
    assert np.array_equal(calibration_rows(train, 500), rows)  # fixed draw
    assert np.array_equal(calibration_rows([7, 3, 5], 500), [3, 5, 7])
    with pytest.raises(ValueError, match="no training windows"):
        calibration_rows([], 500)
