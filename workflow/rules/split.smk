rule split:
    input:
        h5="results/{ds}/windows.h5",
    output:
        "results/{ds}/splits.json",
    params:
        settings=lambda wc: flat(split_settings(wc.ds)),
    log:
        "logs/split/{ds}.log",
    benchmark:
        "logs/benchmarks/split/{ds}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../../scripts/split.py"
