"""Deployment: ONNX export (`onnx_export`), onnxruntime int8/fp16 conversion (`quantize`), latency (`latency`)
and size measurements (`size`). Import from the submodules: `size` alone does not load onnx or onnxruntime, so
the training and pruning stages, which only measure sizes, start about a second faster."""
