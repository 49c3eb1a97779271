# eegslim: how small and fast can an EEG classifier get before it loses accuracy?
#   snakemake --cores 8 results/report.html                  # the embedded demo (config.yaml)
#   make run CONFIG=my_config.yaml                           # your own configuration (README, "Your own data")
#   snakemake --profile profiles/slurm results/report.html   # the same DAG on a SLURM cluster
from snakemake.utils import min_version

min_version("9.1")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/classical.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/quantize.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report.html",
        every_output(),
