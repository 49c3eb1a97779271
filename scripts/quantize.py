"""Snakemake `quantize`: ONNX export and onnxruntime int8 variants of one trained model."""

import json
from pathlib import Path

from eegslim.logs import start_rule
from eegslim.stages import quantize

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
quantize.run(
    model_dir=Path(snakemake.input.weights).parent,
    windows_h5=snakemake.input.h5,
    split_json=snakemake.input.split,
    out_root=Path(snakemake.input.weights).parent / "onnx",
    variants=list(snakemake.params.variants),
    quantize_cfg=json.loads(snakemake.params.settings),
)
