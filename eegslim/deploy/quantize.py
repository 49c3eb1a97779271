"""Post-training int8 quantization of an fp32 ONNX model with onnxruntime."""

from __future__ import annotations

import logging
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

from eegslim.atomic import atomic_path

log = logging.getLogger(__name__)


def quantize_dynamic_int8(fp32_path: str | Path, out_path: str | Path) -> Path:
    """Dynamic int8: weights stored as QInt8 (per tensor), activations quantized at run time.

    onnxruntime 1.32 turns Conv into ConvInteger and MatMul and Gemm into MatMulInteger. `quant_pre_process`
    is not run: on EEGNet it changed neither predictions nor latency and made the file ~300 bytes larger
    (the torch exporter already folds BatchNorm into Conv in eval mode).
    """
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        quantize_dynamic(Path(fp32_path), tmp, weight_type=QuantType.QInt8, per_channel=False, reduce_range=False)
    log.info("int8 dynamic %s (%d bytes)", out_path, out_path.stat().st_size)
    return out_path


# Variant name → function(fp32_path, out_path). `fp32` is the exported model itself.
QUANTIZERS = {"int8_dynamic": quantize_dynamic_int8}
