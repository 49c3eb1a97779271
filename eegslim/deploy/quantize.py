"""Post-training variants of an fp32 ONNX model with onnxruntime: dynamic int8, static int8 QDQ, fp16."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quant_pre_process, quantize_dynamic, quantize_static)
from onnxruntime.transformers.float16 import convert_float_to_float16

from eegslim.atomic import atomic_path

log = logging.getLogger(__name__)

HEAD_OPS = ("Gemm", "MatMul", "Conv")
MIN_CALIBRATION = 500  # windows (all of them when the training split has fewer)


DYNAMIC_OPS = ["MatMul"]  # what int8_dynamic quantizes (benchmarks/int8_ops.py: why not Conv)


def quantize_dynamic_int8(fp32_path: str | Path, out_path: str | Path) -> Path:
    """Dynamic int8: MatMul weights stored as QInt8 (per tensor), their inputs quantized at run time.

    Conv stays fp32: onnxruntime's ConvInteger (what quantize_dynamic makes of a Conv) needs the whole conv input
    quantized at run time and runs slower than the fp32 Conv: a pruned tiny transformer ran batch 1 1.9x faster
    than its unpruned fp32 baseline with ConvInteger, 2.9x without, and EEGNet 2.3x slower than fp32, all for a
    few hundred bytes of conv weights (BENCHMARKS.md, "Which operators int8_dynamic quantizes"); onnxruntime
    recommends dynamic quantization for transformers and static for CNNs. onnxruntime 1.32 quantizes a Gemm (a
    Linear on 2-D input, e.g. both classifiers) with the MatMuls, as a MatMulInteger on its transposed weight, so
    EEGNet's int8_dynamic is its fp32 convolutions and an int8 classifier.
    `quant_pre_process` is not run: on EEGNet it changed neither predictions nor latency and made the file
    ~300 bytes larger (the torch exporter already folds BatchNorm into Conv).
    """
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        quantize_dynamic(Path(fp32_path), tmp, weight_type=QuantType.QInt8, per_channel=False, reduce_range=False,
                         op_types_to_quantize=DYNAMIC_OPS)
    log.info("int8 dynamic %s (%d bytes)", out_path, out_path.stat().st_size)
    return out_path


def classifier_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the node that computes the logits: the first Gemm/MatMul/Conv met walking back from the output.

    Raises ValueError when the output is not reached from such a node (nothing to keep in fp32).
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    weights = {init.name for init in model.graph.initializer}
    name = model.graph.output[0].name
    while name in producers:
        node = producers[name]
        if node.op_type in HEAD_OPS:
            return [node.name]
        activations = [i for i in node.input if i and i not in weights]
        if not activations:
            break
        name = activations[0]
    raise ValueError(f"{model.graph.name}: no Gemm/MatMul/Conv node produces the output {model.graph.output[0].name!r}")


class WindowReader(CalibrationDataReader):
    """Feeds calibration windows X (n, C, T) float32 to onnxruntime's calibrator in batches."""

    def __init__(self, input_name: str, X: np.ndarray, batch_size: int = 32):
        self.input_name, self.batch_size, self.start = input_name, batch_size, 0
        self.X = np.ascontiguousarray(X, np.float32)

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.start >= len(self.X):
            return None
        batch = self.X[self.start:self.start + self.batch_size]
        self.start += self.batch_size
        return {self.input_name: batch}

    def rewind(self) -> None:
        self.start = 0


def quantize_static_int8(fp32_path: str | Path, out_path: str | Path, calibration: np.ndarray,
                         quant_format: QuantFormat = QuantFormat.QDQ) -> Path:
    """Static int8 (QDQ, or `quant_format`): per-channel QInt8 weights, QUInt8 activations, MinMax ranges from
    `calibration`.

    calibration: training windows (n, C, T) float32, n ≥ 1 (the stage passes ≥ 500 or the whole training split).
    The model is first run through `quant_pre_process` (shape inference, graph optimisation). The classifier
    (`classifier_nodes`) stays fp32 through `nodes_to_exclude`: a calibrated range on its output clips the logits
    (models.md §7.3). reduce_range is off, as onnxruntime advises for VNNI CPUs (the project's machines have it).
    """
    out_path = Path(out_path)
    calibration = np.asarray(calibration, dtype=np.float32)
    if calibration.ndim != 3 or len(calibration) == 0:
        raise ValueError(f"{fp32_path}: static quantization needs calibration windows (n, C, T), "
                         f"got {calibration.shape}")
    with tempfile.TemporaryDirectory() as tmp_dir, atomic_path(out_path) as tmp:
        pre = Path(tmp_dir) / "pre.onnx"
        quant_pre_process(Path(fp32_path), pre)
        model = onnx.load(str(pre))
        head = classifier_nodes(model)
        quantize_static(pre, tmp, WindowReader(model.graph.input[0].name, calibration),
                        quant_format=quant_format, per_channel=True, reduce_range=False,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=head)
    log.info("int8 static QDQ %s (%d bytes, %d calibration windows, fp32 %s)", out_path, out_path.stat().st_size,
             len(calibration), head)
    return out_path


def convert_fp16(fp32_path: str | Path, out_path: str | Path) -> Path:
    """fp16 weights and activations, fp32 input and output (onnxruntime's float16 converter, keep_io_types)."""
    out_path = Path(out_path)
    model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    with atomic_path(out_path) as tmp:
        onnx.save(model, str(tmp))
    log.info("fp16 %s (%d bytes)", out_path, out_path.stat().st_size)
    return out_path


# Variant name → function(fp32_path, out_path[, calibration]). `fp32` is the exported model itself.
QUANTIZERS = {"int8_dynamic": quantize_dynamic_int8, "int8_static": quantize_static_int8, "fp16": convert_fp16}
CALIBRATED = frozenset({"int8_static"})  # these take `calibration` (training windows)
