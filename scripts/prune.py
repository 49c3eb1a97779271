"""Snakemake `prune`: prune one baseline model by one method and ratio, then recover it."""

import json
from pathlib import Path

import torch

from eegslim.logs import start_rule
from eegslim.runs import parse_run
from eegslim.stages import prune

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
torch.set_num_threads(snakemake.threads)
wc = snakemake.wildcards
prune.run(
    dataset=wc.ds,
    model=wc.model,
    baseline_dir=Path(snakemake.input.weights).parent,
    windows_h5=snakemake.input.h5,
    split_json=snakemake.input.split,
    out_dir=Path(snakemake.output.metrics).parent,
    method=wc.method,
    ratio=float(wc.ratio),
    recovery=wc.recovery,
    prune_cfg=json.loads(snakemake.params.settings),
    seed=parse_run(wc.run)[1],  # the fold is in the split file
)
