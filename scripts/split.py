"""Snakemake `split` and `split_fold`: the train/val/test split of one dataset's windows (of one k-fold fold)."""

import json

from eegslim.logs import start_rule
from eegslim.stages import split

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
fold = snakemake.wildcards.get("fold")
split.run(snakemake.input.h5, snakemake.output[0], **json.loads(snakemake.params.settings),
          fold=None if fold is None else int(fold))
