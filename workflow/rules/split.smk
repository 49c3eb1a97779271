# `split` writes the one split file of the subject and official protocols; `split_fold` one file per fold of a
# k-fold (split.protocol kfold: subject-wise; segment_kfold: windows pooled, leaky), which every run of that fold
# trains on.


rule split:
    input:
        h5="results/{ds}/windows.h5",
    output:
        "results/{ds}/splits.json",
    params:
        settings=lambda wc: flat(split_rule_settings(wc.ds)),
    log:
        "logs/split/{ds}.log",
    benchmark:
        "logs/benchmarks/split/{ds}.tsv"
    priority: 40  # seconds long, and every chain waits on it (priorities do not pass upstream)
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../../scripts/split.py"


rule split_fold:
    input:
        h5="results/{ds}/windows.h5",
    output:
        "results/{ds}/splits/fold{fold}.json",
    params:
        settings=lambda wc: flat(split_rule_settings(wc.ds)),
    log:
        "logs/split/{ds}/fold{fold}.log",
    benchmark:
        "logs/benchmarks/split/{ds}/fold{fold}.tsv"
    priority: 40  # seconds long, and every chain waits on it (priorities do not pass upstream)
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../../scripts/split.py"
