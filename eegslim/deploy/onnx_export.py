"""Export a torch classifier to ONNX (opset 17, TorchScript exporter, dynamic batch axis)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from eegslim.atomic import atomic_path

log = logging.getLogger(__name__)

OPSET = 17
INPUT_NAME = "x"
OUTPUT_NAME = "logits"


def export_onnx(model: nn.Module, n_chans: int, n_times: int, path: str | Path) -> Path:
    """Write `model` (input (B, n_chans, n_times) float32 → logits (B, n_classes)) to `path` as ONNX.

    The model is put in eval mode; the batch axis is dynamic. The file is checked with onnx.checker.
    """
    path = Path(path)
    model.eval()
    example = torch.zeros(1, n_chans, n_times, dtype=torch.float32)
    with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
        # Shape checks in forward() are traced as constants (the batch axis stays dynamic); the TorchScript
        # exporter is chosen on purpose (models.md §7.1), so its deprecation notice is silenced too.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, (example,), str(tmp),
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET, dynamo=False, do_constant_folding=True,
        )
        onnx.checker.check_model(str(tmp))
    log.info("exported %s (%d bytes)", path, path.stat().st_size)
    return path
