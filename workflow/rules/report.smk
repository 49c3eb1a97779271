rule report:
    input:
        metrics=all_metrics(),
        predictions=all_predictions(),
        summaries=expand("results/{ds}/summary.json", ds=DATASETS),
        splits=[f for ds in DATASETS for f in split_files(ds)],
        sensitivity=sensitivity_files(),
        pretrain=pretrain_histories(),
    output:
        html="results/report.html",
        # results, datasets, summary_{ds}, variants, selection, finetune_vs_scratch, headline, protocols (.csv):
        # one directory, so that the output set does not change with the datasets (a new output without provenance
        # would stop a new dataset from rerunning the report)
        tables=directory("results/tables"),
    params:
        datasets=DATASETS,
        split_files=flat(report_split_files()),
        settings=flat(config["report"]),
        models=flat(model_labels()),
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV
    script:
        "../../scripts/report.py"
