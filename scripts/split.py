"""Snakemake `split`: subject-wise train/val/test split of one dataset's windows."""

from eegslim.logs import start_rule
from eegslim.stages import split

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
split.run(
    snakemake.input.h5,
    snakemake.output[0],
    val_fraction=snakemake.params.val_fraction,
    test_fraction=snakemake.params.test_fraction,
    seed=snakemake.params.seed,
)
