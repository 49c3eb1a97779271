"""Snakemake `train` (EEGNet) and `finetune` (transformer): fit one baseline model."""

import json
from pathlib import Path

import torch

from eegslim.logs import start_rule
from eegslim.runs import parse_run
from eegslim.stages import train

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
torch.set_num_threads(snakemake.threads)
train.run(
    dataset=snakemake.wildcards.ds,
    model=snakemake.params.model,
    windows_h5=snakemake.input.h5,
    split_json=snakemake.input.split,
    out_dir=Path(snakemake.output.metrics).parent,
    model_cfg=json.loads(snakemake.params.model_cfg),
    train_cfg=json.loads(snakemake.params.train_cfg),
    seed=parse_run(snakemake.wildcards.run)[1],  # the fold is in the split file
    pretrained=snakemake.input.get("pretrained"),
)
