"""Snakemake `preprocess`: raw recordings of one dataset -> windows.h5 + summary.json."""

import json

from eegslim.logs import start_rule
from eegslim.stages import preprocess

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
preprocess.run(
    snakemake.wildcards.ds,
    json.loads(snakemake.params.cfg),
    snakemake.output.h5,
    snakemake.output.summary,
)
