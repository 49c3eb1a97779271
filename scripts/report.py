"""Snakemake `report`: aggregate every metrics.json into results/report.html and CSV tables."""

import json

from eegslim.logs import start_rule
from eegslim.stages import report

start_rule(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
split_files = json.loads(snakemake.params.split_files)  # dataset -> splits.json, or its k-fold fold files
report.run(
    metrics_files=list(snakemake.input.metrics),
    dataset_files={
        ds: {"summary": summary, "split": split_files[ds]}
        for ds, summary in zip(snakemake.params.datasets, snakemake.input.summaries, strict=True)
    },
    out_html=snakemake.output.html,
    tables_dir=snakemake.output.tables,
    report_cfg=json.loads(snakemake.params.settings),
    sensitivity_files=list(snakemake.input.sensitivity),
    pretrain_histories=list(snakemake.input.pretrain),
    model_labels=json.loads(snakemake.params.models),
)
