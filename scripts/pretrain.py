"""Snakemake `pretrain`: masked EEG modelling of one transformer size on pooled train windows."""

import json
from pathlib import Path

import torch

from eegslim.logs import start_rule
from eegslim.stages import pretrain

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
torch.set_num_threads(snakemake.threads)
files = zip(snakemake.params.datasets, snakemake.input.h5, snakemake.input.split, strict=True)
pretrain.run(
    datasets={ds: {"windows": h5, "split": split} for ds, h5, split in files},
    out_dir=Path(snakemake.output.weights).parent,
    size=snakemake.wildcards.size,
    model_cfg=json.loads(snakemake.params.model_cfg),
    pretrain_cfg=json.loads(snakemake.params.settings),
    seed=int(snakemake.params.seed),
    channels=json.loads(snakemake.params.channels),
)
