"""Snakemake `split`: subject-wise train/val/test split of one dataset's windows."""

import json

from eegslim.logs import start_rule
from eegslim.stages import split

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
split.run(snakemake.input.h5, snakemake.output[0], **json.loads(snakemake.params.settings))
