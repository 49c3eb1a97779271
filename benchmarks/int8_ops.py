"""Which operators should dynamic int8 quantize? Size and batch-1 latency of a transformer and EEGNet, side by side.

For each model (LaBraM tiny and base on EEGMAT's shape, 19 channels x 4 s at 200 Hz; EEGNet-8,2 on the same
shape), random weights (size and latency do not depend on their values), this script prunes a copy with
`l1_filter` at `--ratio`, exports both to fp32 ONNX and writes four int8 versions of the pruned one:

- `dyn_all`: onnxruntime's `quantize_dynamic` on every op type it supports (Conv -> ConvInteger, MatMul ->
  MatMulInteger),
- `dyn_matmul`: `quantize_dynamic` on MatMul only (Conv stays fp32),
- `static`: `quantize_static`, QDQ, per-channel (eegslim's int8_static, calibrated on N(0,1) windows here),
- `static_qop`: the same in the QOperator format (QLinearConv, QLinearMatMul), classifier fp32 as well.

Latency: one intra-op thread, batch 1, the repeats of every file interleaved (eegslim.deploy.latency), so machine
drift hits all alike. Then an onnxruntime profile of `dyn_all` and `dyn_matmul` splits their time by operator type.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/int8_ops.py --workdir /tmp/int8_ops
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic

from eegslim.deploy.latency import latency_interleaved
from eegslim.deploy.onnx_export import export_onnx
from eegslim.deploy.quantize import quantize_static_int8
from eegslim.models import arch_for, build_model, count_params
from eegslim.prune import prune_model

CHANNELS = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5", "P3", "Pz", "P4", "T6",
            "O1", "O2"]  # EEGMAT's 19
SFREQ, WINDOW_S = 200.0, 4
MODELS = {"labram tiny": ("labram", {"size": "tiny"}), "labram base": ("labram", {"size": "base"}),
          "eegnet": ("eegnet", {"F1": 8, "D": 2, "F2": 16})}


def op_profile(path: Path, x: np.ndarray, runs: int = 200) -> dict[str, float]:
    """Microseconds per run spent in each operator type (onnxruntime's node events), largest first."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    opts.enable_profiling = True
    opts.profile_file_prefix = str(path.with_suffix(""))
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    for _ in range(runs):
        session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    totals: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            totals[e["args"]["op_name"]] += e["dur"] / runs
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def measure(label: str, name: str, cfg: dict, ratio: float, workdir: Path, repeats: int) -> dict:
    n_times = int(SFREQ * WINDOW_S)
    arch = arch_for(name, cfg, len(CHANNELS), n_times, 2, SFREQ, CHANNELS)
    torch.manual_seed(0)
    base = build_model(arch)
    pruned = prune_model(build_model(arch).eval(), arch, "l1_filter", ratio).model
    out = workdir / label.replace(" ", "_")
    out.mkdir(parents=True, exist_ok=True)
    files = {"baseline fp32": export_onnx(base, len(CHANNELS), n_times, out / "base_fp32.onnx"),
             "pruned fp32": export_onnx(pruned, len(CHANNELS), n_times, out / "pruned_fp32.onnx")}
    fp32 = files["pruned fp32"]
    for key, op_types in (("dyn_all", None), ("dyn_matmul", ["MatMul"])):
        quantize_dynamic(fp32, out / f"{key}.onnx", weight_type=QuantType.QInt8, op_types_to_quantize=op_types)
        files[key] = out / f"{key}.onnx"
    calibration = np.random.default_rng(0).standard_normal((64, len(CHANNELS), n_times), dtype=np.float32)
    files["static"] = quantize_static_int8(fp32, out / "static.onnx", calibration)
    files["static_qop"] = quantize_static_int8(fp32, out / "static_qop.onnx", calibration, QuantFormat.QOperator)
    latency = latency_interleaved(files, 1, len(CHANNELS), n_times, repeats=repeats, warmup=20)
    x = np.random.default_rng(1).standard_normal((1, len(CHANNELS), n_times), dtype=np.float32)
    base_ms, base_bytes = latency["baseline fp32"]["median"], files["baseline fp32"].stat().st_size
    rows = {k: {"bytes": Path(p).stat().st_size, "ms_b1": latency[k]["median"], "iqr_ms_b1": latency[k]["iqr"],
                "file_reduction": base_bytes / Path(p).stat().st_size, "b1_speedup": base_ms / latency[k]["median"]}
            for k, p in files.items()}
    return {"params": count_params(base), "params_pruned": count_params(pruned), "variants": rows,
            "profile": {k: op_profile(Path(files[k]), x) for k in ("pruned fp32", "dyn_all", "dyn_matmul")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--ratio", type=float, default=0.9)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    results = {}
    for label in args.models:
        name, cfg = MODELS[label]
        r = results[label] = measure(label, name, cfg, args.ratio, args.workdir, args.repeats)
        print(f"\n{label}: {r['params']:,} params, pruned {r['params_pruned']:,} "
              f"({r['params'] / r['params_pruned']:.2f}x fewer)")
        print(f"{'file':15s} {'bytes':>10s} {'file ↓':>7s} {'b1 ms':>8s} {'IQR':>7s} {'b1 speed-up':>11s}")
        for k, v in r["variants"].items():
            print(f"{k:15s} {v['bytes']:10,d} {v['file_reduction']:6.2f}x {v['ms_b1']:8.3f} {v['iqr_ms_b1']:7.3f} "
                  f"{v['b1_speedup']:10.2f}x")
        for k, ops in r["profile"].items():
            total = sum(ops.values())
            top = ", ".join(f"{op} {us:.0f}" for op, us in list(ops.items())[:6])
            print(f"profile {k}: {total:.0f} µs in kernels per run; {top}")
    (args.workdir / "int8_ops.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
