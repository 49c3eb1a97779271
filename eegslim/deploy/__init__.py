"""Deployment: ONNX export, onnxruntime int8 quantization, latency and size measurements."""

from eegslim.deploy.latency import OnnxModel, cpu_flags, latency_interleaved, latency_ms, make_session, predict_onnx
from eegslim.deploy.onnx_export import export_onnx
from eegslim.deploy.quantize import (CALIBRATED, MIN_CALIBRATION, QUANTIZERS, classifier_nodes, convert_fp16,
                                     quantize_dynamic_int8, quantize_static_int8)
from eegslim.deploy.size import count_macs, file_stats, size_stats

__all__ = [
    "CALIBRATED", "MIN_CALIBRATION", "OnnxModel", "QUANTIZERS", "classifier_nodes", "convert_fp16", "count_macs",
    "cpu_flags", "export_onnx", "file_stats", "latency_interleaved", "latency_ms", "make_session", "predict_onnx",
    "quantize_dynamic_int8", "quantize_static_int8", "size_stats",
]
