"""Snakemake `classical`: fit the classical reference model (bandpower_lr) of one run and score its test windows."""

import json
from pathlib import Path

from eegslim.logs import start_rule
from eegslim.runs import parse_run
from eegslim.stages import classical

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
classical.run(
    dataset=snakemake.wildcards.ds,
    model=snakemake.wildcards.model,
    windows_h5=snakemake.input.h5,
    split_json=snakemake.input.split,
    out_dir=Path(snakemake.output.metrics).parent,
    settings=json.loads(snakemake.params.settings),
    seed=parse_run(snakemake.wildcards.run)[1],  # the fold is in the split file
)
