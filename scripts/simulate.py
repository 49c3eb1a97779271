"""Snakemake `simulate`: write a synthetic demo dataset in a real on-disk format."""

import json
from pathlib import Path

from eegslim.logs import start_rule
from eegslim.stages import simulate

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
simulate.run(
    snakemake.params.kind,
    Path(snakemake.output[0]).parent,
    n_subjects=snakemake.params.n_subjects,
    seed=snakemake.params.seed,
    **json.loads(snakemake.params.extra),
)
