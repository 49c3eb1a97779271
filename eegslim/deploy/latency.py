"""Running ONNX models on the onnxruntime CPU provider: predictions and latency."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort


def make_session(path: str | Path, threads: int = 1) -> ort.InferenceSession:
    """A CPUExecutionProvider session with `threads` intra-op threads, one inter-op thread, all graph optimisations."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class OnnxModel:
    """An ONNX classifier: input (B, C, T) float32 → logits (B, n_classes)."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.path = Path(path)
        self.session = make_session(path, threads)
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits (n, n_classes) of X (n, C, T), computed in batches."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        out = [self.session.run(None, {self.input_name: X[i:i + batch_size]})[0]
               for i in range(0, len(X), batch_size)]
        return np.concatenate(out)

    def predict(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Predicted class ids (n,) int64."""
        return self.logits(X, batch_size).argmax(axis=1).astype(np.int64)


def predict_onnx(path: str | Path, X: np.ndarray, batch_size: int = 256, threads: int = 1) -> np.ndarray:
    """Class ids (n,) of X (n, C, T) predicted by the ONNX model at `path`."""
    return OnnxModel(path, threads).predict(X, batch_size)


def _summary(times_s: list[float]) -> dict[str, float]:
    q25, q50, q75 = np.percentile(np.asarray(times_s) * 1e3, [25, 50, 75])
    return {"median": float(q50), "iqr": float(q75 - q25)}


def latency_interleaved(paths: Mapping[str, str | Path], batch: int, n_chans: int, n_times: int,
                        threads: int = 1, repeats: int = 30, warmup: int = 5, seed: int = 0) -> dict[str, dict]:
    """Wall-clock latency (ms) of one `session.run` on a (batch, n_chans, n_times) N(0,1) input, per model.

    Repeats are interleaved across the models (round r runs each model once), so drift of the machine
    affects all alike. Returns {name: {"median": ms, "iqr": ms}}.
    """
    x = np.random.default_rng(seed).standard_normal((batch, n_chans, n_times), dtype=np.float32)
    models = {name: OnnxModel(path, threads) for name, path in paths.items()}
    feeds = {name: {m.input_name: x} for name, m in models.items()}
    for _ in range(warmup):
        for name, m in models.items():
            m.session.run(None, feeds[name])
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, m in models.items():
            t0 = time.perf_counter()
            m.session.run(None, feeds[name])
            times[name].append(time.perf_counter() - t0)
    return {name: _summary(t) for name, t in times.items()}


def latency_ms(path: str | Path, batch: int, n_chans: int, n_times: int,
               threads: int = 1, repeats: int = 30, warmup: int = 5) -> dict[str, float]:
    """Latency (ms) of one model: {"median": ms, "iqr": ms} over `repeats` runs after `warmup` runs."""
    return latency_interleaved({"m": path}, batch, n_chans, n_times, threads, repeats, warmup)["m"]


def cpu_flags() -> list[str]:
    """The int8-relevant x86 flags of this CPU (from /proc/cpuinfo); [] where unknown."""
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni")
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return [f for f in wanted if f in have]
    return []
