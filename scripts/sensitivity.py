"""Snakemake `sensitivity`: per-layer pruning sensitivity of one model's baselines on one dataset."""

import json
from pathlib import Path

import torch

from eegslim.logs import start_rule
from eegslim.stages import sensitivity

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
torch.set_num_threads(snakemake.threads)
sensitivity.run(
    dataset=snakemake.wildcards.ds,
    model=snakemake.wildcards.model,
    baseline_dirs=[Path(w).parent for w in snakemake.input.weights],
    runs=list(snakemake.params.runs),
    windows_h5=snakemake.input.h5,
    split_jsons=list(snakemake.input.splits),
    out_json=snakemake.output.json,
    out_csv=snakemake.output.csv,
    settings=json.loads(snakemake.params.settings),
)
