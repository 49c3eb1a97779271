rule preprocess:
    input:
        raw_input,
    output:
        h5="results/{ds}/windows.h5",
        summary="results/{ds}/summary.json",
    params:
        cfg=lambda wc: flat(dataset_settings(wc.ds)),
    log:
        "logs/preprocess/{ds}.log",
    benchmark:
        "logs/benchmarks/preprocess/{ds}.tsv"
    priority: 40  # seconds long, and every chain waits on it (priorities do not pass upstream)
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV
    script:
        "../../scripts/preprocess.py"
