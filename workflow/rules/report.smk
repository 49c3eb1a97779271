rule report:
    input:
        metrics=all_metrics(),
        summaries=expand("results/{ds}/summary.json", ds=DATASETS),
        splits=expand("results/{ds}/splits.json", ds=DATASETS),
        sensitivity=sensitivity_files(),
        pretrain=pretrain_histories(),
    output:
        html="results/report.html",
        results="results/tables/results.csv",
        datasets="results/tables/datasets.csv",
        summaries=expand("results/tables/summary_{ds}.csv", ds=DATASETS),
        variants="results/tables/variants.csv",
        selection="results/tables/selection.csv",
        finetune_vs_scratch="results/tables/finetune_vs_scratch.csv",
    params:
        datasets=DATASETS,
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
